"""Outbound delivery end to end: a sending posthornd --dev with routes, a
relay or a DNS server on loopback (dnsmasq) pointing at receivers: a second
posthornd, or aiosmtpd sinks that accept, defer, reject, stall or lack
STARTTLS. Checks what arrives, the queue, and the DSNs in the sender's
INBOX (parsed with the email package)."""
import email
import email.policy
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import threading
import time
import urllib.request
import warnings

import pytest

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import Posthornd

DNSMASQ = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def inbox(daemon, address):
    """Message bytes in the INBOX of a user, in UID order."""
    return [data for _, data in daemon.inbox(address)]


def queue_count(daemon):
    """The entries in the queue, as `posthorn queue list` counts them."""
    out = daemon.cli("queue", "list", check=True).stdout
    return int(re.search(r"^(\d+) messages? in the queue$", out, re.M).group(1))


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


def fast_conf(extra="", retry_min="1s", retry_max="2s", delay_notice="0", queue=""):
    """[queue] with short retries, then [delivery] (extra may add keys to
    [delivery] first, then more sections)."""
    return (f"[queue]\nretry_min = {retry_min}\nretry_max = {retry_max}\n"
            f"delay_notice = {delay_notice}\n{queue}"
            "[delivery]\ntimeout_percent = 2\nconnect_timeout = 2s\n" + extra)


class Sink:
    """An aiosmtpd receiver that records sessions and answers RCPT and DATA
    from the rules given: rcpt(address) -> reply or None (250)."""

    def __init__(self, rcpt=None, data=None, auth=None, tls_context=None,
                 smtputf8=False, stall=0, no_plain=False):
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
            if no_plain:
                kwargs.update(auth_exclude_mechanism=["PLAIN"])
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=False)
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port,
                                     enable_SMTPUTF8=smtputf8, **kwargs)

    def start(self):
        self.controller.start()
        self.running = True
        return self

    def stop(self):
        if getattr(self, "running", False):
            self.controller.stop()
            self.running = False

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
         "--host-record=sink.test,127.0.0.1",
         # the preferred MX has nobody listening (127.0.0.2), the next one does
         "--mx-host=failover.test,mxa.failover.test,10",
         "--mx-host=failover.test,mxb.failover.test,20",
         "--host-record=mxa.failover.test,127.0.0.2",
         "--host-record=mxb.failover.test,127.0.0.1",
         # the preferred MX answers 421 (127.0.0.3), the next one takes it
         "--mx-host=busy.test,mxa.busy.test,10",
         "--mx-host=busy.test,mxb.busy.test,20",
         "--host-record=mxa.busy.test,127.0.0.3",
         "--host-record=mxb.busy.test,127.0.0.1",
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

            # the receiver does DSN itself: NOTIFY=SUCCESS is passed on and
            # we send no "relayed" report
            submit(sender, ["bob@remote.test"], message("dsn peer", "bob@remote.test"),
                   rcpt_options=["NOTIFY=SUCCESS"])
            assert wait_for(lambda: len(inbox(receiver, "bob@remote.test")) == 2)
            assert wait_for(lambda: queue_count(sender) == 0)
            time.sleep(1)
            assert reports(sender) == []

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


def route_conf(sink, extra="", domain="remote.test", opts="", **kw):
    return fast_conf(f"[routes]\n{domain} = 127.0.0.1:{sink.port}{opts}\n" + extra, **kw)


def queue_show(daemon):
    return daemon.cli("queue", "list").stdout


def make_tls_context(tmp_path):
    cert, key = tmp_path / "sink.crt", tmp_path / "sink.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
                    "-subj", "/CN=sink.test", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert), str(key))
    return ctx


# ---- routing: MX, A fallback, null MX ----

class BusyServer:
    """Greets every client with 421 and closes (on address:port); a
    subclass answers otherwise in serve()."""

    def __init__(self, address, port):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(8)
        self.greeted = 0
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.serve(c)

    def serve(self, c):
        self.greeted += 1
        c.sendall(b"421 4.3.2 busy, try another\r\n")
        c.close()

    def stop(self):
        self.sock.close()


