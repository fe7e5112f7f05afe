"""POP3 and SMTP store reads off the I/O thread: the maildrop open, RETR
and TOP, the nodes' maildrop lock and RCPT's lookups run on the store read
pool when there is one ([store] read_workers; PostgreSQL's default) and
inline otherwise (SQLite's), with the same answers in the same order. RETR
streams a large message from its blob by chunks: the bytes are exact
across chunk boundaries and the daemon's peak memory stays far below the
message. On PostgreSQL a lookup that waits on the database holds only its
own session, not the other sessions of its I/O thread."""
import base64
import os
import poplib
import re
import smtplib
import socket
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import STORE, Posthornd, pg_cluster
from test_fetch_ranges import vm_hwm
from test_imap import PASSWORD, USER, logged_in
from test_message_memory import address_sanitized
from test_smtp import HOLD_OUTBOUND, Raw as SmtpRaw

# RETR reads the blob this much at a time (POP3_READ_CHUNK).
CHUNK = 256 * 1024


def set_key(path, section, key, value):
    """key = value in [section] of the config (added when missing)."""
    with open(path) as fh:
        text = fh.read()
    head = f"[{section}]\n"
    if head in text:
        text = text.replace(head, f"{head}{key} = {value}\n", 1)
    else:
        text += f"\n{head}{key} = {value}\n"
    with open(path, "w") as fh:
        fh.write(text)


def start(tmp_path, workers=None, io_threads=None, name="data", smtp_bad=None):
    """A dev daemon, outbound mail held, with read_workers set (None: the
    store's default: 0 on SQLite, 4 on PostgreSQL)."""
    d = Posthornd(tmp_path / name).start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write(HOLD_OUTBOUND)
    if workers is not None:
        set_key(d.config_path, "store", "read_workers", workers)
    if io_threads is not None:
        set_key(d.config_path, "server", "io_threads", io_threads)
    if smtp_bad is not None:
        set_key(d.config_path, "smtp", "max_bad_commands", smtp_bad)
    return d.start()


def finish(d):
    status = d.stop()
    d.assert_clean()
    assert status == 0, d.log()


# Both paths on each store: the store's default and the other one.
WORKERS = [None, 2] if STORE == "sqlite" else [None, 0]
# The memory test's: on SQLite each pool reader is a connection with its
# own page cache (up to 32 MiB), and the chunks of one RETR go to any of
# them: with two readers both caches fill (+38 MiB measured), bounded by
# the caches, not by the message. One reader measures the stream.
MEM_WORKERS = [None, 1] if STORE == "sqlite" else [None, 0]


def dotstuff(msg):
    """RFC 1939 3: the multi-line form of msg, the ending included."""
    if msg and not msg.endswith(b"\r\n"):
        msg += b"\r\n"
    lines = msg.split(b"\r\n")[:-1]
    return b"".join((b"." + l if l.startswith(b".") else l) + b"\r\n"
                    for l in lines) + b".\r\n"


