"""DMARC on port 25 end to end: posthornd with [dns] upstream at a loopback
dnsmasq holding SPF and DMARC records; clients from 127.0.0.x. A forged
From of a p=reject domain is refused with 550 5.7.1, p=quarantine goes to
Junk, p=none is accepted with dmarc=fail, aligned SPF passes, and
`posthorn dmarc report` lists what was counted."""
import datetime
import imaplib
import re
import smtplib
import time

import pytest

from test_inbound_spf import (PASSWORD, USER, auth_results, checked_daemon,
                              dnsmasq)

# 127.0.0.1 may send for every domain below; other addresses may not.
DNS_RECORDS = []
for dom, policy in [("reject.test", "reject"), ("quar.test", "quarantine"),
                    ("none.test", "none")]:
    DNS_RECORDS += [
        f"--txt-record={dom},v=spf1 ip4:127.0.0.1 -all",
        f"--txt-record=_dmarc.{dom},v=DMARC1; p={policy}; "
        f"rua=mailto:dmarc@{dom}",
    ]
DNS_RECORDS += [
    "--txt-record=other.test,v=spf1 ip4:127.0.0.0/8 -all",
    # strict SPF alignment: a subdomain's MAIL FROM does not align
    "--txt-record=bounce.strict.test,v=spf1 ip4:127.0.0.1 -all",
    "--txt-record=_dmarc.strict.test,v=DMARC1; p=reject; aspf=s",
]


@pytest.fixture(scope="module")
def dns():
    yield from dnsmasq(DNS_RECORDS)


@pytest.fixture
def daemon(tmp_path, dns):
    d = checked_daemon(tmp_path, f"127.0.0.1@{dns}")
    yield d
    status = d.stop()
    d.assert_clean()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"


def send(d, sender, from_hdr, subject, source="127.0.0.1"):
    msg = (f"From: {from_hdr}\r\nTo: {USER}\r\nSubject: {subject}\r\n"
           f"Message-ID: <{subject.replace(' ', '-')}@test>\r\n\r\nbody\r\n")
    with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=20,
                      source_address=(source, 0)) as s:
        s.ehlo("client.test")
        code, text = s.mail(sender)
        assert code == 250, text
        code, text = s.rcpt(USER)
        assert code == 250, text
        code, text = s.data(msg.encode())
        return code, text.decode()


def dmarc_ar(d, subject, mailbox="INBOX"):
    m = imaplib.IMAP4("127.0.0.1", d.port("imap"))
    try:
        m.login(USER, PASSWORD)
        typ, _ = m.select(f'"{mailbox}"')
        assert typ == "OK", mailbox
        typ, data = m.search(None, "SUBJECT", f'"{subject}"')
        nums = data[0].split()
        if not nums:
            return None
        typ, data = m.fetch(nums[-1], "(BODY.PEEK[HEADER])")
        ar = auth_results(data[0][1])
        assert len(ar) == 1, ar
        return ar[0]
    finally:
        m.logout()


def test_forged_reject(daemon):
    code, text = send(daemon, "bounce@reject.test", "a@reject.test",
                      "forged reject", source="127.0.0.5")
    assert code == 550, text
    assert text.startswith("5.7.1") and "DMARC" in text, text
    assert re.search(r"dmarc=fail\(reject.test p=reject\).*action=reject",
                     daemon.log()), daemon.log()
    # a subdomain of the From domain finds the organisational record
    code, text = send(daemon, "bounce@reject.test", "a@mail.reject.test",
                      "forged sub", source="127.0.0.5")
    assert code == 550, text
    # SPF passes, but for another domain: not aligned
    code, text = send(daemon, "x@other.test", "a@reject.test",
                      "unaligned", source="127.0.0.5")
    assert code == 550, text


