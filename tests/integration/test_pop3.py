"""POP3 and POP3S against a real posthornd --dev with Python's poplib and
raw sockets: every command, RETR byte for byte against the store, the
maildrop lock, UPDATE only at QUIT, UIDL stability, STLS, APOP, AUTH
(PLAIN, SCRAM-SHA-256 with initial responses), pipelining and limits."""
import base64
import hashlib
import hmac
import os
import poplib
import smtplib
import socket
import ssl
import time

import pytest

from conftest import Posthornd

USER, PASSWORD = "demo@localhost", "demo"


def message(n, body=b"Body line one.\r\n.leading dot survives\r\nlast line\r\n"):
    return (b"From: Alice <alice@example.org>\r\n"
            b"To: Demo <demo@localhost>\r\n"
            b"Subject: pop3 test %d\r\n"
            b"Message-ID: <pop3-%d@example.org>\r\n"
            b"\r\n" % (n, n)) + body


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def send(daemon, *msgs, rcpt=USER):
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        for m in msgs:
            s.sendmail("alice@example.org", [rcpt], m)


def inbox(daemon, address=USER):
    """(uid, bytes) of the messages in a user's INBOX, in UID order."""
    return daemon.inbox(address)


def wait_log(daemon, text, timeout=5):
    deadline = time.monotonic() + timeout
    while text not in daemon.log():
        assert time.monotonic() < deadline, f"not logged: {text}"
        time.sleep(0.05)


def login(daemon, user=USER, password=PASSWORD):
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    p.user(user)
    p.pass_(password)
    return p


class Raw:
    """A raw POP3 client: exact bytes, pipelining, what poplib will not do."""

    def __init__(self, port, tls=False):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data.encode() if isinstance(data, str) else data)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line.decode("latin-1")

    def multi(self):
        """The rest of a multi-line reply, dot-unstuffed, as exact bytes."""
        start = 0
        while not self.buf.startswith(b".\r\n"):
            idx = self.buf.find(b"\r\n.\r\n", start)
            if idx >= 0:
                body, self.buf = self.buf[:idx + 2], self.buf[idx + 5:]
                return b"\r\n".join(line[1:] if line.startswith(b".") else line
                                     for line in body.split(b"\r\n"))
            start = max(0, len(self.buf) - 4)
            chunk = self.sock.recv(1 << 20)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        self.buf = self.buf[3:]
        return b""

    def cmd(self, line):
        self.send(line + "\r\n")
        return self.line()

    def closed(self):
        try:
            return self.sock.recv(1) == b""
        except (ConnectionResetError, ssl.SSLError):
            return True

    def close(self):
        self.sock.close()


def raw_login(daemon):
    r = Raw(daemon.port("pop3"))
    assert r.line().startswith("+OK")
    assert r.cmd(f"USER {USER}").startswith("+OK")
    assert r.cmd(f"PASS {PASSWORD}").startswith("+OK")
    return r


def test_greeting_and_capa(daemon):
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    welcome = p.getwelcome().decode()
    assert welcome == "+OK Posthorn POP3 server ready"
    capa = p.capa()
    for cap in ("TOP", "USER", "UIDL", "RESP-CODES", "AUTH-RESP-CODE",
                "PIPELINING", "STLS", "SASL", "IMPLEMENTATION"):
        assert cap in capa, capa
    assert capa["SASL"][0] == "SCRAM-SHA-256" and "PLAIN" in capa["SASL"]
    assert capa["IMPLEMENTATION"] == ["Posthorn"]
    p.user(USER)
    p.pass_(PASSWORD)
    capa = p.capa()
    assert "TOP" in capa and "UIDL" in capa and "PIPELINING" in capa
    for cap in ("USER", "SASL", "STLS"):
        assert cap not in capa
    p.quit()
    # APOP is off by default: no timestamp, so clients that prefer APOP
    # when they see one (s-nail) use USER/PASS
    assert b"<" not in p.welcome