def test_mx_and_a_fallback(tmp_path, dns):
    sink = Sink().start()
    busy = BusyServer("127.0.0.3", sink.port)
    sender = sender_daemon(tmp_path, fast_conf(
        f"smtp_port = {sink.port}\n[dns]\nupstream = 127.0.0.1@{dns}\n"))
    try:
        submit(sender, ["a@mxdomain.test"], message("via mx", "a@mxdomain.test"))
        submit(sender, ["b@afallback.test"], message("via a", "b@afallback.test"))
        assert wait_for(lambda: len(sink.messages) == 2)
        got = {tuple(m[1]): m for m in sink.messages}
        assert b"Subject: via mx" in got[("a@mxdomain.test",)][2]
        assert b"Subject: via a" in got[("b@afallback.test",)][2]
        assert all(m[0] == "demo@localhost" for m in sink.messages)
        # nothing of ours leaks: no Return-Path line goes out
        assert all(b"Return-Path:" not in m[2] for m in sink.messages)
        assert wait_for(lambda: queue_count(sender) == 0)

        submit(sender, ["c@failover.test"], message("next mx", "c@failover.test"))
        assert wait_for(lambda: len(sink.messages) == 3)
        assert sink.messages[2][1] == ["c@failover.test"]
        assert wait_for(lambda: queue_count(sender) == 0)

        submit(sender, ["d@busy.test"], message("after a 421", "d@busy.test"))
        assert wait_for(lambda: len(sink.messages) == 4)
        assert sink.messages[3][1] == ["d@busy.test"]
        assert busy.greeted >= 1

        submit(sender, ["x@nullmx.test"], message("to null mx", "x@nullmx.test"))
        dsns = wait_for(lambda: reports(sender))
        _, rcpts = dsn_fields(dsns[0])
        assert rcpts[0]["Action"] == "failed"
        assert rcpts[0]["Status"] == "5.1.10"
        assert "null MX" in rcpts[0]["Diagnostic-Code"]
        assert len(sink.messages) == 4
    finally:
        sender.stop()
        sink.stop()
        busy.stop()
    sender.assert_clean()


# ---- sessions ----

def test_several_messages_on_one_connection(tmp_path):
    sink = Sink()	# not listening yet: the first attempt fails
    sender = sender_daemon(tmp_path, route_conf(sink, queue="max_per_destination = 1\n"))
    try:
        for i in range(3):
            submit(sender, [f"r{i}@remote.test"], message(f"batch {i}", f"r{i}@remote.test"))
        assert wait_for(lambda: "Connection refused" in queue_show(sender))
        sink.start()
        assert wait_for(lambda: len(sink.messages) == 3)
        # one session carried all three (MAIL after a completed one)
        assert len(sink.sessions) == 1
        assert sorted(m[1][0] for m in sink.messages) == [
            "r0@remote.test", "r1@remote.test", "r2@remote.test"]
        assert wait_for(lambda: queue_count(sender) == 0)
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_one_transaction_per_domain(tmp_path):
    sink = Sink().start()
    sender = sender_daemon(tmp_path, route_conf(
        sink, extra=f"other.test = 127.0.0.1:{sink.port}\n"))
    try:
        submit(sender, ["a@remote.test", "b@remote.test", "c@other.test"],
               message("two domains"))
        assert wait_for(lambda: len(sink.messages) == 2)
        rcpts = sorted(tuple(sorted(m[1])) for m in sink.messages)
        assert rcpts == [("a@remote.test", "b@remote.test"), ("c@other.test",)]
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


