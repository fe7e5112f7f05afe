"""SMTP, submission and submissions against a real posthornd --dev with
Python's smtplib and raw sockets: local delivery byte for byte, relay
control, STARTTLS + AUTH, implicit TLS, smuggling, pipelining, limits."""
import base64
import os
import re
import smtplib
import socket
import ssl
import time

import pytest

from conftest import Posthornd

MESSAGE = (b"From: Alice <alice@example.org>\r\n"
           b"To: Demo <demo@localhost>\r\n"
           b"Subject: hello from test_smtp\r\n"
           b"Message-ID: <test-smtp-1@example.org>\r\n"
           b"\r\n"
           b"Body line one.\r\n"
           b".leading dot survives\r\n"
           b"last line\r\n")


# The outbound queue runner would deliver (or bounce) queued mail at once;
# relayed through a closed port, it stays queued (deferred) for the checks.
HOLD_OUTBOUND = "\n[relay]\nhost = 127.0.0.1\nport = 1\n"


def held_daemon(data_dir, extra=""):
    """A dev daemon whose outbound mail stays in the queue; extra is
    appended to its config."""
    d = Posthornd(data_dir).start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write(HOLD_OUTBOUND + extra)
    return d.start()


@pytest.fixture
def daemon(tmp_path):
    """Overrides conftest's: the same, with outbound mail held."""
    d = held_daemon(tmp_path / "data")
    yield d
    status = d.stop()
    d.assert_clean()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def inbox_blobs(daemon, address):
    """Message bytes in the INBOX of a user, in UID order."""
    return [data for _, data in daemon.inbox(address)]


def queued(daemon):
    return daemon.sql(
        "SELECT q.sender, r.address, b.data FROM queue q"
        " JOIN queue_rcpts r ON r.queue_id = q.id"
        " JOIN blob_data b ON b.id = q.blob_id ORDER BY q.id")