class Pop:
    """A raw POP3 client: exact bytes, pipelined commands."""

    def __init__(self, port, timeout=30):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""
        assert self.line().startswith(b"+OK")

    def recv(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError(self.buf[-200:])
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            self.recv()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def body(self):
        """A multi-line body, as sent (stuffed, with its ending)."""
        while True:
            end = self.buf.find(b"\r\n.\r\n")
            if self.buf.startswith(b".\r\n"):
                end = -2
            if end != -1:
                body, self.buf = self.buf[:end + 5], self.buf[end + 5:]
                return body
            self.recv()

    def send(self, *lines):
        self.sock.sendall(b"".join(l.encode() + b"\r\n" for l in lines))

    def login(self, user=USER, password=PASSWORD):
        self.send(f"USER {user}", f"PASS {password}")
        assert self.line().startswith(b"+OK")
        reply = self.line()
        assert reply.startswith(b"+OK"), reply
        return reply

    def close(self):
        self.sock.close()


def boundary_message():
    """A message whose chunk boundaries fall on the hard places: a line
    starting with '.' right at the first boundary, a CRLF split by the
    second, a lone '.' line, and a last line without CRLF."""
    head = b"From: a@example.org\r\nSubject: boundaries\r\n\r\n"
    msg = bytearray(head)
    line = b"x" * 70 + b"\r\n"

    def fill_to(n):
        while len(msg) + len(line) <= n:
            msg.extend(line)
        msg.extend(b"y" * (n - len(msg) - 2) + b"\r\n")
        assert len(msg) == n

    fill_to(CHUNK)
    msg.extend(b".starts a chunk with a dot\r\n..two dots\r\n.\r\n")
    fill_to(2 * CHUNK)
    msg[-2:] = b"z\r"           # CR the last byte of the chunk ...
    msg.extend(b"\n.after the split CRLF\r\n")   # ... its LF the next one's first
    assert msg[2 * CHUNK - 1:2 * CHUNK + 2] == b"\r\n."
    fill_to(3 * CHUNK + 1000)
    msg.extend(b".the last line has no CRLF")
    return bytes(msg)


SMALL = b"From: a@example.org\r\nSubject: small\r\n\r\n.dot\r\nline\r\n..\r\n"


def append(d, *msgs):
    r = logged_in(d)
    for m in msgs:
        r.ok("APPEND INBOX {}", m)
    r.close()


@pytest.mark.parametrize("workers", WORKERS)
def test_retr_top_exact_and_pipelined(tmp_path, workers):
    d = start(tmp_path, workers)
    try:
        big = boundary_message()
        append(d, big, SMALL, b"From: a@example.org\r\n\r\nclean\r\n")
        p = Pop(d.port("pop3"))
        assert b"has 3 messages" in p.login()
        # one write: the answers come in order
        p.send("RETR 1", "TOP 1 3", "RETR 2", "STAT", "RETR 3", "TOP 2 0",
               "RETR 9", "NOOP")
        assert p.line() == b"+OK %d octets" % len(big)
        assert p.body() == dotstuff(big)
        assert p.line() == b"+OK Top of message follows"
        top = b"From: a@example.org\r\nSubject: boundaries\r\n\r\n" + (b"x" * 70 + b"\r\n") * 3
        assert p.body() == dotstuff(top)
        assert p.line() == b"+OK %d octets" % len(SMALL)
        assert p.body() == dotstuff(SMALL)
        assert p.line().startswith(b"+OK 3 ")
        assert p.line().startswith(b"+OK")
        assert p.body() == b"From: a@example.org\r\n\r\nclean\r\n.\r\n"
        assert p.line() == b"+OK Top of message follows"
        assert p.body() == b"From: a@example.org\r\nSubject: small\r\n\r\n.\r\n"
        assert p.line().startswith(b"-ERR")
        assert p.line().startswith(b"+OK")
        p.send("QUIT")
        assert p.line().startswith(b"+OK Bye")
        p.close()
        # poplib agrees (it undoes the stuffing)
        c = poplib.POP3("127.0.0.1", d.port("pop3"), timeout=30)
        c.user(USER)
        c.pass_(PASSWORD)
        lines = c.retr(1)[1]
        assert b"\r\n".join(lines) == big
        c.quit()
    finally:
        finish(d)


@pytest.mark.parametrize("workers", WORKERS)
def test_pop3_client_leaves_while_reads_are_out(tmp_path, workers):
    """Clients that hang up right after PASS (the maildrop open out) or in
    the middle of a RETR (a chunk read out): the daemon frees them, the
    lock is released, the next session gets the maildrop."""
    d = start(tmp_path, workers)
    try:
        append(d, boundary_message())
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", d.port("pop3")), timeout=10)
            s.recv(512)
            cmds = f"USER {USER}\r\nPASS {PASSWORD}\r\n"
            if i % 2:
                cmds += "RETR 1\r\n"
            s.sendall(cmds.encode())
            if i % 4 == 3:
                time.sleep(0.05)    # some way into the message
            s.close()
        deadline = time.monotonic() + 10
        while True:
            p = Pop(d.port("pop3"))
            p.send(f"USER {USER}", f"PASS {PASSWORD}")
            assert p.line().startswith(b"+OK")
            reply = p.line()
            if reply.startswith(b"+OK"):
                break
            # a session whose client left may still be ending
            assert b"IN-USE" in reply and time.monotonic() < deadline, reply
            p.close()
            time.sleep(0.1)
        p.send("RETR 1")
        assert p.line().startswith(b"+OK")
        assert p.body() == dotstuff(boundary_message())
        p.send("QUIT")
        assert p.line().startswith(b"+OK Bye")
        p.close()
        # released at QUIT, before the answer: logged in again at once
        p = Pop(d.port("pop3"))
        p.login()
        p.close()
    finally:
        finish(d)


def wait_indexed(d):
    """The search index reads a new message once in the background; wait
    for it so that its peak is not counted."""
    deadline = time.monotonic() + 60
    while True:
        if d.store == "sqlite":
            db = os.path.join(d.data_dir, "posthorn.db")
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as con:
                n = con.execute("SELECT count(*) FROM search_pending").fetchone()[0]
        else:
            n = int(pg_cluster().rows("SELECT count(*) FROM search_pending",
                                      d.pg_database)[0][0])
        if n == 0:
            return
        assert time.monotonic() < deadline, "search index not done in 60 s"
        time.sleep(0.1)


@pytest.mark.parametrize("workers", MEM_WORKERS)
def test_retr_of_a_large_message_is_streamed(tmp_path, workers):
    """RETR of a 25 MiB message on a fresh daemon: its peak memory grows by
    a few chunks and what SQLite caches, not by the message (it grew by
    37 MiB on SQLite, 60 MiB on PostgreSQL when RETR read it whole)."""
    line = b"%08d a line of a large message, as an attachment would be\r\n"
    msg = (b"From: Alice <alice@example.org>\r\nTo: demo@localhost\r\n"
           b"Subject: large\r\n\r\n" + b"".join(line % i for i in range(414_000)))
    assert 25_000_000 < len(msg) < 25 * 1024 * 1024 - 4096
    d = start(tmp_path, workers)
    try:
        with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=60) as s:
            s.sendmail("alice@example.org", [USER], msg)
        wait_indexed(d)
        assert d.stop() == 0
        d.start()
        p = Pop(d.port("pop3"), timeout=60)
        try:
            p.login()
            before = vm_hwm(d.proc.pid)
            p.send("RETR 1")
            octets = re.fullmatch(rb"\+OK (\d+) octets", p.line())
            body = p.body()
            grown = vm_hwm(d.proc.pid) - before
            p.send("QUIT")
            p.line()
        finally:
            p.close()
        # the stored message is the trace header and msg
        assert body.endswith(dotstuff(msg))
        assert octets and int(octets[1]) == len(body) - 3 > len(msg)
        print(f"\nRETR of {len(msg) // 1024} KiB on {STORE} read_workers={workers}: "
              f"peak memory +{grown} KiB")
        if not address_sanitized():
            # SQLite pulls the pages it reads into its cache (bounded,
            # [db_sqlite] cache_size 32 MiB): some of the message stays
            # there; the message itself is never held whole.
            assert grown * 1024 < len(msg) // 2, f"peak memory grew by {grown} KiB"
    finally:
        finish(d)


