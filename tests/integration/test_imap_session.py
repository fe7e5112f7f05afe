"""The IMAP session machinery against a real posthornd --dev: when other
sessions' expunges may be told (RFC 3501 7.4.1), VANISHED after ENABLE
QRESYNC, IDLE, SASL-IR and cancel, the failed-login delay, a FETCH larger
than what the server buffers for a slow reader, and clients that leave
while a store write is in flight."""
import base64
import imaplib
import re
import smtplib
import socket
import time

from conftest import Posthornd  # noqa: F401  (the daemon fixture)

USER, PASSWORD = "demo@localhost", "demo"


def message(tag, size=0):
    body = (b"x" * 76 + b"\r\n") * (size // 78) if size else b"hello\r\n"
    return (b"From: t@example.org\r\nTo: demo@localhost\r\nSubject: " +
            tag.encode() + b"\r\n\r\n" + body)


class Raw:
    """A raw IMAP client that shows every untagged line."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.n = 0
        assert self.line().startswith(b"* OK")

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise EOFError
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        m = re.search(rb"\{(\d+)\}$", line)
        if m:  # a literal: keep it in the line
            n = int(m.group(1))
            while len(self.buf) < n:
                self.buf += self.sock.recv(1 << 16)
            line += b"\r\n" + self.buf[:n]
            self.buf = self.buf[n:]
            line += self.line()
        return line

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, text):
        self.n += 1
        tag = f"s{self.n}".encode()
        self.send(tag + b" " + (text.encode() if isinstance(text, str) else text) + b"\r\n")
        untagged = []
        while True:
            line = self.line()
            if line.startswith(tag + b" "):
                return line[len(tag) + 1:], untagged
            untagged.append(line)

    def ok(self, text):
        status, untagged = self.cmd(text)
        assert status.startswith(b"OK"), (text, status, untagged)
        return untagged

    def login(self):
        return self.ok(f'LOGIN "{USER}" "{PASSWORD}"')


def deliver(daemon, msg):
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp")) as s:
        s.sendmail("t@example.org", [USER], msg)


def append(r, mailbox, msg):
    r.send(b"ap APPEND " + mailbox.encode() + b" {%d+}\r\n" % len(msg) + msg + b"\r\n")
    while True:
        line = r.line()
        if line.startswith(b"ap "):
            assert line.startswith(b"ap OK"), line
            return line


def test_expunge_waits_for_an_allowed_command(daemon):
    a, b = Raw(daemon.port("imap")), Raw(daemon.port("imap"))
    a.login()
    b.login()
    for i in range(3):
        append(a, "INBOX", message(f"e{i}"))
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    # FETCH, STORE and SEARCH must not tell a of the expunge...
    for cmd in ("FETCH 1:* (UID)", "STORE 1 +FLAGS (\\Flagged)", "SEARCH ALL"):
        untagged = a.ok(cmd)
        assert not any(u.endswith(b" EXPUNGE") for u in untagged), (cmd, untagged)
    # ...and message 3 keeps its number meanwhile.
    untagged = a.ok("FETCH 3 (UID)")
    assert any(re.match(rb"\* 3 FETCH \(UID 3\)", u) for u in untagged), untagged
    # NOOP may: once, with the number a still had.
    untagged = a.ok("NOOP")
    assert [u for u in untagged if u.endswith(b"EXPUNGE")] == [b"* 2 EXPUNGE"]
    untagged = a.ok("FETCH 2 (UID)")
    assert any(re.match(rb"\* 2 FETCH \(UID 3\)", u) for u in untagged), untagged
    assert not [u for u in a.ok("NOOP") if u.endswith(b"EXPUNGE")]


def test_uid_commands_may_expunge_and_qresync_says_vanished(daemon):
    a, b = Raw(daemon.port("imap")), Raw(daemon.port("imap"))
    a.login()
    b.login()
    for i in range(4):
        append(a, "INBOX", message(f"v{i}"))
    a.ok("ENABLE QRESYNC")
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    b.ok("UID STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    b.ok("UID EXPUNGE 2:3")
    untagged = a.ok("UID FETCH 1:* (FLAGS)")
    assert b"* VANISHED 2:3" in untagged, untagged
    assert not any(u.endswith(b"EXPUNGE") for u in untagged)
    # Flag changes from b come with UID and MODSEQ (CONDSTORE is on).
    b.ok("STORE 1 +FLAGS.SILENT (\\Answered)")
    untagged = a.ok("NOOP")
    assert any(re.match(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Answered( \\Recent)?\) MODSEQ \(\d+\)\)", u)
               for u in untagged), untagged


def test_idle_reports_delivery_flags_and_expunge(daemon):
    a, b = Raw(daemon.port("imap")), Raw(daemon.port("imap"))
    a.login()
    b.login()
    append(b, "INBOX", message("i0"))
    a.ok("SELECT INBOX")
    b.ok("SELECT INBOX")
    a.send(b"idle IDLE\r\n")
    assert a.line().startswith(b"+ ")
    t0 = time.monotonic()
    deliver(daemon, message("i1"))
    assert a.line() == b"* 2 EXISTS"
    assert time.monotonic() - t0 < 1.0
    assert re.match(rb"\* \d RECENT", a.line())
    b.ok("STORE 1 +FLAGS.SILENT (\\Seen)")
    assert re.match(rb"\* 1 FETCH \(UID 1 FLAGS \(\\Seen( \\Recent)?\)\)", a.line())
    b.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.line()
    b.ok("EXPUNGE")
    assert a.line() == b"* 1 EXPUNGE"
    a.send(b"DONE\r\n")
    assert a.line() == b"idle OK IDLE terminated"
    assert a.ok("NOOP") == []


def test_authenticate_sasl_ir_cancel_and_delay(daemon):
    r = Raw(daemon.port("imap"))
    # Cancel in the middle of an exchange.
    r.send(b"c1 AUTHENTICATE PLAIN\r\n")
    assert r.line().startswith(b"+")
    r.send(b"*\r\n")
    assert r.line().startswith(b"c1 BAD")
    # A wrong password: NO, and the next attempt is held back.
    bad = base64.b64encode(b"\0" + USER.encode() + b"\0wrong").decode()
    status, _ = r.cmd(f"AUTHENTICATE PLAIN {bad}")
    assert status.startswith(b"NO [AUTHENTICATIONFAILED]")
    t0 = time.monotonic()
    good = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
    status, _ = r.cmd(f"AUTHENTICATE PLAIN {good}")
    assert time.monotonic() - t0 >= 0.5
    assert status.startswith(b"OK [CAPABILITY ")
    assert b"AUTH=" not in status and b"IDLE" in status
    # Logged in: LOGIN and AUTHENTICATE are over.
    assert r.cmd("LOGIN a b")[0].startswith(b"BAD")


def test_large_fetch_to_a_slow_reader(daemon):
    r = Raw(daemon.port("imap"))
    r.login()
    big = message("big", 200 * 1024)
    for i in range(30):
        append(r, "INBOX", big)
    r.ok("SELECT INBOX")
    # 6 MB of replies; the client reads nothing for a while.
    r.send(b"f FETCH 1:* (BODY.PEEK[])\r\n")
    time.sleep(1.5)
    other = Raw(daemon.port("imap"))  # the server still serves others
    other.login()
    other.ok("NOOP")
    count = 0
    while True:
        line = r.line()
        if line.startswith(b"f "):
            assert line.startswith(b"f OK")
            break
        assert line.endswith(b")") and big in line
        count += 1
    assert count == 30
    assert r.ok("NOOP") == []


def test_client_gone_while_the_store_writes(daemon):
    for i in range(5):
        r = Raw(daemon.port("imap"))
        r.login()
        msg = message(f"gone{i}")
        r.send(b"x APPEND INBOX {%d+}\r\n" % len(msg) + msg + b"\r\n")
        r.sock.close()
    r = Raw(daemon.port("imap"))
    r.login()
    untagged = r.ok("STATUS INBOX (MESSAGES)")
    n = int(re.search(rb"MESSAGES (\d+)", untagged[0]).group(1))
    assert 0 <= n <= 5


def test_imaplib_literal_toobig_and_bad_command_limit(daemon):
    m = imaplib.IMAP4("127.0.0.1", daemon.port("imap"))
    m.login(USER, PASSWORD)
    r = Raw(daemon.port("imap"))
    r.login()
    r.send(b"t APPEND INBOX {999999999999}\r\n")
    assert r.line().startswith(b"t NO [TOOBIG]")
    r.ok("NOOP")
    got_bye = False
    for i in range(25):
        try:
            status, untagged = r.cmd("BOGUS")
        except (EOFError, ConnectionResetError):
            got_bye = True
            break
        if any(u.startswith(b"* BYE") for u in untagged):
            got_bye = True
            break
    assert got_bye
    assert m.noop()[0] == "OK"
    m.logout()
