"""DKIM signing end to end: `posthorn dkim keygen` for the dev domain
localhost, mail submitted as demo@localhost routed to an aiosmtpd sink, and
the signature checked there with dkimpy (dns answered from the record the
CLI printed) and by recomputing the relaxed body hash here. Mail for a
domain without a key and mail that came in on port 25 stay unsigned."""
import base64
import hashlib
import os
import re
import shlex
import smtplib
import time

import dkim
import pytest

from conftest import Posthornd
from test_outbound import Sink, inbox, wait_for


def message(subject, sender="demo@localhost", to="rcpt@remote.test", body="Hello.\r\n"):
    return (f"From: Demo <{sender}>\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Date: Mon, 23 Nov 2026 01:00:00 +0000\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@localhost>\r\n\r\n{body}").encode()


def submit(daemon, rcpts, data, sender="demo@localhost"):
    with smtplib.SMTP("127.0.0.1", daemon.port("submission"), timeout=10) as s:
        s.login("demo@localhost", "demo")
        s.sendmail(sender, rcpts, data)


def txt_record(cli_stdout):
    """The TXT value of the zone line the CLI printed: its quoted strings
    joined (RFC 6376 3.6.2.2)."""
    line = [l for l in cli_stdout.splitlines() if "._domainkey." in l][-1]
    owner, _in, _txt, *strings = shlex.split(line)
    return owner, "".join(strings)


class Signer:
    """A posthornd --dev with a DKIM key for localhost and a route for
    remote.test to a sink."""

    def __init__(self, tmp_path, key_type):
        # the sink refuses reject@ (bounces), takes the rest
        self.sink = Sink(rcpt=lambda address: "550 5.1.1 No such user"
                         if address.startswith("reject@") else None).start()
        self.d = Posthornd(tmp_path / "signer")
        self.d.start()
        self.d.stop()
        self.selector = "posthorn" if key_type == "rsa" else "ed"
        # reports come from MAILER-DAEMON@hostname: the domain with the key
        with open(self.d.config_path) as fh:
            conf = fh.read()
        with open(self.d.config_path, "w") as fh:
            fh.write(conf.replace("[server]\n", "[server]\nhostname = localhost\n", 1))
        with open(self.d.config_path, "a") as fh:
            fh.write("\n[queue]\nretry_min = 1s\nretry_max = 2s\n"
                     "[delivery]\ntimeout_percent = 2\nconnect_timeout = 2s\n"
                     f"[routes]\nremote.test = 127.0.0.1:{self.sink.port}\n")
            if key_type != "rsa":
                fh.write(f"[dkim]\nselector = {self.selector}\n")
        args = ["dkim", "keygen", "localhost"]
        if key_type != "rsa":
            args += ["--type", key_type]
        r = self.d.cli(*args, check=True)
        self.owner, self.record = txt_record(r.stdout)
        self.key_path = os.path.join(self.d.data_dir, "dkim",
                                     f"localhost.{self.selector}.key")
        self.d.start()

    def dnsfunc(self, name, timeout=5):
        if name.decode().rstrip(".") == self.owner:
            return self.record.encode()
        return None

    def received(self, count=1):
        assert wait_for(lambda: len(self.sink.messages) >= count), self.d.log()
        return self.sink.messages[count - 1][2]

    def close(self):
        status = self.d.stop()
        self.sink.stop()
        self.d.assert_clean()
        assert status == 0, self.d.log()


@pytest.fixture(params=["rsa", "ed25519"])
def signer(request, tmp_path):
    s = Signer(tmp_path, request.param)
    yield s
    s.close()


def header_fields(raw):
    """[(name, raw field bytes with CRLF)] of the header block."""
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n"
    return [(m.group(1), m.group(0)) for m in
            re.finditer(rb"([^\s:]+)[ \t]*:.*?\r\n(?![ \t])", head, re.S)]


def relaxed_body_hash(raw):
    body = raw.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in raw else b""
    body = re.sub(rb"[ \t]+\r\n", b"\r\n", body)
    body = re.sub(rb"[ \t]+", b" ", body)
    while body.endswith(b"\r\n"):
        body = body[:-2]
    if body:
        body += b"\r\n"
    return base64.b64encode(hashlib.sha256(body).digest()).decode()


def sig_tags(raw):
    sigs = [f for n, f in header_fields(raw) if n.lower() == b"dkim-signature"]
    assert len(sigs) == 1, raw
    value = sigs[0].split(b":", 1)[1].decode()
    tags = {}
    for part in value.split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            tags[k.strip()] = re.sub(r"\s+", "", v)
    return sigs[0], tags