@pytest.mark.parametrize("mech", ["PLAIN", "LOGIN"])
def test_smarthost_with_auth(tmp_path, mech):
    sink = Sink(auth=(b"relayuser", b"relay pw"), no_plain=mech == "LOGIN",
                tls_context=make_tls_context(tmp_path)).start()
    pw = tmp_path / "relay.pw"
    pw.write_text("relay pw\n")
    sender = sender_daemon(tmp_path, fast_conf(
        f"[relay]\nhost = 127.0.0.1\nport = {sink.port}\nuser = relayuser\n"
        f"password_file = {pw}\ntls = required\n"))
    try:
        submit(sender, ["someone@anywhere.test"], message("via relay", "someone@anywhere.test"))
        assert wait_for(lambda: len(sink.messages) == 1)
        assert sink.auth_logins == ["relayuser"]
        assert sink.messages[0][1] == ["someone@anywhere.test"]
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_tls_required_but_not_offered_defers(tmp_path):
    sink = Sink().start()	# no STARTTLS
    sender = sender_daemon(tmp_path, route_conf(sink, opts=" tls=required"))
    try:
        submit(sender, ["x@remote.test"], message("needs tls", "x@remote.test"))
        out = wait_for(lambda: "TLS is required" in queue_show(sender) and queue_show(sender))
        assert "x@remote.test" in out and "pending" in out
        assert sink.messages == []
        assert queue_count(sender) == 1
        assert reports(sender) == []
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


# ---- retries and reports ----