def test_every_transaction_command(daemon):
    before = len(inbox(daemon))
    send(daemon, message(1), message(2, b"second\r\n"))
    stored = inbox(daemon)
    assert len(stored) == before + 2
    p = login(daemon)
    count, size = p.stat()
    assert count == len(stored) and size == sum(len(b) for _, b in stored)
    resp, listing, _ = p.list()
    assert resp.startswith(b"+OK")
    assert listing == [b"%d %d" % (i + 1, len(b)) for i, (_, b) in enumerate(stored)]
    assert p.list(count) == b"+OK %d %d" % (count, len(stored[-1][1]))
    # UIDL: one per message, unique, and the single form agrees
    _, uidls, _ = p.uidl()
    ids = [u.split()[1] for u in uidls]
    assert len(set(ids)) == count
    assert p.uidl(1).split()[2] == ids[0]
    assert p.noop().startswith(b"+OK")
    p.quit()

    # RETR and TOP byte for byte, over a raw socket
    r = raw_login(daemon)
    n1 = count - 1
    line = r.cmd(f"RETR {n1}")
    assert line.startswith("+OK")
    got = r.multi()
    assert got == stored[n1 - 1][1]
    assert got.endswith(message(1))
    assert got.startswith(b"Return-Path: <alice@example.org>\r\n")
    assert b"\r\nReceived: from " in got
    assert r.cmd(f"TOP {n1} 0").startswith("+OK")
    head = got[:got.index(b"\r\n\r\n") + 4]
    assert r.multi() == head
    assert r.cmd(f"TOP {n1} 2").startswith("+OK")
    assert r.multi() == head + b"Body line one.\r\n.leading dot survives\r\n"
    assert r.cmd(f"TOP {n1} 100").startswith("+OK")
    assert r.multi() == got

    # DELE marks, RSET unmarks, numbers stay
    assert r.cmd(f"DELE {n1}").startswith("+OK")
    assert r.cmd(f"DELE {n1}").startswith("-ERR")
    assert r.cmd(f"RETR {n1}").startswith("-ERR")
    assert r.cmd(f"LIST {n1}").startswith("-ERR")
    assert r.cmd("STAT") == "+OK %d %d" % (count - 1, size - len(stored[n1 - 1][1]))
    assert r.cmd("RSET").startswith("+OK")
    assert r.cmd("STAT") == "+OK %d %d" % (count, size)
    assert r.cmd(f"DELE {n1}").startswith("+OK")
    assert r.cmd("LIST").startswith("+OK")
    listing = r.multi()
    assert b"%d " % n1 not in listing.split(b"\r\n")[n1 - 1]
    assert r.cmd("UIDL").startswith("+OK")
    assert len(r.multi().split(b"\r\n")) == count   # count-1 lines + ""
    assert r.cmd(f"RETR {count + 1}").startswith("-ERR")
    assert r.cmd("RETR 0").startswith("-ERR")
    assert r.cmd("RETR x").startswith("-ERR")
    assert r.cmd("QUIT").startswith("+OK")
    assert r.closed()
    r.close()
    after = inbox(daemon)
    assert [u for u, _ in after] == [u for u, _ in stored if u != stored[n1 - 1][0]]
    wait_log(daemon, "pop3 session end user=demo@localhost ip=127.0.0.1"
             " retrieved=1 deleted=1")


def test_dropped_connection_deletes_nothing(daemon):
    send(daemon, message(1))
    stored = inbox(daemon)
    r = raw_login(daemon)
    for i in range(1, len(stored) + 1):
        assert r.cmd(f"DELE {i}").startswith("+OK")
    r.sock.shutdown(socket.SHUT_RDWR)
    r.close()
    # the lock is released and nothing was deleted
    deadline = time.monotonic() + 10
    while True:
        try:
            p = login(daemon)
            break
        except poplib.error_proto as e:
            assert b"IN-USE" in e.args[0] and time.monotonic() < deadline
            time.sleep(0.1)
    assert p.stat()[0] == len(stored)
    p.quit()
    assert inbox(daemon) == stored


def test_lock_in_use(daemon):
    first = login(daemon)
    second = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    second.user(USER)
    with pytest.raises(poplib.error_proto) as e:
        second.pass_(PASSWORD)
    assert e.value.args[0].startswith(b"-ERR [IN-USE]")
    # the second session stays in AUTHORIZATION
    with pytest.raises(poplib.error_proto):
        second.stat()
    second.quit()
    # also over POP3S and AUTH
    r = Raw(daemon.port("pop3s"), tls=True)
    r.line()
    cred = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    assert r.cmd(f"AUTH PLAIN {cred}").startswith("-ERR [IN-USE]")
    r.close()
    first.quit()
    third = login(daemon)
    third.quit()


def test_uidl_stable_and_new_mail_in_next_session(daemon):
    send(daemon, message(1), message(2))
    p = login(daemon)
    _, first, _ = p.uidl()
    count = len(first)
    send(daemon, message(3))             # arrives during the session
    assert p.stat()[0] == count
    assert p.uidl()[1] == first
    p.dele(1)
    deleted = first[0].split()[1]
    p.quit()

    p = login(daemon)
    _, second, _ = p.uidl()
    ids = [u.split()[1] for u in second]
    assert len(ids) == count             # one deleted, one new
    assert ids[:-1] == [u.split()[1] for u in first[1:]]   # stable
    assert ids[-1] not in [u.split()[1] for u in first]
    send(daemon, message(4))
    p.quit()
    p = login(daemon)
    ids2 = [u.split()[1] for u in p.uidl()[1]]
    assert ids2[:-1] == ids and deleted not in ids2    # never reused
    p.quit()


