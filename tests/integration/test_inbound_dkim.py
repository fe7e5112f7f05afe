"""DKIM verification on port 25 end to end: a first posthornd with a DKIM
key for signer.test signs a submitted message and hands it to a sink;
those signed bytes are then sent to a second posthornd on port 25 whose
[dns] upstream is a loopback dnsmasq holding the key's TXT record. The
stored message's Authentication-Results says dkim=pass header.d=signer.test;
a tampered copy dkim=fail; an unknown selector permerror. (Not the dev
domain localhost: libunbound answers localhost itself, RFC 6761.)"""
import re
import smtplib
import socket
import subprocess
import time

import dkim
import pytest

from conftest import Posthornd
import test_dkim
from test_dkim import message, submit, txt_record
from test_outbound import Sink, wait_for
from test_inbound_spf import (DNSMASQ, auth_results, checked_daemon,
                              free_port, imap_fetch)


def dnsmasq(owner, record, extra=()):
    """dnsmasq with record as owner's TXT (split in strings of 255), and
    the (owner, text) pairs of extra."""
    port = free_port(socket.SOCK_DGRAM)
    strings = ",".join(record[i:i + 255] for i in range(0, len(record), 255))
    more = [f"--txt-record={o},{t}" for o, t in extra]
    proc = subprocess.Popen(
        [DNSMASQ, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
         "--bind-interfaces", "--no-resolv", "--no-hosts", "-C", "/dev/null",
         "--pid-file=", "--user=", "--group=", "--log-facility=/dev/null",
         "--local=/localhost/", "--local=/test/",
         f"--txt-record={owner},{strings}"] + more,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    return proc, port


class Signer(test_dkim.Signer):
    """test_dkim's Signer for the local domain signer.test: a posthornd
    --dev with a DKIM key for it and a route for remote.test to a sink."""

    def __init__(self, tmp_path, key_type):
        self.sink = Sink().start()
        self.d = Posthornd(tmp_path / "signer")
        self.d.start()
        self.d.stop()
        self.selector = "posthorn" if key_type == "rsa" else "ed"
        with open(self.d.config_path, "a") as fh:
            fh.write(f"\n[routes]\nremote.test = 127.0.0.1:{self.sink.port}\n")
            if key_type != "rsa":
                fh.write(f"[dkim]\nselector = {self.selector}\n")
        self.d.cli("domain", "add", "signer.test", check=True)
        args = ["dkim", "keygen", "signer.test"]
        if key_type != "rsa":
            args += ["--type", key_type]
        self.owner, self.record = txt_record(self.d.cli(*args, check=True).stdout)
        self.d.start()


@pytest.fixture(params=["rsa", "ed25519"])
def setup(request, tmp_path):
    signer = Signer(tmp_path, request.param)
    # p=none: DMARC judges, nothing is refused for it
    proc, port = dnsmasq(signer.owner, signer.record,
                         [("_dmarc.signer.test", "v=DMARC1; p=none"),
                          ("signer.test", "v=spf1 ip4:127.0.0.1 -all")])
    receiver = checked_daemon(tmp_path, f"127.0.0.1@{port}", name="receiver")
    yield signer, receiver
    status = receiver.stop()
    proc.terminate()
    proc.wait()
    signer.close()
    receiver.assert_clean()
    assert status == 0, receiver.log()


def relay(receiver, raw, rcpt="demo@localhost", sender="demo@localhost"):
    """raw (as the sink got it) to the receiver's port 25."""
    with smtplib.SMTP("127.0.0.1", receiver.port("smtp"), timeout=20) as s:
        s.ehlo("signer.example")
        s.sendmail(sender, [rcpt], raw)


def dkim_results(ar):
    return re.findall(r"dkim=(\w+)[^;]*", ar)


def test_dkim_pass_and_fail(setup):
    signer, receiver = setup
    submit(signer.d, ["rcpt@remote.test"],
           message("inbound dkim").replace(b"From: Demo <demo@localhost>",
                                           b"From: Demo <demo@signer.test>"))
    raw = signer.received()
    assert b"DKIM-Signature:" in raw

    relay(receiver, raw)
    ar = auth_results(imap_fetch(receiver, "inbound dkim"))
    assert len(ar) == 1, ar
    assert "dkim=pass" in ar[0] and "header.d=signer.test" in ar[0], ar
    assert f"header.s={signer.selector}" in ar[0], ar
    assert "arc=none" in ar[0], ar
    # SPF checks localhost (the envelope), not aligned with From: the
    # aligned DKIM signature is what passes DMARC
    assert "dmarc=pass" in ar[0] and "header.from=signer.test" in ar[0], ar
    assert re.search(r"checks: .*dkim=pass\(d=signer.test\) arc=none",
                     receiver.log()), receiver.log()

    relay(receiver, raw.replace(b"Subject: inbound dkim",
                                b"Subject: inbound dkim tampered"))
    ar = auth_results(imap_fetch(receiver, "inbound dkim tampered"))
    assert "dkim=fail" in ar[0] and "header.d=signer.test" in ar[0], ar
    assert "dmarc=fail" in ar[0], ar

    relay(receiver, raw.replace(b"Hello.", b"Hullo.").replace(
        b"Subject: inbound dkim", b"Subject: inbound dkim body"))
    ar = auth_results(imap_fetch(receiver, "inbound dkim body"))
    assert "dkim=fail" in ar[0] and "body hash mismatch" in ar[0], ar

    relay(receiver, re.sub(rb"s=\w+;", b"s=nosuch;", raw, count=1).replace(
        b"Subject: inbound dkim", b"Subject: inbound dkim nokey"))
    ar = auth_results(imap_fetch(receiver, "inbound dkim nokey"))
    assert "dkim=permerror" in ar[0], ar


def test_signed_mail_passes_spf_dkim_dmarc(setup):
    """Mail our signer signed, relayed from an address signer.test's SPF
    record allows with a signer.test envelope: all three pass."""
    signer, receiver = setup
    submit(signer.d, ["rcpt@remote.test"],
           message("all pass").replace(b"From: Demo <demo@localhost>",
                                       b"From: Demo <demo@signer.test>"))
    relay(receiver, signer.received(), sender="bounces@signer.test")
    (ar,) = auth_results(imap_fetch(receiver, "all pass"))
    assert re.search(r"spf=pass [^;]*smtp.mailfrom=bounces@signer.test", ar), ar
    assert "dkim=pass" in ar and "header.d=signer.test" in ar, ar
    assert "dmarc=pass" in ar and "header.from=signer.test" in ar, ar
    assert re.search(r"checks: .*spf=pass dkim=pass\(d=signer.test\) "
                     r"arc=none dmarc=pass", receiver.log()), receiver.log()


def test_unsigned_and_off(setup):
    signer, receiver = setup
    relay(receiver, message("plain mail", to="demo@localhost"))
    ar = auth_results(imap_fetch(receiver, "plain mail"))
    assert len(ar) == 1 and "dkim=none" in ar[0], ar


def test_alias_forward_arc_sealed(setup):
    """Port-25 mail for an alias of localhost that forwards to a remote
    address leaves with an ARC set sealed with localhost's key (cv=none,
    our Authentication-Results in the AAR), valid for dkimpy's ARC
    verifier; the original DKIM signature still verifies too."""
    signer, receiver = setup
    sink = Sink().start()
    try:
        receiver.stop()
        with open(receiver.config_path, "a") as fh:
            fh.write(f"\n[routes]\nremote.test = 127.0.0.1:{sink.port}\n")
        owner, record = txt_record(
            receiver.cli("dkim", "keygen", "localhost", check=True).stdout)
        receiver.cli("alias", "add", "forward@localhost", "far@remote.test",
                     check=True)
        receiver.start()
        submit(signer.d, ["rcpt@remote.test"],
               message("arc forward").replace(b"From: Demo <demo@localhost>",
                                              b"From: Demo <demo@signer.test>"))
        relay(receiver, signer.received(), rcpt="forward@localhost")
        assert wait_for(lambda: len(sink.messages) >= 1), receiver.log()
        out = sink.messages[0][2]
        assert out.startswith(b"Authentication-Results:"), out[:300]
        assert b"ARC-Seal: i=1; a=rsa-sha256; cv=none; d=localhost;" in out, out[:800]
        aar = re.search(rb"ARC-Authentication-Results: i=1; (.*?)\r\n(?![ \t])",
                        out, re.S)
        assert aar and b"dkim=pass" in aar.group(1), out[:1500]

        def dnsfunc(name, timeout=5):
            name = name.decode().rstrip(".")
            if name == owner:
                return record.encode()
            if name == signer.owner:
                return signer.record.encode()
            return None
        cv, results, reason = dkim.arc_verify(out, dnsfunc=dnsfunc)
        assert cv == b"pass", (cv, reason, results)
        assert dkim.verify(out, dnsfunc=dnsfunc)
    finally:
        sink.stop()