# ---- SMTP ----

def rcpt_daemon(tmp_path, workers):
    # every refused RCPT counts as a bad command
    d = start(tmp_path, workers, smtp_bad=1000)
    d.stop()
    set_key(d.config_path, "smtp", "sender_check", "owned")
    set_key(d.config_path, "smtp", "vrfy_expn", "authenticated")
    d.start()
    for user in ("full@localhost", "other@localhost"):
        r = d.cli("user", "add", user, "--password-stdin", input="pw\n")
        assert r.returncode == 0, r.stderr
    r = d.cli("user", "quota", "full@localhost", "10K")
    assert r.returncode == 0, r.stderr
    r = d.cli("alias", "add", "team@localhost", "demo@localhost", "other@localhost")
    assert r.returncode == 0, r.stderr
    return d


# (RCPT, expected code) in one pipelined write; SIZE=50000 fills "full"
RCPTS = [("demo@localhost", 250), ("nobody@localhost", 550),
         ("full@localhost", 452), ("someone@remote.example", 554),
         ("team@localhost", 250), ("postmaster", 250),
         ("user%remote.example@localhost", 554), ("other@localhost", 250)]


@pytest.mark.parametrize("workers", WORKERS)
def test_pipelined_rcpts_answer_in_order(tmp_path, workers):
    d = rcpt_daemon(tmp_path, workers)
    try:
        r = SmtpRaw(d.port("smtp"))
        assert r.reply()[0] == 220
        assert r.cmd("EHLO c.example.org")[0] == 250
        batch = b""
        for _ in range(5):
            batch += b"MAIL FROM:<a@example.org> SIZE=50000\r\n"
            batch += b"".join(f"RCPT TO:<{a}>\r\n".encode() for a, _ in RCPTS)
            batch += b"RSET\r\n"
        batch += b"MAIL FROM:<a@example.org>\r\n"
        batch += b"".join(f"RCPT TO:<{a}>\r\n".encode() for a, _ in RCPTS)
        batch += b"DATA\r\n"
        r.send(batch)
        for _ in range(5):
            assert r.reply()[0] == 250
            got = [r.reply() for _ in RCPTS]
            assert [c for c, _ in got] == [c for _, c in RCPTS], got
            assert "Mailbox full" in got[2][1] and "unknown" in got[1][1]
            assert r.reply()[0] == 250
        assert r.reply()[0] == 250
        # without SIZE= the full user's mailbox (empty) still has room
        got = [r.reply()[0] for _ in RCPTS]
        assert got == [250, 550, 250, 554, 250, 250, 554, 250]
        assert r.reply()[0] == 354
        r.send(b"Subject: pipelined\r\n\r\nhello\r\n.\r\nQUIT\r\n")
        assert r.reply()[0] == 250
        assert r.reply()[0] == 221
        r.close()
        c = poplib.POP3("127.0.0.1", d.port("pop3"), timeout=10)
        c.user("other@localhost")
        c.pass_("pw")
        assert c.stat()[0] == 1     # once, though named twice (team)
        c.quit()
    finally:
        finish(d)


