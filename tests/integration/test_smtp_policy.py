"""SMTP policy against a real posthornd --dev: Delivered-To, trusted
networks, postmaster, VRFY/EXPN, per-phase timeouts, greeting delay,
received_auth, several recipients, aliases and catch-all, 8BITMIME,
SMTPUTF8, BINARYMIME, LMTP on a unix socket, every AUTH mechanism."""
import base64
import os
import smtplib
import socket
import ssl
import time

import pytest

from test_smtp import (Raw, daemon, held_daemon, inbox_blobs,  # noqa: F401
                       queued, scram_sha256_login, tls_context)

BODY = (b"From: Alice <alice@example.org>\r\n"
        b"Subject: policy\r\n"
        b"\r\n"
        b"text\r\n")


def configured(tmp_path, smtp_keys="", extra=""):
    """A dev daemon whose config got [smtp] keys and extra sections."""
    return held_daemon(tmp_path / "data",
                       ("\n[smtp]\n" + smtp_keys if smtp_keys else "") + extra)


def finish(d):
    status = d.stop()
    d.assert_clean()
    assert status == 0, d.log()


def send(port, sender, rcpts, data, ehlo="c.example.org"):
    """One transaction over plain SMTP; returns the final reply."""
    r = Raw(port)
    assert r.reply()[0] == 220
    assert r.cmd(f"EHLO {ehlo}")[0] == 250
    assert r.cmd(f"MAIL FROM:<{sender}>")[0] == 250
    for rc in rcpts:
        code, text = r.cmd(f"RCPT TO:<{rc}>")
        assert code == 250, (rc, code, text)
    assert r.cmd("DATA")[0] == 354
    r.send(data + b".\r\n")
    reply = r.reply()
    r.cmd("QUIT")
    r.close()
    return reply


def split_stored(blob):
    """(Return-Path line, Delivered-To line or None, rest after Received:)."""
    lines = blob.split(b"\r\n")
    rp = lines[0]
    dto = lines[1] if lines[1].startswith(b"Delivered-To:") else None
    return rp, dto, blob


def add_user(d, address, password="pw"):
    d.cli("user", "add", address, "--password-stdin", input=password + "\n",
          check=True)


def test_delivered_to_single_several_and_mixed(daemon):
    daemon.cli("domain", "add", "example.test", check=False)
    add_user(daemon, "bob@example.test")
    daemon.cli("alias", "add", "info@example.test", "bob@example.test", check=True)
    port = daemon.port("smtp")
    # Through an alias: the target that reached the user.
    assert send(port, "alice@example.org", ["info@example.test"], BODY)[0] == 250
    blob = inbox_blobs(daemon, "bob@example.test")[-1]
    lines = blob.split(b"\r\n")
    assert lines[0] == b"Return-Path: <alice@example.org>"
    assert lines[1] == b"Delivered-To: bob@example.test"
    assert lines[2].startswith(b"Authentication-Results: ")  # the checks'
    received = blob[blob.index(b"\r\nReceived: ") + 2:]
    assert received.startswith(b"Received: from c.example.org ([127.0.0.1])")
    assert blob.endswith(BODY)
    # Sub-addressing: the address as given.
    assert send(port, "alice@example.org", ["bob+news@example.test"], BODY)[0] == 250
    assert inbox_blobs(daemon, "bob@example.test")[-1].split(b"\r\n")[1] == \
        b"Delivered-To: bob+news@example.test"
    # Two local users: one shared blob, no Delivered-To.
    assert send(port, "alice@example.org",
                ["bob@example.test", "demo@localhost"], BODY)[0] == 250
    for user in ("bob@example.test", "demo@localhost"):
        blob = inbox_blobs(daemon, user)[-1]
        assert b"Delivered-To:" not in blob
        assert blob.startswith(b"Return-Path: <alice@example.org>\r\n"
                               b"Authentication-Results: ")
        assert blob.endswith(BODY)
    # The same user twice (two addresses) is one recipient: header kept.
    assert send(port, "alice@example.org",
                ["bob@example.test", "bob+x@example.test"], BODY)[0] == 250
    assert inbox_blobs(daemon, "bob@example.test")[-1].split(b"\r\n")[1] == \
        b"Delivered-To: bob@example.test"