def test_header_only(daemon):
    """A message that is all header (no empty line): the From domain is
    known only at the end of data, the lookup starts there."""
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=20,
                      source_address=("127.0.0.5", 0)) as s:
        s.ehlo("client.test")
        assert s.mail("bounce@reject.test")[0] == 250
        assert s.rcpt(USER)[0] == 250
        code, text = s.data(b"Subject: header only\r\nFrom: a@reject.test")
    assert code == 550 and b"DMARC" in text, text


def test_aligned_pass(daemon):
    code, text = send(daemon, "bounce@reject.test", "A <a@reject.test>",
                      "aligned pass")
    assert code == 250, text
    ar = dmarc_ar(daemon, "aligned pass")
    assert "dmarc=pass" in ar and "header.from=reject.test" in ar, ar
    assert "policy.dmarc=reject" in ar, ar
    # relaxed alignment: a subdomain in From, the organisation's SPF pass
    code, text = send(daemon, "bounce@reject.test", "a@news.reject.test",
                      "relaxed pass")
    assert code == 250, text
    ar = dmarc_ar(daemon, "relaxed pass")
    assert "dmarc=pass" in ar and "header.from=news.reject.test" in ar, ar
    # strict alignment: the same SPF pass of a subdomain fails
    code, text = send(daemon, "x@bounce.strict.test", "a@strict.test",
                      "strict")
    assert code == 550, text


def test_none_accepted(daemon):
    code, text = send(daemon, "bounce@none.test", "a@none.test", "p none",
                      source="127.0.0.5")
    assert code == 250, text
    ar = dmarc_ar(daemon, "p none")
    assert "dmarc=fail" in ar and "header.from=none.test" in ar, ar
    assert "policy.dmarc=none" in ar, ar
    # no record at all
    code, text = send(daemon, "x@other.test", "a@other.test", "no record")
    assert code == 250, text
    assert "dmarc=none" in dmarc_ar(daemon, "no record")


def test_quarantine(daemon):
    code, text = send(daemon, "bounce@quar.test", "a@quar.test",
                      "p quarantine", source="127.0.0.5")
    assert code == 250, text
    assert re.search(r"dmarc=fail\(quar.test p=quarantine\).*"
                     r"action=quarantine", daemon.log()), daemon.log()


# INTEGRATION POINT: the pipeline's SMTP_CHECK_QUARANTINE (smtp_session.c)
# stores to the INBOX until helper E's junk delivery (branch y-abuse,
# smtp_junk_request()) is applied there; strict, so this XPASS fails once it
# is, and the marker goes.
def test_quarantine_in_junk(daemon):
    code, text = send(daemon, "bounce@quar.test", "a@quar.test",
                      "p quarantine", source="127.0.0.5")
    assert code == 250, text
    assert dmarc_ar(daemon, "p quarantine") is None     # not in INBOX
    ar = dmarc_ar(daemon, "p quarantine", mailbox="Junk")
    assert "dmarc=fail" in ar and "policy.dmarc=quarantine" in ar, ar


def test_from_conflict(daemon):
    code, text = send(daemon, "bounce@reject.test",
                      "a@reject.test\r\nFrom: b@evil.example",
                      "two froms")
    assert code == 550, text
    assert "different domains" in text, text


def test_report_lists_rows(daemon):
    for i in range(3):
        send(daemon, "bounce@reject.test", "a@reject.test", f"forged {i}",
             source="127.0.0.5")
    send(daemon, "bounce@reject.test", "a@reject.test", "good")
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    # the rows are written in the writer's batches: soon, not at once
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        out = daemon.cli("dmarc", "report", "--day", today, check=True).stdout
        if "count=3" in out:
            break
        time.sleep(0.1)
    assert re.search(r"reject.test from=reject.test ip=127.0.0.5 count=3 "
                     r"disposition=reject dkim=fail spf=fail "
                     r"auth: spf=fail\(mfrom reject.test\)", out), out
    assert re.search(r"ip=127.0.0.1 count=1 disposition=none dkim=fail "
                     r"spf=pass", out), out