def test_stls(daemon):
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    p.stls(tls_context())
    capa = p.capa()
    assert "STLS" not in capa and "USER" in capa
    assert "PLAIN" in capa["SASL"]
    p.user(USER)
    p.pass_(PASSWORD)
    assert p.stat()[0] >= 0
    # STLS is gone once TLS is on
    with pytest.raises(poplib.error_proto):
        p._shortcmd("STLS")
    p.quit()


def test_stls_with_pipelined_plaintext_closes(daemon):
    r = Raw(daemon.port("pop3"))
    r.line()
    r.send("STLS\r\nUSER demo@localhost\r\n")
    assert r.line().startswith("+OK")
    assert r.closed()
    r.close()


def test_pop3s(daemon):
    p = poplib.POP3_SSL("127.0.0.1", daemon.port("pop3s"), timeout=10,
                        context=tls_context())
    assert "STLS" not in p.capa()
    p.user(USER)
    p.pass_(PASSWORD)
    count = p.stat()[0]
    if count:
        assert p.retr(1)[0].startswith(b"+OK")
    p.quit()


def test_plaintext_refused_without_tls(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    conf = open(d.config_path).read().replace("allow_plaintext = loopback",
                                              "allow_plaintext = never")
    with open(d.config_path, "w") as fh:
        fh.write(conf)
    d.start()
    try:
        p = poplib.POP3("127.0.0.1", d.port("pop3"), timeout=10)
        capa = p.capa()
        assert "USER" not in capa and capa["SASL"] == ["SCRAM-SHA-256"]
        with pytest.raises(poplib.error_proto) as e:
            p.user(USER)
        assert e.value.args[0].startswith(b"-ERR [AUTH]")
        with pytest.raises(poplib.error_proto):
            p._shortcmd("AUTH PLAIN " + base64.b64encode(
                f"\0{USER}\0{PASSWORD}".encode()).decode())
        p.stls(tls_context())
        p.user(USER)
        p.pass_(PASSWORD)
        p.quit()
        # SCRAM needs no TLS
        r = Raw(d.port("pop3"))
        r.line()
        assert scram_login(r, USER, PASSWORD).startswith("+OK")
        r.close()
    finally:
        status = d.stop()
    d.assert_clean()
    assert status == 0


def test_apop_off_by_default(daemon):
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    with pytest.raises(poplib.error_proto) as e:
        p._shortcmd("APOP " + USER + " " + "0" * 32)
    assert e.value.args[0] == b"-ERR APOP is not offered here; use USER/PASS or AUTH"
    p.user(USER)
    assert p.pass_(PASSWORD).startswith(b"+OK")
    p.quit()


def test_apop(tmp_path):
    daemon = Posthornd(tmp_path / "data").start()
    daemon.stop()
    with open(daemon.config_path, "a") as fh:
        fh.write("\n[pop3]\napop = yes\n")
    daemon.start()
    try:
        apop_exchanges(daemon)
    finally:
        assert daemon.stop() == 0
        daemon.assert_clean()


def apop_exchanges(daemon):
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    # each greeting has its own APOP timestamp <pid.counter.time@host>
    other = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    welcome = p.welcome.decode()
    assert welcome.endswith(">") and welcome[welcome.index("<"):].count("@") == 1
    assert other.getwelcome() != p.welcome
    other.quit()
    with pytest.raises(poplib.error_proto):    # no APOP secret yet
        p.apop(USER, PASSWORD)
    p.quit()
    res = daemon.cli("user", "apop-secret", USER, "--password-stdin",
                     input="apop secret\n")
    assert res.returncode == 0, res.stderr
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    with pytest.raises(poplib.error_proto) as e:
        p.apop(USER, "wrong")
    assert e.value.args[0].startswith(b"-ERR [AUTH]")
    p.quit()
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    assert p.apop(USER, "apop secret").startswith(b"+OK")
    p.quit()
    # the password still works, and stays separate from the secret
    login(daemon).quit()
    with pytest.raises(poplib.error_proto):
        login(daemon, password="apop secret")
    assert daemon.cli("user", "apop-secret", "nobody@localhost",
                      "--password-stdin", input="x\n").returncode != 0


def test_auth_plain(daemon):
    cred = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    r = Raw(daemon.port("pop3"))
    r.line()
    # without a mechanism: the list
    assert r.cmd("AUTH") == "+OK Supported mechanisms follow"
    assert b"SCRAM-SHA-256\r\nPLAIN" in r.multi()
    # without an initial response: an empty challenge first
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd("*").startswith("-ERR")
    assert r.cmd("AUTH PLAIN") == "+ "
    assert r.cmd(cred).startswith("+OK")
    assert r.cmd("STAT").startswith("+OK")
    assert r.cmd("QUIT").startswith("+OK")
    r.close()
    r = Raw(daemon.port("pop3"))
    r.line()
    assert r.cmd("AUTH NOSUCH").startswith("-ERR")
    assert r.cmd(f"AUTH PLAIN {cred}").startswith("+OK")
    assert r.cmd("AUTH PLAIN").startswith("-ERR")       # already in
    r.close()


def scram_login(r, user, password):
    """SCRAM-SHA-256 (RFC 5802/7677) with an initial response (RFC 5034);
    returns the final reply line."""
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    line = r.cmd("AUTH SCRAM-SHA-256 " + base64.b64encode(
        ("n,," + first_bare).encode()).decode())
    assert line.startswith("+ "), line
    server_first = base64.b64decode(line[2:]).decode()
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
    line = r.cmd(base64.b64encode(f"{final_wo_proof},p={proof}".encode()).decode())
    if not line.startswith("+ "):
        return line
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
    expect = base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256)
                              .digest()).decode()
    assert base64.b64decode(line[2:]).decode() == "v=" + expect
    return r.cmd("")


