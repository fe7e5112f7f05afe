"""Outbound delivery end to end: a sending posthornd --dev with routes, a
relay or a DNS server on loopback (dnsmasq) pointing at receivers: a second
posthornd, or aiosmtpd sinks that accept, defer, reject, stall or lack
STARTTLS. Checks what arrives, the queue, and the DSNs in the sender's
INBOX (parsed with the email package)."""
import email
import email.policy
import os
import shutil
import smtplib
import socket
import sqlite3
import ssl
import subprocess
import threading
import time

import pytest

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import Posthornd

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def db(daemon):
    path = os.path.join(daemon.data_dir, "posthorn.db")
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def inbox(daemon, address):
    """Message bytes in the INBOX of a user, in UID order."""
    with db(daemon) as con:
        rows = con.execute(
            "SELECT b.data FROM messages m JOIN blobs b ON b.id = m.blob_id"
            " JOIN mailboxes x ON x.id = m.mailbox_id"
            " JOIN users u ON u.id = x.user_id"
            " WHERE u.address = ? AND upper(x.name) = 'INBOX' ORDER BY m.uid",
            (address,)).fetchall()
    return [bytes(r[0]) for r in rows]


def queue_count(daemon):
    with db(daemon) as con:
        return con.execute("SELECT count(*) FROM queue").fetchone()[0]


def wait_for(cond, timeout=20, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(step)
    return cond()


def reports(daemon, address="demo@localhost"):
    """The DSNs (multipart/report) in a user's INBOX, parsed."""
    out = []
    for raw in inbox(daemon, address):
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        if msg.get_content_type() == "multipart/report":
            out.append(msg)
    return out


def dsn_fields(report):
    """(per-message fields, [per-recipient fields]) of a report."""
    for part in report.walk():
        if part.get_content_type() == "message/delivery-status":
            blocks = part.get_payload()
            return dict(blocks[0].items()), [dict(b.items()) for b in blocks[1:]]
    raise AssertionError("no message/delivery-status part")


def message(subject, to="rcpt@remote.test", sender="demo@localhost", body="Hello.\r\n"):
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
            f"Message-ID: <{subject.replace(' ', '-')}@localhost>\r\n\r\n{body}").encode()


def submit(daemon, rcpts, data, sender="demo@localhost", rcpt_options=(), mail_options=()):
    with smtplib.SMTP("127.0.0.1", daemon.port("submission"), timeout=10) as s:
        s.login("demo@localhost", "demo")
        return s.sendmail(sender, rcpts, data, mail_options=list(mail_options),
                          rcpt_options=list(rcpt_options))


def sender_daemon(tmp_path, conf, name="sender"):
    """A posthornd --dev whose config gets the outbound sections in conf."""
    d = Posthornd(tmp_path / name)
    d.start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write("\n" + conf)
    return d.start()


def fast_conf(extra="", retry_min="1s", retry_max="2s", delay_notice="0"):
    return (f"[queue]\nretry_min = {retry_min}\nretry_max = {retry_max}\n"
            f"delay_notice = {delay_notice}\n"
            "[delivery]\ntimeout_percent = 2\nconnect_timeout = 2s\n" + extra)


class Sink:
    """An aiosmtpd receiver that records sessions and answers RCPT and DATA
    from the rules given: rcpt(address) -> reply or None (250)."""

    def __init__(self, rcpt=None, data=None, auth=None, tls_context=None,
                 smtputf8=False, stall=0):
        self.messages = []	# (mail_from, rcpt_tos, content, session peer)
        self.sessions = set()
        self.rcpt_rule = rcpt or (lambda addr: None)
        self.data_rule = data or (lambda env: None)
        self.stall = stall
        self.auth_logins = []
        self.port = free_port()
        kwargs = {}
        if auth is not None:
            def authenticator(server, session, envelope, mechanism, auth_data):
                ok = (isinstance(auth_data, LoginPassword) and
                      (auth_data.login, auth_data.password) == auth)
                if ok:
                    self.auth_logins.append(auth_data.login.decode())
                return AuthResult(success=ok)
            kwargs.update(authenticator=authenticator, auth_require_tls=True)
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=False)
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                     enable_SMTPUTF8=smtputf8, **kwargs)

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.rcpt_rule(address)
        if reply is not None:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.stall:
            import asyncio
            await asyncio.sleep(self.stall)
        reply = self.data_rule(envelope)
        if reply is not None:
            return reply
        self.sessions.add(id(session))
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),
                              envelope.original_content, id(session)))
        return "250 2.0.0 OK queued"


@pytest.fixture
def dns(tmp_path):
    """dnsmasq on a loopback port with the test zones; yields its port."""
    port = free_port()
    proc = subprocess.Popen(
        [DNSMASQ, "--no-daemon", f"--port={port}", "--listen-address=127.0.0.1",
         "--bind-interfaces", "--no-resolv", "--no-hosts", "-C", "/dev/null",
         "--pid-file=", "--user=", "--group=", "--log-facility=/dev/null",
         "--local=/test/",
         "--mx-host=mxdomain.test,mx1.mxdomain.test,10",
         "--mx-host=mxdomain.test,mx2.mxdomain.test,20",
         "--host-record=mx1.mxdomain.test,127.0.0.1",
         "--host-record=mx2.mxdomain.test,127.0.0.1",
         "--host-record=afallback.test,127.0.0.1",
         "--dns-rr=nullmx.test,15,000000"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    yield port
    proc.terminate()
    proc.wait()


# ---- the "done when": two posthornd instances ----

def test_routed_to_second_instance_and_bounce(tmp_path):
    receiver = Posthornd(tmp_path / "receiver").start()
    try:
        receiver.cli("domain", "add", "remote.test", check=True)
        receiver.cli("user", "add", "bob@remote.test", "--password-stdin",
                     input="secret\n", check=True)
        sender = sender_daemon(tmp_path, fast_conf(
            f"[routes]\nremote.test = 127.0.0.1:{receiver.port('smtp')}\n"))
        try:
            submit(sender, ["bob@remote.test"], message("routed hello", "bob@remote.test"))
            got = wait_for(lambda: inbox(receiver, "bob@remote.test"))
            assert len(got) == 1 and b"Subject: routed hello" in got[0]
            # our own Return-Path is not passed on; the receiver writes its own
            assert got[0].count(b"Return-Path:") == 1
            assert got[0].startswith(b"Return-Path: <demo@localhost>")
            assert wait_for(lambda: queue_count(sender) == 0)

            submit(sender, ["nobody@remote.test"], message("to nobody", "nobody@remote.test"))
            dsns = wait_for(lambda: reports(sender))
            assert len(dsns) == 1
            report = dsns[0]
            assert report["From"].startswith("MAILER-DAEMON@") or "MAILER-DAEMON@" in report["From"]
            assert report["Auto-Submitted"] == "auto-replied"
            per_msg, rcpts = dsn_fields(report)
            assert rcpts[0]["Action"] == "failed"
            assert rcpts[0]["Status"].startswith("5.")
            assert "nobody@remote.test" in rcpts[0]["Final-Recipient"]
            assert rcpts[0]["Diagnostic-Code"].startswith("smtp; 550")
            assert "Subject: to nobody" in report.as_string()
            assert wait_for(lambda: queue_count(sender) == 0)
        finally:
            sender.stop()
            sender.assert_clean()
    finally:
        receiver.stop()
        receiver.assert_clean()
