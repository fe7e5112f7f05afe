"""Inbound checks on port 25 end to end: posthornd with [dns] upstream at a
loopback dnsmasq holding SPF records and DNS list entries; clients from
127.0.0.x addresses. The stored message's Authentication-Results is read
back over IMAP; the per-message log line is checked too."""
import imaplib
import os
import re
import shutil
import smtplib
import socket
import subprocess
import threading
import time

import pytest

from conftest import Posthornd

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
USER, PASSWORD = "demo@localhost", "demo"


def free_port(kind=socket.SOCK_STREAM):
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The records: allowed.test lets 127.0.0.1 send and nobody else (-all);
# soft.test ends in ~all; inc.test includes allowed.test; loop.test
# counts more than 10 DNS mechanisms. The DNS lists: 127.0.0.7 is listed
# in bl.test (answer 127.0.0.2, text "listed for testing"), 127.0.0.8 in
# both bl.test and wl.test (an allowlist with a negative weight).
DNS_RECORDS = [
    "--txt-record=allowed.test,v=spf1 ip4:127.0.0.1 -all",
    "--txt-record=soft.test,v=spf1 ip4:192.0.2.1 ~all",
    "--txt-record=inc.test,v=spf1 include:allowed.test -all",
    "--txt-record=twice.test,v=spf1 -all",
    "--txt-record=twice.test,v=spf1 +all",
    "--txt-record=loop.test,v=spf1 a:a1.test a:a2.test a:a3.test a:a4.test "
    "a:a5.test a:a6.test a:a7.test a:a8.test a:a9.test a:a10.test a:a11.test -all",
    "--txt-record=_spf.helo.test,v=spf1 ip4:127.0.0.0/8 -all",
    "--txt-record=helo.test,v=spf1 redirect=_spf.helo.test",
    "--host-record=7.0.0.127.bl.test,127.0.0.2",
    "--txt-record=7.0.0.127.bl.test,listed for testing",
    "--host-record=8.0.0.127.bl.test,127.0.0.2",
    "--txt-record=8.0.0.127.bl.test,listed too",
    "--host-record=8.0.0.127.wl.test,127.0.10.1",
    # a code the list's pattern filters out
    "--host-record=9.0.0.127.bl.test,127.0.0.200",
]


def dnsmasq(records):
    """dnsmasq on a loopback port answering for *.test from records (its
    command-line options); yields the port (a generator for fixtures)."""
    port = free_port(socket.SOCK_DGRAM)
    proc = subprocess.Popen(
        [DNSMASQ, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
         "--bind-interfaces", "--no-resolv", "--no-hosts", "-C", "/dev/null",
         "--pid-file=", "--user=", "--group=", "--log-facility=/dev/null",
         "--local=/test/"] + records,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    yield port
    proc.terminate()
    proc.wait()


@pytest.fixture(scope="module")
def dns():
    """dnsmasq with the zones above; yields its port."""
    yield from dnsmasq(DNS_RECORDS)


def checked_daemon(tmp_path, upstream, inbound="", name="data"):
    """A dev daemon with [dns] upstream and [inbound] keys appended (no
    greeting delay: the tests connect many times)."""
    d = Posthornd(tmp_path / name).start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write(f"\n[dns]\nupstream = {upstream}\n"
                 f"\n[inbound]\n{inbound}\n")
        if "check_timeout" not in inbound:
            fh.write("check_timeout = 3s\n")
    with open(d.config_path) as fh:
        conf = fh.read()
    with open(d.config_path, "w") as fh:
        fh.write(conf.replace("[smtp]\n", "[smtp]\ngreeting_delay = 0\n", 1)
                 if "[smtp]\n" in conf else conf + "\n[smtp]\ngreeting_delay = 0\n")
    return d.start()


AUTHSERV_ID = "mx.posthorn.test"
INBOUND = (f"authserv_id = {AUTHSERV_ID}\n"
           "dnsbl = bl.test=127.0.0.[2..11]*2 wl.test=127.0.10.1*-2\n")


@pytest.fixture
def daemon(tmp_path, dns):
    d = checked_daemon(tmp_path, f"127.0.0.1@{dns}", INBOUND)
    yield d
    status = d.stop()
    d.assert_clean()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"


def message(subject, extra=b""):
    return (b"From: Sender <someone@allowed.test>\r\nTo: demo@localhost\r\n"
            b"Subject: " + subject.encode() + b"\r\n" + extra +
            b"Message-ID: <" + subject.replace(" ", "-").encode() +
            b"@test>\r\n\r\nbody\r\n")


def send(d, sender, subject, source="127.0.0.1", helo="client.test", extra=b"",
         rcpt="demo@localhost"):
    """Send one message from source; returns (code, text) of the end of
    data, or of the refused RCPT."""
    with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=20,
                      source_address=(source, 0)) as s:
        s.ehlo(helo)
        code, text = s.mail(sender)
        assert code == 250, text
        code, text = s.rcpt(rcpt)
        if code != 250:
            return code, text.decode()
        code, text = s.data(message(subject, extra))
        return code, text.decode()