class Raw:
    """A line-oriented raw SMTP client, for what smtplib will not send."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def reply(self):
        """One whole (possibly multi-line) reply as (code, text)."""
        lines = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError(f"closed; got {lines} {self.buf!r}")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            lines.append(line.decode())
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(l[4:] for l in lines)

    def cmd(self, line):
        self.send(line.encode() + b"\r\n")
        return self.reply()

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.sock.close()


def test_deliver_local_byte_for_byte(daemon):
    before = len(inbox_blobs(daemon, "demo@localhost"))
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        code, text = s.ehlo("client.example.org")
        assert code == 250
        feats = text.decode().split("\n")
        for ext in ("PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES",
                    "SMTPUTF8", "STARTTLS", f"SIZE {25 << 20}"):
            assert ext in feats
        assert not any(f.startswith("AUTH") for f in feats)  # MTA port
        s.mail("alice@example.org")
        s.rcpt("demo@localhost")
        code, text = s.data(MESSAGE)
        assert code == 250
        m = re.match(r"2\.0\.0 Ok: queued as (\S+)$", text.decode())
        assert m, text
        qid = m.group(1)
    blobs = inbox_blobs(daemon, "demo@localhost")
    assert len(blobs) == before + 1
    got = blobs[-1]
    head, _, rest = got.partition(b"\r\n")
    assert head == b"Return-Path: <alice@example.org>"
    # One local recipient: Delivered-To names it (as Dovecot's LMTP does).
    dto, _, rest = rest.partition(b"\r\n")
    assert dto == b"Delivered-To: demo@localhost"
    # Then the inbound checks' verdicts (RFC 8601); the dev config has no
    # DNS, so SPF cannot tell.
    ar, sep, rest = rest.partition(b"\r\nReceived: ")
    assert sep and ar.startswith(b"Authentication-Results: ")
    assert b"spf=temperror" in ar and b"smtp.mailfrom=alice@example.org" in ar
    rest = b"Received: " + rest
    received, sep, body = rest.partition(b"\r\nFrom: ")
    assert sep
    assert (b"From: " + body) == MESSAGE
    assert received.startswith(b"Received: from client.example.org ([127.0.0.1])\r\n\tby ")
    assert b"with ESMTP\r\n" in received
    assert f"id {qid}".encode() in received
    assert b"for <demo@localhost>;" in received
    assert f"id={qid}" in daemon.log() and "result=queued" in daemon.log()


def test_unknown_user_550(daemon):
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        s.ehlo("c.example.org")
        s.mail("alice@example.org")
        code, text = s.rcpt("nobody-here@localhost")
        assert code == 550 and text.startswith(b"5.1.1")
        code, text = s.rcpt("nobody@example.test")
        assert code == 550 and text.startswith(b"5.1.1")
        # <postmaster> goes to [server] admin, on a dev server the demo
        # user (test_local_names.py has the details).
        code, text = s.rcpt("<postmaster>")
        assert code == 250


@pytest.mark.parametrize("rcpt", [
    "<someone@example.org>",
    "<someone%example.org@localhost>",
    "<example.org!someone@localhost>",
    "<\"someone@example.org\"@localhost>",
    "<@localhost:someone@example.org>",
])
def test_relay_denied(daemon, rcpt):
    r = Raw(daemon.port("smtp"))
    assert r.reply()[0] == 220
    assert r.cmd("EHLO c.example.org")[0] == 250
    assert r.cmd("MAIL FROM:<alice@example.org>")[0] == 250
    code, text = r.cmd(f"RCPT TO:{rcpt}")
    assert code == 554 and text.startswith("5.7.1"), (code, text)
    assert r.cmd("DATA")[0] == 503
    r.close()
    assert queued(daemon) == []


def test_submission_requires_auth(daemon):
    r = Raw(daemon.port("submission"))
    r.reply()
    code, text = r.cmd("EHLO c.example.org")
    assert "AUTH SCRAM-SHA-256 PLAIN LOGIN" in text.split("\n")  # loopback dev
    code, text = r.cmd("MAIL FROM:<demo@localhost>")
    assert code == 530 and text.startswith("5.7.0")
    r.close()


def test_starttls_auth_plain_relay_queued(daemon):
    with smtplib.SMTP("127.0.0.1", daemon.port("submission"), timeout=10) as s:
        s.ehlo("laptop")
        s.starttls(context=tls_context())
        code, text = s.ehlo("laptop")
        feats = text.decode().split("\n")
        assert "STARTTLS" not in feats
        assert "AUTH SCRAM-SHA-256 PLAIN LOGIN" in feats
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            s.login("demo@localhost", "wrong")
        assert err.value.smtp_code == 535
        s.login("demo@localhost", "demo")  # smtplib picks PLAIN
        s.sendmail("demo@localhost", ["someone@example.org"], MESSAGE)
    rows = queued(daemon)
    assert len(rows) == 1
    sender, address, data = rows[0]
    assert (sender, address) == ("demo@localhost", "someone@example.org")
    data = bytes(data)
    assert data.endswith(MESSAGE)
    assert re.search(rb"with ESMTPSA\r\n\t\(using TLSv1\.[23] with cipher \S+\)\r\n", data)


def test_auth_login_and_cancel(daemon):
    r = Raw(daemon.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    assert r.cmd("AUTH LOGIN")[0] == 334
    assert r.cmd("*")[0] == 501
    code, _ = r.cmd("AUTH LOGIN " + base64.b64encode(b"demo@localhost").decode())
    assert code == 334
    code, text = r.cmd(base64.b64encode(b"demo").decode())
    assert code == 235 and text.startswith("2.7.0")
    assert r.cmd("AUTH PLAIN")[0] == 503
    assert r.cmd("MAIL FROM:<demo@localhost>")[0] == 250
    r.close()


def test_implicit_tls_submissions(daemon):
    ctx = tls_context()
    with smtplib.SMTP_SSL("127.0.0.1", daemon.port("submissions"), timeout=10,
                          context=ctx) as s:
        code, text = s.ehlo("laptop")
        assert "STARTTLS" not in text.decode().split("\n")
        s.login("demo@localhost", "demo")
        s.sendmail("demo@localhost", ["demo@localhost"], MESSAGE)
    got = inbox_blobs(daemon, "demo@localhost")[-1]
    assert got.endswith(MESSAGE)
    assert b"with ESMTPSA\r\n\t(using TLSv1." in got


@pytest.mark.parametrize("payload", [
    b"Subject: x\r\n\r\nline\n.\r\nMAIL FROM:<evil@example.org>\r\n",
    b"Subject: x\r\n\r\nline\r\n.\nRCPT TO:<demo@localhost>\r\n",
    b"Subject: x\r\n\r\nbare\rcr\r\n",
])
def test_bare_lf_cr_smuggling_rejected(daemon, payload):
    before = len(inbox_blobs(daemon, "demo@localhost"))
    r = Raw(daemon.port("smtp"))
    r.reply()
    r.cmd("EHLO c")
    r.cmd("MAIL FROM:<alice@example.org>")
    r.cmd("RCPT TO:<demo@localhost>")
    assert r.cmd("DATA")[0] == 354
    r.send(payload + b".\r\n")
    code, _ = r.reply()
    assert 500 <= code < 600
    # In sync: the next command is answered as a command, once.
    assert r.cmd("NOOP")[0] == 250
    r.close()
    assert len(inbox_blobs(daemon, "demo@localhost")) == before


def test_pipelining(daemon):
    before = len(inbox_blobs(daemon, "demo@localhost"))
    r = Raw(daemon.port("smtp"))
    r.reply()
    r.cmd("EHLO c")
    r.send(b"MAIL FROM:<a@example.org>\r\nRCPT TO:<demo@localhost>\r\n"
           b"RCPT TO:<nobody@localhost>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(4)] == [250, 250, 550, 354]
    r.send(b"Subject: p1\r\n\r\none\r\n.\r\nMAIL FROM:<b@example.org>\r\n"
           b"RCPT TO:<demo@localhost>\r\nDATA\r\n")
    assert [r.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    r.send(b"Subject: p2\r\n\r\ntwo\r\n.\r\nQUIT\r\n")
    assert r.reply()[0] == 250
    assert r.reply()[0] == 221
    assert r.closed()
    blobs = inbox_blobs(daemon, "demo@localhost")
    assert len(blobs) == before + 2
    assert blobs[-2].endswith(b"Subject: p1\r\n\r\none\r\n")
    assert blobs[-1].endswith(b"Subject: p2\r\n\r\ntwo\r\n")


def test_starttls_injection_closes(daemon):
    r = Raw(daemon.port("smtp"))
    r.reply()
    r.cmd("EHLO c")
    r.send(b"STARTTLS\r\nMAIL FROM:<evil@example.org>\r\n")
    code, _ = r.reply()
    assert code == 220
    assert r.closed()


def test_limits_and_errors(daemon):
    r = Raw(daemon.port("smtp"))
    r.reply()
    assert r.cmd("MAIL FROM:<a@example.org>")[0] == 503
    r.cmd("EHLO c")
    code, text = r.cmd("MAIL FROM:<a@example.org> SIZE=%d" % ((25 << 20) + 1))
    assert code == 552 and text.startswith("5.3.4")
    code, text = r.cmd("NOOP " + "x" * 600)
    assert code == 500 and text.startswith("5.5.2")
    assert r.cmd("VRFY demo")[0] == 252
    assert r.cmd("EXPN staff")[0] == 252
    code, text = r.cmd("BOGUS")
    assert code == 500 and text.startswith("5.5.1")
    r.close()
    r = Raw(daemon.port("smtp"))
    r.reply()
    for _ in range(19):
        assert r.cmd("BOGUS")[0] == 500
    code, text = r.cmd("BOGUS")
    assert code == 500
    assert r.reply()[0] == 421
    assert r.closed()


def test_oversize_message(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write("\n[smtp]\nmax_message_size = 10k\n")
    d.start()
    try:
        before = len(inbox_blobs(d, "demo@localhost"))
        r = Raw(d.port("smtp"))
        r.reply()
        assert "SIZE 10240" in r.cmd("EHLO c")[1].split("\n")
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd("RCPT TO:<demo@localhost>")
        assert r.cmd("DATA")[0] == 354
        r.send(b"Subject: big\r\n\r\n" + (b"x" * 70 + b"\r\n") * 200 + b".\r\n")
        code, text = r.reply()
        assert code == 552 and text.startswith("5.3.4")
        assert r.cmd("NOOP")[0] == 250
        r.close()
        assert len(inbox_blobs(d, "demo@localhost")) == before
    finally:
        status = d.stop()
        d.assert_clean()
    assert status == 0


def test_submission_sender_must_be_owned(tmp_path):
    d = held_daemon(tmp_path / "data", "\n[smtp]\nsender_check = owned\n")
    r = Raw(d.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    creds = base64.b64encode(b"\0demo@localhost\0demo").decode()
    assert r.cmd("AUTH PLAIN " + creds)[0] == 235
    for sender in ("<someone@example.org>", "<>", "<nobody@localhost>"):
        code, text = r.cmd(f"MAIL FROM:{sender}")
        assert code == 553 and text.startswith("5.7.1"), (sender, code, text)
    assert r.cmd("MAIL FROM:<Demo+lists@LOCALHOST>")[0] == 250
    assert r.cmd("RSET")[0] == 250
    assert r.cmd("MAIL FROM:<DEMO@localhost>")[0] == 250
    r.close()
    assert d.stop() == 0, d.log()
    d.assert_clean()


def test_dev_submission_takes_any_sender(daemon):
    """A dev server leaves sender_check unset, which means "any" there:
    swaks' default sender (user@host) may submit, as the README shows."""
    r = Raw(daemon.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    creds = base64.b64encode(b"\0demo@localhost\0demo").decode()
    assert r.cmd("AUTH PLAIN " + creds)[0] == 235
    assert r.cmd("MAIL FROM:<someone@example.org>")[0] == 250
    r.close()


def test_early_talker_refused(daemon):
    sock = socket.create_connection(("127.0.0.1", daemon.port("smtp")), timeout=10)
    sock.sendall(b"EHLO spammer\r\n")
    data = b""
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    sock.close()
    assert data.startswith(b"554 5.5.0"), data
    assert b"220" not in data
    assert "talked before the greeting" in daemon.log()


def test_auth_failure_delays_next_attempt(daemon):
    r = Raw(daemon.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    bad = base64.b64encode(b"\0demo@localhost\0nope").decode()
    good = base64.b64encode(b"\0demo@localhost\0demo").decode()
    assert r.cmd("AUTH PLAIN " + bad)[0] == 535
    start = time.monotonic()
    # Pipelined behind the held AUTH: answered in order after the delay.
    r.send(f"AUTH PLAIN {good}\r\nNOOP\r\n".encode())
    assert r.reply()[0] == 235
    assert time.monotonic() - start >= 0.9  # dev fail_delay is 1s
    assert r.reply()[0] == 250
    r.close()


def test_lmtp_reply_per_recipient(daemon):
    before = len(inbox_blobs(daemon, "demo@localhost"))
    r = Raw(daemon.port("lmtp"))
    code, text = r.reply()
    assert code == 220 and "LMTP" in text
    assert r.cmd("EHLO mta")[0] == 500
    code, text = r.cmd("LHLO mta.example.org")
    assert code == 250 and "PIPELINING" in text.split("\n")
    assert r.cmd("MAIL FROM:<alice@example.org>")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    assert r.cmd("RCPT TO:<nobody@localhost>")[0] == 550
    assert r.cmd("RCPT TO:<demo+tag@localhost>")[0] == 250
    assert r.cmd("RCPT TO:<someone@example.org>")[0] == 554
    assert r.cmd("DATA")[0] == 354
    r.send(MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    first = r.reply()
    second = r.reply()
    assert first[0] == 250 and first[1].startswith("2.0.0 <demo@localhost> Ok")
    assert second[0] == 250 and second[1].startswith("2.0.0 <demo+tag@localhost> Ok")
    assert r.cmd("NOOP")[0] == 250
    # A refused message gets one reply per recipient too.
    r.cmd("MAIL FROM:<alice@example.org>")
    r.cmd("RCPT TO:<demo@localhost>")
    r.cmd("RCPT TO:<demo+x@localhost>")
    r.cmd("DATA")
    r.send(b"Subject: x\r\n\r\nbare\nlf\r\n.\r\n")
    replies = [r.reply() for _ in range(2)]
    assert 500 <= replies[0][0] < 600
    assert replies[0][0] == replies[1][0]
    assert "<demo@localhost>" in replies[0][1] and "<demo+x@localhost>" in replies[1][1]
    assert r.cmd("NOOP")[0] == 250
    r.close()
    blobs = inbox_blobs(daemon, "demo@localhost")
    # Both recipients are the same user: one message in the INBOX.
    assert len(blobs) == before + 1
    assert b"with LMTP\r\n" in blobs[-1] and blobs[-1].endswith(MESSAGE)


def test_bdat_chunks(daemon):
    before = len(inbox_blobs(daemon, "demo@localhost"))
    r = Raw(daemon.port("smtp"))
    r.reply()
    feats = r.cmd("EHLO c")[1].split("\n")
    assert "CHUNKING" in feats and "BINARYMIME" in feats and "DSN" in feats
    # Refused BDAT: its octets are consumed, never read as commands.
    smuggled = b"MAIL FROM:<evil@x.org>\r\n"
    r.send(b"BDAT %d LAST\r\n" % len(smuggled) + smuggled)
    code, text = r.reply()
    assert code == 503
    assert r.cmd("MAIL FROM:<alice@example.org> BODY=BINARYMIME")[0] == 250
    assert r.cmd("RCPT TO:<demo@localhost>")[0] == 250
    assert r.cmd("DATA")[0] == 503
    part1 = b"Subject: chunked\r\n\r\nbinary\x00 and bare\nLF "
    part2 = b"\r\n.\r\nend\r\n"
    r.send(b"BDAT %d\r\n" % len(part1) + part1)
    assert r.reply() == (250, f"2.0.0 {len(part1)} octets received")
    r.send(b"BDAT %d LAST\r\n" % len(part2) + part2 + b"NOOP\r\n")
    code, text = r.reply()
    assert code == 250 and text.startswith("2.0.0 Ok: queued as")
    assert r.reply()[0] == 250  # the NOOP sent behind the last chunk
    r.close()
    blobs = inbox_blobs(daemon, "demo@localhost")
    assert len(blobs) == before + 1
    assert blobs[-1].endswith(part1 + part2)


def test_bdat_oversize(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write("\n[smtp]\nmax_message_size = 1k\n")
    d.start()
    try:
        r = Raw(d.port("smtp"))
        r.reply()
        r.cmd("EHLO c")
        r.cmd("MAIL FROM:<a@example.org>")
        r.cmd("RCPT TO:<demo@localhost>")
        r.send(b"BDAT 2000 LAST\r\n" + b"x" * 2000)
        code, text = r.reply()
        assert code == 552 and text.startswith("5.3.4")
        assert r.cmd("NOOP")[0] == 250
        r.close()
    finally:
        status = d.stop()
        d.assert_clean()
    assert status == 0


def test_dsn_parameters_stored(daemon):
    r = Raw(daemon.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    creds = base64.b64encode(b"\0demo@localhost\0demo").decode()
    assert r.cmd("AUTH PLAIN " + creds)[0] == 235
    assert r.cmd("MAIL FROM:<demo@localhost> RET=HDRS ENVID=env+2Bid")[0] == 250
    assert r.cmd("RCPT TO:<someone@example.org> NOTIFY=SUCCESS,FAILURE"
                 " ORCPT=rfc822;someone@example.org")[0] == 250
    assert r.cmd("RCPT TO:<other@example.org>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(MESSAGE.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    assert r.reply()[0] == 250
    r.close()
    q = daemon.sql("SELECT envid, ret FROM queue")
    rc = daemon.sql("SELECT address, orcpt, notify FROM queue_rcpts ORDER BY idx")
    assert q == [("env+id", "HDRS")]
    assert rc == [("someone@example.org", "rfc822;someone@example.org",
                   "SUCCESS,FAILURE"), ("other@example.org", "", "")]


def scram_sha256_login(r, user, password):
    """A SCRAM-SHA-256 client (RFC 5802/7677) over Raw; returns the final reply."""
    import hashlib
    import hmac
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    code, text = r.cmd("AUTH SCRAM-SHA-256 " + base64.b64encode(
        ("n,," + first_bare).encode()).decode())
    assert code == 334, text
    server_first = base64.b64decode(text).decode()
    fields = dict(f.split("=", 1) for f in server_first.split(","))
    assert fields["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(),
                                 base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_wo_proof = f"c=biws,r={fields['r']}"
    auth_msg = f"{first_bare},{server_first},{final_wo_proof}".encode()
    sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
    code, text = r.cmd(base64.b64encode(
        f"{final_wo_proof},p={proof}".encode()).decode())
    if code != 334:
        return code, text
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expect = base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256)
                              .digest()).decode()
    assert base64.b64decode(text).decode() == "v=" + expect
    return r.cmd("")


def test_auth_scram_sha256(daemon):
    r = Raw(daemon.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    code, text = scram_sha256_login(r, "demo@localhost", "demo")
    assert code == 235 and text.startswith("2.7.0")
    assert r.cmd("MAIL FROM:<demo@localhost>")[0] == 250
    r.close()
    r = Raw(daemon.port("submission"))
    r.reply()
    r.cmd("EHLO c")
    assert scram_sha256_login(r, "demo@localhost", "wrong")[0] == 535
    r.close()


def test_swaks_newcomer_commands(daemon):
    """The two commands of the issue's "done when", on this daemon's ports."""
    import subprocess
    before = len(inbox_blobs(daemon, "demo@localhost"))
    out = subprocess.run(
        ["swaks", "--server", f"127.0.0.1:{daemon.port('smtp')}",
         "--to", "demo@localhost"],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert len(inbox_blobs(daemon, "demo@localhost")) == before + 1
    args = ["swaks", "--server", f"127.0.0.1:{daemon.port('submission')}", "--tls",
            "--auth-user", "demo@localhost", "--auth-password", "demo",
            "--to", "someone@example.org"]
    out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    if "TLS not available" in out.stderr:
        # swaks without Net::SSLeay (libnet-ssleay-perl): the same
        # exchange without STARTTLS, which dev allows on loopback.
        args.remove("--tls")
        out = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    # swaks' default sender is user@host; a dev server lets it submit.
    assert [a for _, a, _ in queued(daemon)] == ["someone@example.org"]


def test_kill9_under_load_loses_no_acknowledged_message(tmp_path):
    import threading
    d = Posthornd(tmp_path / "data").start()
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def sender(n):
        i = 0
        while not stop.is_set():
            try:
                with smtplib.SMTP("127.0.0.1", d.port("submission"), timeout=10) as s:
                    s.login("demo@localhost", "demo")
                    while not stop.is_set():
                        mid = f"<kill9-{n}-{i}@example.org>"
                        i += 1
                        s.sendmail("demo@localhost", ["demo@localhost"],
                                   f"Message-ID: {mid}\r\nSubject: load\r\n\r\nx\r\n")
                        with lock:
                            acked.append(mid)
            except (OSError, smtplib.SMTPException):
                return

    threads = [threading.Thread(target=sender, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    # kill once the load runs (bounded: a slow sanitizer build takes longer)
    deadline = time.monotonic() + 30
    while len(acked) < 40 and time.monotonic() < deadline:
        time.sleep(0.05)
    d.proc.kill()
    stop.set()
    for t in threads:
        t.join(30)
    assert d.stop() == -9
    assert len(acked) > 10, len(acked)
    d.start()
    try:
        ids = []
        for blob in inbox_blobs(d, "demo@localhost"):
            m = re.search(rb"Message-ID: (<kill9-[^>]+>)", blob)
            if m:
                ids.append(m.group(1).decode())
        assert len(ids) == len(set(ids)), "a message was stored twice"
        missing = set(acked) - set(ids)
        assert not missing, f"{len(missing)} acknowledged messages lost"
    finally:
        status = d.stop()
        d.assert_clean()
    assert status == 0