@pytest.mark.parametrize("workers", WORKERS)
def test_smtp_client_leaves_while_rcpt_lookups_are_out(tmp_path, workers):
    d = rcpt_daemon(tmp_path, workers)
    try:
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", d.port("smtp")), timeout=10)
            s.recv(512)
            s.sendall(b"EHLO c.example.org\r\nMAIL FROM:<a@example.org>\r\n" +
                      b"".join(f"RCPT TO:<{a}>\r\n".encode() for a, _ in RCPTS * 5))
            if i % 2:
                time.sleep(0.02)
            s.close()
        with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=10) as s:
            s.sendmail("a@example.org", ["demo@localhost"], b"Subject: after\r\n\r\nx\r\n")
    finally:
        finish(d)


# ---- a database that makes lookups wait ----

def locked_table(d, table, seconds):
    """Hold an exclusive lock on table in d's database for a while (from
    another connection): the store's reads of it wait."""
    pg = pg_cluster()
    proc = subprocess.Popen(
        ["psql", "-h", pg.sock, "-p", str(pg.port), "-U", "posthorn", "-d",
         d.pg_database, "-v", "ON_ERROR_STOP=1", "-c",
         f"BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE; "
         f"SELECT pg_sleep({seconds}); COMMIT;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # the lock is taken when pg_locks shows it
    deadline = time.monotonic() + 10
    while not pg.rows(f"SELECT count(*) FROM pg_locks l JOIN pg_class c ON"
                      f" c.oid = l.relation WHERE c.relname = '{table}' AND"
                      f" l.mode = 'AccessExclusiveLock' AND l.granted", d.pg_database)[0][0] == "1":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc


def noop_time(port):
    """Seconds for an SMTP greeting + NOOP on a new connection."""
    t = time.monotonic()
    r = SmtpRaw(port)
    assert r.reply()[0] == 220
    assert r.cmd("NOOP")[0] == 250
    r.close()
    return time.monotonic() - t


@pytest.mark.parametrize("what", ["rcpt", "pop3-open", "retr"])
def test_waiting_lookup_holds_only_its_session(tmp_path, what):
    """One I/O thread; a lookup waits 3 s on a locked table: another
    client on that thread is answered at once meanwhile (before, the
    whole thread waited)."""
    if STORE != "pgsql":
        pytest.skip("PostgreSQL: a table lock makes the read wait")
    d = start(tmp_path, io_threads=1)
    try:
        append(d, SMALL)
        results = []
        if what == "rcpt":
            r = SmtpRaw(d.port("smtp"))
            assert r.reply()[0] == 220
            assert r.cmd("EHLO c.example.org")[0] == 250
            assert r.cmd("MAIL FROM:<a@example.org>")[0] == 250
            lock = locked_table(d, "users", 3)
            r.send(b"RCPT TO:<demo@localhost>\r\n")
            waiter = lambda: results.append(r.reply()[0])
        else:
            p = Pop(d.port("pop3"))
            if what == "pop3-open":
                p.send(f"USER {USER}")
                assert p.line().startswith(b"+OK")
                # the password check reads users: lock the listing's table
                lock = locked_table(d, "messages", 3)
                p.send(f"PASS {PASSWORD}")
                waiter = lambda: results.append(p.line())
            else:
                p.login()
                lock = locked_table(d, "blob_data", 3)
                p.send("RETR 1")
                waiter = lambda: results.append(p.line())
        t = threading.Thread(target=waiter)
        t.start()
        time.sleep(0.3)     # the lookup is out and waits
        took = noop_time(d.port("smtp"))
        t.join(20)
        lock.wait(20)
        assert results and (results[0] == 250 or results[0].startswith(b"+OK")), results
        assert took < 1.5, f"another session waited {took:.2f} s"
    finally:
        finish(d)


@pytest.mark.parametrize("workers", WORKERS)
def test_submission_sender_check_in_order(tmp_path, workers):
    """Submission's MAIL FROM check (a store read unless the sender is the
    login itself) and VRFY/EXPN, pipelined with what follows: the answers
    keep their order."""
    d = rcpt_daemon(tmp_path, workers)
    try:
        r = SmtpRaw(d.port("submission"))
        assert r.reply()[0] == 220
        assert r.cmd("EHLO c.example.org")[0] == 250
        token = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        assert r.cmd(f"AUTH PLAIN {token}")[0] == 235
        r.send(b"MAIL FROM:<other@localhost>\r\nRCPT TO:<demo@localhost>\r\n"
               b"MAIL FROM:<demo+tag@localhost>\r\nRCPT TO:<other@localhost>\r\n"
               b"RSET\r\nMAIL FROM:<demo@localhost>\r\nRSET\r\n"
               b"MAIL FROM:<team@localhost>\r\nNOOP\r\n"
               b"VRFY <nobody@localhost>\r\nEXPN <team@localhost>\r\n"
               b"VRFY <other@localhost>\r\nNOOP\r\n")
        got = [r.reply() for _ in range(13)]
        assert [c for c, _ in got] == [553, 503, 250, 250, 250, 250, 250, 553,
                                       250, 550, 250, 250, 250], got
        assert got[10][1].split("\n") == ["2.1.5 <demo@localhost>",
                                          "2.1.5 <other@localhost>"]
        assert got[11][1] == "2.1.5 <other@localhost>"
        r.close()
    finally:
        finish(d)