def imap_fetch(d, subject):
    """The header of the message with that subject, read over IMAP."""
    m = imaplib.IMAP4("127.0.0.1", d.port("imap"))
    try:
        m.login(USER, PASSWORD)
        m.select("INBOX")
        typ, data = m.search(None, "SUBJECT", f'"{subject}"')
        nums = data[0].split()
        assert nums, f"no message {subject!r}"
        typ, data = m.fetch(nums[-1], "(BODY.PEEK[HEADER])")
        return data[0][1]
    finally:
        m.logout()


def auth_results(header):
    """The Authentication-Results fields of a header, unfolded."""
    unfolded = re.sub(rb"\r\n[ \t]+", b" ", header)
    return [l.decode() for l in unfolded.split(b"\r\n")
            if l.lower().startswith(b"authentication-results:")]


def log_has(d, pattern, timeout=10):
    """Wait for the log to match (a session logs once it has closed)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if re.search(pattern, d.log()):
            return True
        time.sleep(0.05)
    return bool(re.search(pattern, d.log()))


def test_spf_pass_and_fail(daemon):
    assert send(daemon, "someone@allowed.test", "spf pass")[0] == 250
    ar = auth_results(imap_fetch(daemon, "spf pass"))
    assert len(ar) == 1, ar
    assert ar[0].startswith(f"Authentication-Results: {AUTHSERV_ID};")
    assert "spf=pass" in ar[0] and "smtp.mailfrom=someone@allowed.test" in ar[0]

    # The same domain from another address: -all says fail (accepted:
    # no reject policy by default).
    assert send(daemon, "someone@allowed.test", "spf fail",
                source="127.0.0.2")[0] == 250
    ar = auth_results(imap_fetch(daemon, "spf fail"))
    assert len(ar) == 1 and "spf=fail" in ar[0], ar
    assert log_has(daemon, r"from=<someone@allowed.test> .*result=queued "
                   r"checks: dnsbl=0 spf=fail .*action=accept")


def test_spf_results(daemon):
    cases = [
        ("a@soft.test", "127.0.0.1", "softfail"),
        ("a@inc.test", "127.0.0.1", "pass"),
        ("a@inc.test", "127.0.0.3", "fail"),
        ("a@twice.test", "127.0.0.1", "permerror"),
        ("a@loop.test", "127.0.0.1", "permerror"),
        ("a@nospf.test", "127.0.0.1", "none"),
    ]
    for i, (sender, source, want) in enumerate(cases):
        subject = f"case {i}"
        assert send(daemon, sender, subject, source=source)[0] == 250
        ar = auth_results(imap_fetch(daemon, subject))
        assert len(ar) == 1 and f"spf={want} " in ar[0], (sender, ar)
    # <>: the HELO identity (postmaster@helo), through a redirect.
    assert send(daemon, "", "null sender", helo="helo.test")[0] == 250
    ar = auth_results(imap_fetch(daemon, "null sender"))
    assert "spf=pass" in ar[0] and "smtp.helo=helo.test" in ar[0], ar


def test_forged_authentication_results_renamed(daemon):
    forged = (f"Authentication-Results: {AUTHSERV_ID}; spf=pass "
              "smtp.mailfrom=ceo@allowed.test\r\n"
              "Authentication-Results: other.example; dkim=pass\r\n").encode()
    assert send(daemon, "someone@soft.test", "forged ar", extra=forged)[0] == 250
    header = imap_fetch(daemon, "forged ar")
    ar = auth_results(header)
    # ours (softfail) and the other host's; the forged one is renamed
    assert len(ar) == 2, ar
    assert ar[0].startswith(f"Authentication-Results: {AUTHSERV_ID};")
    assert "spf=softfail" in ar[0]
    assert ar[1] == "Authentication-Results: other.example; dkim=pass"
    assert (f"X-Claimed-Auth-Results: {AUTHSERV_ID}; spf=pass".encode()
            in header)


def test_dnsbl_listed_refused_allowlisted_passes(daemon):
    code, text = send(daemon, "someone@allowed.test", "listed", source="127.0.0.7")
    assert code == 554, text
    assert text.startswith("5.7.1 ") and "bl.test: listed for testing" in text
    assert "[127.0.0.7]" in text
    assert log_has(daemon, r"client=127.0.0.7 .*result=closed checks: "
                   r"dnsbl=2\(bl.test\) spf=fail action=reject")
    # listed (2) and allowlisted (-2): 0, under the threshold
    assert send(daemon, "someone@allowed.test", "allowlisted",
                source="127.0.0.8")[0] == 250
    # an answer outside the list's pattern does not count
    assert send(daemon, "someone@allowed.test", "filtered",
                source="127.0.0.9")[0] == 250
    assert log_has(daemon, r"dnsbl=0\(bl.test,wl.test\) spf=fail .*action=accept")
    assert log_has(daemon, r"client=127.0.0.9 .*checks: dnsbl=0 spf=")


def test_dns_down_temperror_accepted(tmp_path):
    port = free_port(socket.SOCK_DGRAM)	# nobody answers there
    d = checked_daemon(tmp_path, f"127.0.0.1@{port}", INBOUND)
    try:
        start = time.monotonic()
        assert send(d, "someone@allowed.test", "dns down")[0] == 250
        assert time.monotonic() - start < 15
        ar = auth_results(imap_fetch(d, "dns down"))
        assert len(ar) == 1 and "spf=temperror" in ar[0], ar
    finally:
        d.stop()
        d.assert_clean()


def test_spf_reject_fail(tmp_path, dns):
    d = checked_daemon(tmp_path, f"127.0.0.1@{dns}", "spf_reject_fail = on\n")
    try:
        with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=20,
                          source_address=("127.0.0.2", 0)) as s:
            s.ehlo("client.test")
            s.mail("someone@allowed.test")
            # SPF may have answered before RCPT (refused there) or not
            # (refused at the end of data): either way 550 5.7.23
            code, text = s.rcpt("demo@localhost")
            if code == 250:
                code, text = s.data(message("rejected"))
            assert code == 550 and text.startswith(b"5.7.23"), (code, text)
        assert send(d, "someone@allowed.test", "not rejected")[0] == 250
    finally:
        d.stop()
        d.assert_clean()


def test_slow_dns_does_not_stall_other_sessions(tmp_path):
    """A resolver that never answers: a message waits at the end of data
    for its SPF lookups (up to check_timeout), while another session on
    the same daemon is answered at once."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    try:
        d = checked_daemon(tmp_path, f"127.0.0.1@{silent.getsockname()[1]}",
                           "check_timeout = 4s\n")
        try:
            result = {}

            def slow():
                result["reply"] = send(d, "someone@allowed.test", "slow dns")
                result["at"] = time.monotonic()

            t = threading.Thread(target=slow)
            start = time.monotonic()
            t.start()
            time.sleep(1)
            assert t.is_alive()		# held for its lookups
            with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=20) as s:
                code, _ = s.ehlo("other.test")
                assert code == 250
                answered = time.monotonic()
            assert t.is_alive(), "the first session did not wait"
            t.join(30)
            assert result["reply"][0] == 250
            assert answered < result["at"]
            assert result["at"] - start >= 3.5	# the bound, not sooner
            ar = auth_results(imap_fetch(d, "slow dns"))
            assert "spf=temperror" in ar[0], ar
            assert "inbound check spf: timed out" in d.log()
        finally:
            d.stop()
            d.assert_clean()
    finally:
        silent.close()