def test_auth_scram_sha256(daemon):
    r = Raw(daemon.port("pop3"))
    r.line()
    assert scram_login(r, USER, "wrong").startswith("-ERR [AUTH]")
    r.close()
    r = Raw(daemon.port("pop3"))
    r.line()
    line = scram_login(r, USER, PASSWORD)
    assert line.startswith("+OK"), line
    assert r.cmd("STAT").startswith("+OK")
    r.close()


def test_failed_login_delays_next_attempt(daemon):
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=20)
    p.user(USER)
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong")
    p.user(USER)
    start = time.monotonic()
    with pytest.raises(poplib.error_proto):
        p.pass_("wrong")
    assert time.monotonic() - start >= 0.9
    p.quit()


def test_pipelining(daemon):
    send(daemon, message(1), message(2))
    count = len(inbox(daemon))
    r = Raw(daemon.port("pop3"))
    r.line()
    r.send(f"USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\n" +
           "".join(f"RETR {i}\r\n" for i in range(1, count + 1)) +
           "NOOP\r\nLIST 1\r\nQUIT\r\n")
    assert r.line().startswith("+OK")
    assert r.line().startswith("+OK")
    assert r.line().startswith(f"+OK {count} ")
    blobs = [b for _, b in inbox(daemon)]
    for i in range(count):
        assert r.line().startswith("+OK")
        assert r.multi() == blobs[i]
    assert r.line() == "+OK Ok"
    assert r.line() == f"+OK 1 {len(blobs[0])}"
    assert r.line().startswith("+OK Bye")
    assert r.closed()
    r.close()


def test_large_message_back_pressure(daemon):
    line = b"." + b"x" * 900 + b"\r\n"
    body = line * 5000                   # ~4.5 MB, every line dot-stuffed
    send(daemon, message(1, body))
    count = len(inbox(daemon))
    stored = inbox(daemon)[-1][1]
    r = raw_login(daemon)
    r.send(f"RETR {count}\r\nNOOP\r\n")
    time.sleep(0.5)                      # let the server hit its high mark
    assert r.line() == f"+OK {len(stored)} octets"
    assert r.multi() == stored
    assert r.line() == "+OK Ok"
    r.close()


def test_bad_commands_and_limits(daemon):
    r = Raw(daemon.port("pop3"))
    r.line()
    assert r.cmd("STAT").startswith("-ERR")            # not logged in
    assert r.cmd("PASS x").startswith("-ERR")          # no USER
    assert r.cmd("HELO x") == "-ERR Unknown command"
    assert r.cmd("USER " + "a" * 300) == "-ERR Line too long"
    assert r.cmd("CAPA now") .startswith("-ERR")      # takes no argument
    assert r.cmd("") == "-ERR Empty command"
    assert r.cmd("CAPA") .startswith("+OK")            # still talking
    r.multi()
    assert r.cmd("USER " + "a" * 20000) == "-ERR Line too long"
    for _ in range(3):
        r.cmd("BOGUS")
    assert r.cmd("BOGUS") == "-ERR Too many errors, closing connection"
    assert r.closed()
    r.close()


def test_imap_sees_pop3_deletion(daemon):
    import imaplib
    try:
        imap = imaplib.IMAP4("127.0.0.1", daemon.port("imap"), timeout=10)
    except ConnectionRefusedError:
        pytest.skip("no IMAP server yet: the listener is not open")
    send(daemon, message(1))
    imap.login(USER, PASSWORD)
    typ, data = imap.select("INBOX")
    exists = int(data[0])
    p = login(daemon)
    p.dele(1)
    p.quit()
    deadline = time.monotonic() + 5
    while True:
        typ, data = imap.select("INBOX")
        if int(data[0]) == exists - 1:
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    imap.logout()