def test_submission_is_signed(signer):
    submit(signer.d, ["rcpt@remote.test"],
           message("signed hello", body="Hello  there.\r\n\r\n\r\n"))
    raw = signer.received()
    field, tags = sig_tags(raw)
    # the field is the first one, above our Received:, folded to 78
    assert raw.startswith(b"DKIM-Signature:")
    assert all(len(l) <= 78 for l in field.split(b"\r\n"))
    assert tags["v"] == "1"
    assert tags["a"] == ("rsa-sha256" if signer.selector == "posthorn"
                         else "ed25519-sha256")
    assert tags["c"] == "relaxed/relaxed"
    assert tags["d"] == "localhost" and tags["s"] == signer.selector
    assert abs(int(tags["t"]) - time.time()) < 300
    assert tags["h"] == "from:from:to:subject:date:message-id"
    assert tags["bh"] == relaxed_body_hash(raw)
    assert dkim.verify(raw, dnsfunc=signer.dnsfunc)
    # a receiver would see a changed body or an added From
    assert not dkim.verify(raw.replace(b"Hello  there.", b"Hello there!"),
                           dnsfunc=signer.dnsfunc)
    assert not dkim.verify(b"From: mallory@evil.test\r\n" + raw,
                           dnsfunc=signer.dnsfunc)


def test_local_copy_shares_the_signed_blob(signer):
    submit(signer.d, ["rcpt@remote.test", "demo@localhost"], message("both ways"))
    raw = signer.received()
    assert dkim.verify(raw, dnsfunc=signer.dnsfunc)
    local = wait_for(lambda: inbox(signer.d, "demo@localhost"))
    assert len(local) == 1 and local[0].startswith(b"Return-Path: <demo@localhost>\r\n")
    assert dkim.verify(local[0], dnsfunc=signer.dnsfunc)


def test_key_file_and_show(signer):
    assert os.stat(signer.key_path).st_mode & 0o777 == 0o600
    r = signer.d.cli("dkim", "show", "localhost", "--selector", signer.selector,
                     check=True)
    assert txt_record(r.stdout) == (signer.owner, signer.record)
    assert signer.owner == f"{signer.selector}._domainkey.localhost"
    # an existing key is never replaced
    r = signer.d.cli("dkim", "keygen", "localhost", "--selector", signer.selector)
    assert r.returncode == 1 and "exists" in r.stderr
    r = signer.d.cli("dkim", "show", "example.test")
    assert r.returncode == 1


def test_domain_without_key_not_signed(signer):
    # example.test is a dev domain too, but has no key
    submit(signer.d, ["rcpt@remote.test"],
           message("no key", sender="demo@example.test"), sender="demo@example.test")
    raw = signer.received()
    assert b"Subject: no key" in raw
    assert b"DKIM-Signature" not in raw


def test_port25_not_signed(signer):
    signer.d.cli("alias", "add", "fwd@localhost", "rcpt@remote.test", check=True)
    with smtplib.SMTP("127.0.0.1", signer.d.port("smtp"), timeout=10) as s:
        s.sendmail("stranger@elsewhere.test", ["fwd@localhost", "demo@localhost"],
                   message("from outside", sender="demo@localhost", to="fwd@localhost"))
    raw = signer.received()
    assert b"Subject: from outside" in raw
    assert b"DKIM-Signature" not in raw
    local = wait_for(lambda: inbox(signer.d, "demo@localhost"))
    assert len(local) == 1 and b"DKIM-Signature" not in local[0]


def test_bounce_to_remote_sender_signed(signer):
    submit(signer.d, ["reject@remote.test"],
           message("bounce me", sender="someone@remote.test", to="reject@remote.test"),
           sender="someone@remote.test")
    raw = signer.received()
    assert signer.sink.messages[0][1] == ["someone@remote.test"]
    assert b"multipart/report" in raw and b"MAILER-DAEMON@localhost" in raw
    _field, tags = sig_tags(raw)
    assert tags["d"] == "localhost"
    assert dkim.verify(raw, dnsfunc=signer.dnsfunc)


def test_sendmail_signed(signer):
    r = signer.d.cli("sendmail", "-i", "-f", "demo@localhost", "rcpt@remote.test",
                     input="From: demo@localhost\nTo: rcpt@remote.test\n"
                           "Subject: via sendmail\n\nHello from cron.\n")
    assert r.returncode == 0, r.stderr
    raw = signer.received()
    assert b"Subject: via sendmail" in raw
    _field, tags = sig_tags(raw)
    # sendmail added Date: and Message-ID:, signed as well
    assert tags["h"] == "from:from:to:subject:date:message-id"
    assert dkim.verify(raw, dnsfunc=signer.dnsfunc)