def test_delivered_to_not_in_relayed_copy(daemon):
    r = Raw(daemon.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    creds = base64.b64encode(b"\0demo@localhost\0demo").decode()
    assert r.cmd("AUTH PLAIN " + creds)[0] == 235
    assert r.cmd("MAIL FROM:<demo@localhost>")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    assert r.cmd("RCPT TO:<far@remote.example>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(BODY + b".\r\n")
    assert r.reply()[0] == 250
    r.close()
    blob = inbox_blobs(daemon, "demo@localhost")[-1]
    assert b"Delivered-To:" not in blob and blob.endswith(BODY)
    q = [row for row in queued(daemon) if row[1] == "far@remote.example"]
    assert len(q) == 1 and b"Delivered-To:" not in bytes(q[0][2])


def test_several_recipients_alias_fanout_and_catchall(daemon):
    daemon.cli("domain", "add", "example.test", check=False)
    add_user(daemon, "carol@example.test")
    add_user(daemon, "dave@example.test")
    daemon.cli("alias", "add", "team@example.test", "carol@example.test",
               "dave@example.test", "ext@partner.example", check=True)
    daemon.cli("alias", "add", "@example.test", "dave@example.test", check=True)
    before_c = len(inbox_blobs(daemon, "carol@example.test"))
    before_d = len(inbox_blobs(daemon, "dave@example.test"))
    before_demo = len(inbox_blobs(daemon, "demo@localhost"))
    before_q = len(queued(daemon))
    # Without AUTH on port 25: the alias may still lead outside.
    code, text = send(daemon.port("smtp"), "alice@example.org",
                      ["team@example.test", "demo@localhost",
                       "whoever@example.test"], BODY)
    assert code == 250, text
    carol = inbox_blobs(daemon, "carol@example.test")
    dave = inbox_blobs(daemon, "dave@example.test")
    assert len(carol) == before_c + 1
    # dave is reached by the alias and by the catch-all: once.
    assert len(dave) == before_d + 1
    assert len(inbox_blobs(daemon, "demo@localhost")) == before_demo + 1
    assert carol[-1] == dave[-1] and carol[-1].endswith(BODY)
    q = queued(daemon)
    assert len(q) == before_q + 1
    assert q[-1][0] == "alice@example.org" and q[-1][1] == "ext@partner.example"
    assert bytes(q[-1][2]).endswith(BODY)
    # The catch-all alone, through smtplib.
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        s.ehlo("c.example.org")
        refused = s.sendmail("alice@example.org", ["random-name@example.test"], BODY)
        assert refused == {}
    assert inbox_blobs(daemon, "dave@example.test")[-1].split(b"\r\n")[1] == \
        b"Delivered-To: dave@example.test"


def test_8bitmime_body_byte_for_byte(daemon):
    body = ("From: a@example.org\r\nSubject: 8bit\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n"
            "Grüße aus Köln, ½ € \xa0\r\n").encode("utf-8") + b"raw \xff\xfe bytes\r\n"
    r = Raw(daemon.port("smtp"))
    r.reply()
    assert "8BITMIME" in r.cmd("EHLO c")[1].split("\n")
    assert r.cmd("MAIL FROM:<a@example.org> BODY=8BITMIME")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(body + b".\r\n")
    assert r.reply()[0] == 250
    r.close()
    assert inbox_blobs(daemon, "demo@localhost")[-1].endswith(body)


def test_smtputf8_addresses(daemon):
    daemon.cli("domain", "add", "example.test", check=False)
    daemon.cli("alias", "add", "jürgen@example.test", "demo@localhost", check=True)
    body = "From: jörg@bücher.example\r\nSubject: ütf8\r\n\r\nhallo\r\n".encode()
    r = Raw(daemon.port("smtp"))
    r.reply()
    assert "SMTPUTF8" in r.cmd("EHLO c")[1].split("\n")
    # Without SMTPUTF8 a UTF-8 address is refused.
    assert r.cmd("MAIL FROM:<jörg@bücher.example>")[0] >= 500
    assert r.cmd("MAIL FROM:<jörg@bücher.example> SMTPUTF8")[0] == 250
    assert r.cmd("RCPT TO:<jürgen@example.test>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(body + b".\r\n")
    assert r.reply()[0] == 250
    r.close()
    blob = inbox_blobs(daemon, "demo@localhost")[-1]
    assert blob.startswith("Return-Path: <jörg@bücher.example>\r\n"
                           "Delivered-To: demo@localhost\r\n".encode())
    assert blob.endswith(body)


def test_binarymime_bdat_byte_for_byte(daemon):
    payload = bytes(range(256)) * 4 + b"\r\n.\r\n\n\r"
    msg = (b"From: a@example.org\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: binary\r\n\r\n" + payload)
    r = Raw(daemon.port("smtp"))
    r.reply()
    r.cmd("EHLO c")
    assert r.cmd("MAIL FROM:<a@example.org> BODY=BINARYMIME")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    half = len(msg) // 2
    r.send(b"BDAT %d\r\n" % half + msg[:half])
    assert r.reply()[0] == 250
    r.send(b"BDAT %d LAST\r\n" % (len(msg) - half) + msg[half:])
    assert r.reply()[0] == 250
    r.close()
    assert inbox_blobs(daemon, "demo@localhost")[-1].endswith(msg)


def test_vrfy_expn_default_252(daemon):
    r = Raw(daemon.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    assert r.cmd("VRFY demo@localhost")[0] == 252
    creds = base64.b64encode(b"\0demo@localhost\0demo").decode()
    assert r.cmd("AUTH PLAIN " + creds)[0] == 235
    # Even authenticated: the default never lists users.
    assert r.cmd("VRFY demo@localhost")[0] == 252
    assert r.cmd("EXPN demo@localhost")[0] == 252
    r.close()


def test_vrfy_expn_authenticated(tmp_path):
    d = configured(tmp_path, "vrfy_expn = authenticated\n")
    try:
        d.cli("domain", "add", "example.test", check=False)
        d.cli("alias", "add", "list@example.test", "demo@localhost",
              "out@remote.example", check=True)
        r = Raw(d.port("submission"))
        r.reply()
        r.cmd("EHLO c")
        # Not authenticated yet: 252.
        assert r.cmd("VRFY <demo@localhost>")[0] == 252
        creds = base64.b64encode(b"\0demo@localhost\0demo").decode()
        assert r.cmd("AUTH PLAIN " + creds)[0] == 235
        assert r.cmd("VRFY <demo@localhost>") == (250, "2.1.5 <demo@localhost>")
        assert r.cmd("VRFY demo+x@localhost") == (250, "2.1.5 <demo+x@localhost>")
        assert r.cmd("VRFY nobody@localhost")[0] == 550
        assert r.cmd("VRFY someone@remote.example")[0] == 252
        assert r.cmd("VRFY not an address")[0] == 501
        code, text = r.cmd("EXPN list@example.test")
        assert code == 250
        assert text.split("\n") == ["2.1.5 <demo@localhost>",
                                    "2.1.5 <out@remote.example>"]
        r.close()
        # Port 25 without AUTH: 252.
        r = Raw(d.port("smtp"))
        r.reply()
        r.cmd("EHLO c")
        assert r.cmd("EXPN list@example.test")[0] == 252
        r.close()
    finally:
        finish(d)


def test_trusted_networks_relay(tmp_path):
    d = configured(tmp_path, "trusted_networks = 10.0.0.0/8, 127.0.0.0/8\n")
    try:
        before = len(queued(d))
        code, text = send(d.port("smtp"), "app@internal.example",
                          ["someone@remote.example"], BODY)
        assert code == 250, text
        q = queued(d)
        assert len(q) == before + 1 and q[-1][1] == "someone@remote.example"
        assert "is in trusted_networks" in d.log()
    finally:
        finish(d)
    # Not trusted (only ::1): the same relay is refused.
    d2 = configured(tmp_path / "two", "trusted_networks = ::1/128\n")
    try:
        r = Raw(d2.port("smtp"))
        r.reply()
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<app@internal.example>")
        code, text = r.cmd("RCPT TO:<someone@remote.example>")
        assert code == 554 and text.startswith("5.7.1")
        r.close()
    finally:
        finish(d2)


def test_postmaster_routed(tmp_path):
    d = configured(tmp_path, "postmaster = demo@localhost\n")
    try:
        d.cli("domain", "add", "example.test", check=False)
        before = len(inbox_blobs(d, "demo@localhost"))
        r = Raw(d.port("smtp"))
        r.reply()
        r.cmd("EHLO c")
        assert r.cmd("MAIL FROM:<>")[0] == 250
        assert r.cmd("RCPT TO:<postmaster>")[0] == 250
        assert r.cmd("RCPT TO:<Postmaster@example.test>")[0] == 250
        assert r.cmd("RCPT TO:<postmaster@localhost>")[0] == 250
        # Not a local domain: still a relay attempt.
        assert r.cmd("RCPT TO:<postmaster@remote.example>")[0] == 554
        assert r.cmd("DATA")[0] == 354
        r.send(BODY + b".\r\n")
        assert r.reply()[0] == 250
        r.close()
        blobs = inbox_blobs(d, "demo@localhost")
        assert len(blobs) == before + 1
        assert blobs[-1].startswith(b"Return-Path: <>\r\nDelivered-To: demo@localhost\r\n")
    finally:
        finish(d)


def test_timeouts_and_greeting_delay(tmp_path):
    d = configured(tmp_path, "command_timeout = 2s\ndata_timeout = 4s\n"
                   "greeting_delay = 1s\n")
    try:
        # The greeting waits 1 s; talking first is refused.
        s = socket.create_connection(("127.0.0.1", d.port("smtp")), timeout=10)
        start = time.monotonic()
        s.recv(100)
        assert time.monotonic() - start >= 0.9
        s.close()
        r = Raw(d.port("submission"))  # greets at once
        start = time.monotonic()
        assert r.reply()[0] == 220
        assert time.monotonic() - start < 0.9  # not the 1 s of port 25
        # Idle between commands: closed after the command timeout.
        r.cmd("EHLO c")
        start = time.monotonic()
        assert r.closed()
        assert 1.5 <= time.monotonic() - start < 3.9
        r.close()
        # Inside DATA the data timeout applies (longer).
        r = Raw(d.port("smtp"))
        r.reply()
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd("RCPT TO:<demo@localhost>")
        assert r.cmd("DATA")[0] == 354
        r.send(b"Subject: slow\r\n")
        start = time.monotonic()
        assert r.closed()
        assert 3.5 <= time.monotonic() - start < 8
        r.close()
    finally:
        finish(d)


def test_received_auth(tmp_path):
    d = configured(tmp_path, "received_auth = yes\n")
    try:
        with smtplib.SMTP("127.0.0.1", d.port("submission"), timeout=10) as s:
            s.starttls(context=tls_context())
            s.login("demo@localhost", "demo")
            s.sendmail("demo@localhost", ["demo@localhost"], BODY)
        blob = inbox_blobs(d, "demo@localhost")[-1]
        assert b"\r\n\t(authenticated as demo@localhost)\r\n" in blob
        assert b" with ESMTPSA\r\n" in blob
    finally:
        finish(d)


def test_received_auth_off_by_default(daemon):
    with smtplib.SMTP("127.0.0.1", daemon.port("submission"), timeout=10) as s:
        s.starttls(context=tls_context())
        s.login("demo@localhost", "demo")
        s.sendmail("demo@localhost", ["demo@localhost"], BODY)
    assert b"authenticated as" not in inbox_blobs(daemon, "demo@localhost")[-1]


def test_lmtp_unix_socket(tmp_path):
    sock = tmp_path / "lmtp.sock"
    d = configured(tmp_path, extra=f"\n[listener lmtp-unix]\nprotocol = lmtp\npath = {sock}\n")
    try:
        before = len(inbox_blobs(d, "demo@localhost"))
        with smtplib.LMTP(str(sock), timeout=10) as s:
            s.ehlo_or_helo_if_needed()
            refused = s.sendmail("a@example.org", ["demo@localhost"], BODY)
            assert refused == {}
        blobs = inbox_blobs(d, "demo@localhost")
        assert len(blobs) == before + 1
        assert blobs[-1].split(b"\r\n")[2].startswith(b"Received: from ")
        assert b"([unix])" in blobs[-1] and b"with LMTP" in blobs[-1]
        assert blobs[-1].endswith(BODY)
    finally:
        finish(d)


MECHS = ["PLAIN", "LOGIN", "SCRAM-SHA-256"]


def auth_raw(r, mech):
    if mech == "PLAIN":
        creds = base64.b64encode(b"\0demo@localhost\0demo").decode()
        return r.cmd("AUTH PLAIN " + creds)[0]
    if mech == "LOGIN":
        code, _ = r.cmd("AUTH LOGIN")
        assert code == 334
        assert r.cmd(base64.b64encode(b"demo@localhost").decode())[0] == 334
        return r.cmd(base64.b64encode(b"demo").decode())[0]
    return scram_sha256_login(r, "demo@localhost", "demo")[0]


@pytest.mark.parametrize("mech", MECHS)
@pytest.mark.parametrize("service", ["submission", "submissions"])
def test_every_auth_mechanism(daemon, service, mech):
    r = Raw(daemon.port(service), tls=service == "submissions")
    r.reply()
    if service == "submission":
        r.cmd("EHLO c")
        assert r.cmd("STARTTLS")[0] == 220
        r.sock = tls_context().wrap_socket(r.sock)
    code, text = r.cmd("EHLO c")
    auth = [l for l in text.split("\n") if l.startswith("AUTH ")][0].split()[1:]
    assert set(MECHS) <= set(auth)
    assert auth_raw(r, mech) == 235
    assert r.cmd("MAIL FROM:<demo@localhost>")[0] == 250
    assert r.cmd("RCPT TO:<friend@remote.example>")[0] == 250
    r.close()


def queue_requiretls(d):
    return d.sql("SELECT q.sender, r.address, q.requiretls FROM queue q"
                 " JOIN queue_rcpts r ON r.queue_id = q.id ORDER BY q.id")


def test_requiretls(daemon):
    # Not offered, and refused, without TLS.
    r = Raw(daemon.port("smtp"))
    r.reply()
    assert "REQUIRETLS" not in r.cmd("EHLO c")[1].split("\n")
    code, text = r.cmd("MAIL FROM:<a@example.org> REQUIRETLS")
    assert code == 530 and text.startswith("5.7.10")
    r.close()
    # Under TLS (STARTTLS and implicit): offered, accepted, stored.
    for service in ("submission", "submissions"):
        r = Raw(daemon.port(service), tls=service == "submissions")
        r.reply()
        if service == "submission":
            assert "REQUIRETLS" not in r.cmd("EHLO c")[1].split("\n")
            assert r.cmd("STARTTLS")[0] == 220
            r.sock = tls_context().wrap_socket(r.sock)
        assert "REQUIRETLS" in r.cmd("EHLO c")[1].split("\n")
        creds = base64.b64encode(b"\0demo@localhost\0demo").decode()
        assert r.cmd("AUTH PLAIN " + creds)[0] == 235
        assert r.cmd("MAIL FROM:<demo@localhost> REQUIRETLS")[0] == 250
        assert r.cmd(f"RCPT TO:<secure-{service}@remote.example>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(BODY + b".\r\n")
        assert r.reply()[0] == 250
        assert r.cmd("MAIL FROM:<demo@localhost>")[0] == 250
        assert r.cmd(f"RCPT TO:<plain-{service}@remote.example>")[0] == 250
        assert r.cmd("DATA")[0] == 354
        r.send(BODY + b".\r\n")
        assert r.reply()[0] == 250
        r.close()
    rows = {addr: flag for _, addr, flag in queue_requiretls(daemon)}
    assert rows["secure-submission@remote.example"] == 1
    assert rows["secure-submissions@remote.example"] == 1
    assert rows["plain-submission@remote.example"] == 0
    assert rows["plain-submissions@remote.example"] == 0