def test_retry_schedule(tmp_path):
    tries = []

    def data_rule(env):
        tries.append(time.monotonic())
        return "451 4.3.0 try again" if len(tries) <= 2 else None

    sink = Sink(data=data_rule).start()
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        submit(sender, ["x@remote.test"], message("retried", "x@remote.test"))
        assert wait_for(lambda: len(sink.messages) == 1, timeout=30)
        assert len(tries) == 3
        # retry_min 1 s, doubling: about 1 s, then about 2 s
        assert 0.8 <= tries[1] - tries[0] <= 3.5
        assert 1.5 <= tries[2] - tries[1] <= 4.5
        assert wait_for(lambda: queue_count(sender) == 0)
        assert reports(sender) == []
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_bounce_contents(tmp_path):
    sink = Sink(rcpt=lambda a: "550 5.1.1 <%s>: no such user" % a if a.startswith("bad") else None).start()
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        submit(sender, ["good@remote.test", "bad@remote.test"],
               message("half bounces", "good@remote.test"))
        dsns = wait_for(lambda: reports(sender))
        assert len(dsns) == 1
        report = dsns[0]
        assert report.get_param("report-type") == "delivery-status"
        per_msg, rcpts = dsn_fields(report)
        assert "dns;" in per_msg["Reporting-MTA"].replace(" ", "")
        assert len(rcpts) == 1
        r = rcpts[0]
        assert r["Action"] == "failed"
        assert r["Status"] == "5.1.1"
        assert "bad@remote.test" in r["Final-Recipient"]
        assert r["Remote-MTA"].replace(" ", "") == "dns;127.0.0.1"
        assert r["Diagnostic-Code"].startswith("smtp; 550 5.1.1")
        original = [p for p in report.walk()
                    if p.get_content_type() in ("message/rfc822", "text/rfc822-headers")]
        assert original and "Subject: half bounces" in original[0].as_string()
        assert [m[1] for m in sink.messages] == [["good@remote.test"]]
        assert wait_for(lambda: queue_count(sender) == 0)
        metrics = urllib.request.urlopen(
            f"http://127.0.0.1:{sender.port('http')}/metrics", timeout=10).read().decode()
        assert 'posthorn_outbound_recipients_total{result="sent"} 1' in metrics
        assert 'posthorn_outbound_recipients_total{result="failed"} 1' in metrics
        assert "posthorn_outbound_dsn_total 1" in metrics
        assert "posthorn_outbound_sessions_total 1" in metrics
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_delay_notice(tmp_path):
    sink = Sink(rcpt=lambda a: "450 4.2.1 mailbox busy").start()
    sender = sender_daemon(tmp_path, route_conf(sink, delay_notice="2s"))
    try:
        submit(sender, ["slow@remote.test"], message("delayed", "slow@remote.test"))
        dsns = wait_for(lambda: reports(sender), timeout=30)
        _, rcpts = dsn_fields(dsns[0])
        assert rcpts[0]["Action"] == "delayed"
        assert rcpts[0]["Status"] == "4.2.1"
        assert "Will-Retry-Until" in rcpts[0]
        time.sleep(3)
        assert len(reports(sender)) == 1	# only one notice
        assert queue_count(sender) == 1
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_dsn_success_report_from_a_peer_without_dsn(tmp_path):
    sink = Sink().start()
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        submit(sender, ["x@remote.test"], message("notify me", "x@remote.test"),
               rcpt_options=["NOTIFY=SUCCESS"])
        assert wait_for(lambda: len(sink.messages) == 1)
        dsns = wait_for(lambda: reports(sender))
        _, rcpts = dsn_fields(dsns[0])
        assert rcpts[0]["Action"] == "relayed"
        assert rcpts[0]["Status"].startswith("2.")
        # NOTIFY=NEVER: nothing, even for a failure
        sink.rcpt_rule = lambda a: "550 5.1.1 no"
        submit(sender, ["y@remote.test"], message("never tell", "y@remote.test"),
               rcpt_options=["NOTIFY=NEVER"])
        assert wait_for(lambda: queue_count(sender) == 0)
        time.sleep(1)
        assert len(reports(sender)) == 1
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_smtputf8_message_to_a_peer_without_it_bounces(tmp_path):
    sink = Sink().start()	# no SMTPUTF8
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        submit(sender, ["j\u00f6rg@remote.test"],
               message("utf8", "j\u00f6rg@remote.test").decode().encode("utf-8"),
               mail_options=["SMTPUTF8"])
        dsns = wait_for(lambda: reports(sender))
        _, rcpts = dsn_fields(dsns[0])
        assert rcpts[0]["Action"] == "failed"
        assert rcpts[0]["Status"] == "5.6.7"
        assert sink.messages == []
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def local_send(daemon, sender, rcpts, data):
    """SMTP over the local sendmail socket (raw: smtplib has no unix SMTP)."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(os.path.join(daemon.data_dir, "sendmail.sock"))
    f = s.makefile("rwb")

    def reply():
        while True:
            line = f.readline()
            if line[3:4] != b"-":
                return line

    def cmd(c):
        f.write(c.encode() + b"\r\n")
        f.flush()
        return reply()

    assert reply().startswith(b"220")
    assert cmd("EHLO test").startswith(b"250")
    assert cmd(f"MAIL FROM:<{sender}>").startswith(b"250")
    for r in rcpts:
        assert cmd(f"RCPT TO:<{r}>").startswith(b"250")
    assert cmd("DATA").startswith(b"354")
    f.write(data + b".\r\n")
    f.flush()
    assert reply().startswith(b"250")
    cmd("QUIT")
    s.close()


def test_no_report_for_a_null_sender(tmp_path):
    sink = Sink(rcpt=lambda a: "550 5.1.1 no such user").start()
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        local_send(sender, "", ["bad@remote.test"], message("a bounce itself", "bad@remote.test"))
        assert wait_for(lambda: queue_count(sender) == 0)
        time.sleep(1)
        assert reports(sender) == []
        assert sink.messages == []
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_kill_during_delivery_then_restart(tmp_path):
    sink = Sink(stall=4).start()
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        submit(sender, ["x@remote.test"], message("survives kill", "x@remote.test"))
        # the sink is inside DATA, stalling before its 250
        time.sleep(2.5)
        sender.proc.kill()
        sender.proc.wait()
        sender.logfile.close()
        sink.stall = 0
        sender.start()
        assert wait_for(lambda: len(sink.messages) >= 1, timeout=30)
        assert wait_for(lambda: queue_count(sender) == 0)
        time.sleep(5)	# a stalled session finishing late may add one
        assert 1 <= len(sink.messages) <= 2
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_queue_flush_makes_it_due(tmp_path):
    sink = Sink()	# down for the first try
    sender = sender_daemon(tmp_path, route_conf(sink, retry_min="1h", retry_max="2h"))
    try:
        submit(sender, ["x@remote.test"], message("flushed", "x@remote.test"))
        assert wait_for(lambda: "Connection refused" in queue_show(sender))
        sink.start()
        time.sleep(2)
        assert sink.messages == []	# next try in an hour
        sender.cli("queue", "flush", check=True)
        assert wait_for(lambda: len(sink.messages) == 1, timeout=10)
        assert wait_for(lambda: queue_count(sender) == 0)
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def old_tls_context(tmp_path):
    """A server context that speaks TLS 1.1 at most: our handshake (TLS 1.2
    or later) with it fails."""
    ctx = make_tls_context(tmp_path)
    ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
    return ctx


def test_failed_opportunistic_tls_falls_back_to_plaintext(tmp_path):
    sink = Sink(tls_context=old_tls_context(tmp_path)).start()
    sender = sender_daemon(tmp_path, route_conf(sink))
    try:
        submit(sender, ["x@remote.test"], message("plain after all", "x@remote.test"))
        assert wait_for(lambda: len(sink.messages) == 1)
        assert "TLS handshake" in sender.log()
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_tls_verify_policy(tmp_path, dns):
    ctx = make_tls_context(tmp_path)	# CN=sink.test, self-signed
    sink = Sink(tls_context=ctx).start()
    sender = sender_daemon(tmp_path, fast_conf(
        f"[dns]\nupstream = 127.0.0.1@{dns}\n"
        f"[routes]\nremote.test = sink.test:{sink.port} tls=verify\n"
        f"byip.test = 127.0.0.1:{sink.port} tls=verify\n"))
    try:
        # not signed by a CA we trust: deferred, nothing sent
        submit(sender, ["x@remote.test"], message("must verify", "x@remote.test"))
        assert wait_for(lambda: "does not verify" in queue_show(sender))
        assert sink.messages == []
    finally:
        sender.stop()
    # trust the sink's certificate
    with open(sender.config_path) as fh:
        conf = fh.read()
    with open(sender.config_path, "w") as fh:
        fh.write(conf.replace("[delivery]\n", f"[delivery]\nca_file = {tmp_path / 'sink.crt'}\n", 1))
    sender.start()
    try:
        sender.cli("queue", "flush", check=True)
        assert wait_for(lambda: len(sink.messages) == 1)
        assert sink.messages[0][1] == ["x@remote.test"]
        # trusted, but the name (an IP address here) does not match
        submit(sender, ["y@byip.test"], message("wrong name", "y@byip.test"))
        assert wait_for(lambda: "mismatch" in queue_show(sender))
        assert len(sink.messages) == 1
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_report_to_a_remote_sender_is_queued_from_the_null_sender(tmp_path):
    sink = Sink(rcpt=lambda a: "550 5.1.1 no such user" if a.startswith("bad") else None).start()
    sender = sender_daemon(tmp_path, route_conf(
        sink, extra=f"other.test = 127.0.0.1:{sink.port}\n"))
    try:
        local_send(sender, "someone@other.test", ["bad@remote.test"],
                   message("from afar", "bad@remote.test", sender="someone@other.test"))
        assert wait_for(lambda: len(sink.messages) == 1)
        mail_from, rcpts, content, _ = sink.messages[0]
        assert mail_from == "<>" and rcpts == ["someone@other.test"]
        report = email.message_from_bytes(content)
        assert report.get_content_type() == "multipart/report"
        _, fields = dsn_fields(report)
        assert fields[0]["Action"] == "failed"
        assert wait_for(lambda: queue_count(sender) == 0)
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_dev_mode_needs_a_route_or_a_resolver(daemon):
    """posthornd --dev never mails the Internet on its own."""
    submit(daemon, ["someone@example.org"], message("stays here", "someone@example.org"))
    out = wait_for(lambda: "no route for example.org" in queue_show(daemon) and queue_show(daemon))
    assert "pending" in out and "4.4.0" in out
    assert queue_count(daemon) == 1
