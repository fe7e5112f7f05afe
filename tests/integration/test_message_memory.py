"""A large message is held once in memory on its way into the store: the
peak resident memory (VmHWM) of a fresh daemon receiving one 20 MB message
by SMTP DATA, BDAT, LMTP or IMAP APPEND grows by well under twice the
message (it grew by 2.5 times before: the DATA buffer, the delivery's copy
and SQLite's record). The stored message is intact and parsed
(BODYSTRUCTURE from the parse made as the bytes arrived)."""
import json
import os
import smtplib
import socket

import pytest

from conftest import BUILD, STORE, Posthornd
from test_fetch_ranges import vm_hwm
from test_imap import USER, fetch_items, logged_in

LINE = b"%08d a line of a large message, as an attachment would be\r\n"
HEAD = (b"From: Alice <alice@example.org>\r\nTo: demo@localhost\r\n"
        b"Subject: one large message\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\n")
MSG = HEAD + b"".join(LINE % i for i in range(330_000)) + b"\r\n--b--\r\n"


def address_sanitized():
    """ASan keeps freed memory in quarantine and adds its own: its peak
    memory says nothing of ours."""
    try:
        with open(os.path.join(BUILD, "meson-info", "intro-buildoptions.json")) as fh:
            opts = json.load(fh)
    except OSError:
        return False
    return any(o["name"] == "b_sanitize" and "address" in str(o["value"]) for o in opts)


def bdat(port, msg):
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        f = s.makefile("rb")

        def reply():
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    return line
        reply()
        for cmd in (b"EHLO t", b"MAIL FROM:<alice@example.org> BODY=BINARYMIME",
                    f"RCPT TO:<{USER}>".encode()):
            s.sendall(cmd + b"\r\n")
            assert reply().startswith(b"250")
        chunk = 3 << 20
        for off in range(0, len(msg), chunk):
            part = msg[off:off + chunk]
            last = b" LAST" if off + chunk >= len(msg) else b""
            s.sendall(b"BDAT %d%s\r\n" % (len(part), last) + part)
            assert reply().startswith(b"250")


def receive(d, how):
    if how == "DATA":
        with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=60) as c:
            c.sendmail("alice@example.org", [USER], MSG)
    elif how == "LMTP":
        with smtplib.LMTP("127.0.0.1", d.port("lmtp"), timeout=60) as c:
            c.sendmail("alice@example.org", [USER], MSG)
    elif how == "BDAT":
        bdat(d.port("smtp"), MSG)
    else:
        r = logged_in(d)
        r.ok("APPEND INBOX {}", MSG)
        r.close()


@pytest.mark.parametrize("how", ["DATA", "BDAT", "LMTP", "APPEND"])
def test_large_message_held_once(tmp_path, how):
    # The search index reads each new message in the background 20 ms
    # after the writer goes quiet, with its own copies: a daemon slow to
    # be measured can see that peak; so up to three fresh daemons.
    # On PostgreSQL libpq copies a parameter into its send buffer, so the
    # message is there twice for the moment it is sent.
    bound = 1.6 if STORE == "sqlite" else 2.3
    growths = []
    for attempt in range(3):
        d = Posthornd(tmp_path / f"data{attempt}").start()
        try:
            if how == "APPEND":
                r = logged_in(d)   # the login's own memory is not counted
                r.close()
            before = vm_hwm(d.proc.pid) * 1024
            receive(d, how)
            growths.append(vm_hwm(d.proc.pid) * 1024 - before)
            r = logged_in(d)
            r.ok("SELECT INBOX")
            got = fetch_items(r.ok("FETCH 1 (BODY.PEEK[] BODYSTRUCTURE)").untagged)[1]
            assert got["BODY[]"].endswith(MSG)
            assert got["BODYSTRUCTURE"][0][:2] == [b"text", b"plain"]
            assert got["BODYSTRUCTURE"][0][6] == str(len(MSG) - len(HEAD) - len(b"\r\n--b--\r\n"))
            r.close()
        finally:
            status = d.stop()
        d.assert_clean()
        assert status == 0
        if address_sanitized():
            return      # the bytes and the parse are checked, not the memory
        if growths[-1] < bound * len(MSG):
            return
    pytest.fail(f"{how} on {STORE}: peak memory grew by {[g // 1024 for g in growths]} KiB "
                f"for a {len(MSG) // 1024} KiB message")


def wait_indexed(d, seconds=60):
    """Until the background search indexer has taken every message (its
    own peak is not the FETCH's)."""
    import sqlite3
    import time
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if d.store == "pgsql":
            from conftest import pg_cluster
            n = int(pg_cluster().rows("SELECT count(*) FROM search_pending",
                                      d.pg_database)[0][0])
        else:
            db = sqlite3.connect(os.path.join(d.data_dir, "posthorn.db"))
            try:
                n = db.execute("SELECT count(*) FROM search_pending").fetchone()[0]
            finally:
                db.close()
        if n == 0:
            return
        time.sleep(0.1)
    pytest.fail("the search index did not catch up")


def reset_hwm(pid):
    """VmHWM starts again from the current resident size."""
    with open(f"/proc/{pid}/clear_refs", "w") as fh:
        fh.write("5")


@pytest.mark.parametrize("how", ["plain", "deflate-tls"])
def test_large_fetch_streamed(tmp_path, how):
    """FETCH BODY[] of a 20 MB message goes out from the blob by slices as
    the client reads: the daemon's peak grows by a small part of the
    message (it grew by twice the message: the bytes read whole, then
    the response built around them). The first FETCH on a connection
    fills SQLite's page cache of its reader (bounded per connection, not
    per message); the second is measured."""
    import zlib
    from test_imap import Raw
    d = Posthornd(tmp_path / "data").start()
    try:
        r = logged_in(d)
        r.ok("APPEND INBOX {}", MSG)
        r.close()
        wait_indexed(d)
        tls = how == "deflate-tls"
        r = Raw(d.port("imaps" if tls else "imap"), tls=tls, timeout=60)
        r.login()
        r.ok("SELECT INBOX")
        z = c = None
        if tls:
            r.ok("COMPRESS DEFLATE")
            z = zlib.decompressobj(-15)
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
        growth = []
        for _ in range(2):
            reset_hwm(d.proc.pid)
            before = vm_hwm(d.proc.pid) * 1024
            cmd = b"f FETCH 1 (BODY.PEEK[] RFC822.SIZE)\r\n"
            r.send(c.compress(cmd) + c.flush(zlib.Z_SYNC_FLUSH) if c else cmd)
            data = b""
            while not data.endswith(b"f OK FETCH completed\r\n"):
                chunk = r.sock.recv(1 << 20)
                assert chunk, data[-200:]
                data += z.decompress(chunk) if z else chunk
            growth.append(vm_hwm(d.proc.pid) * 1024 - before)
            assert data.startswith(b"* 1 FETCH (BODY[] {%d}\r\n" % len(MSG) + MSG + b" RFC822.SIZE %d)\r\n" % len(MSG))
        r.sock.close()
    finally:
        status = d.stop()
    d.assert_clean()
    assert status == 0
    if address_sanitized():
        return
    assert growth[1] < 0.25 * len(MSG), \
        f"FETCH {how}: peak grew by {[g // 1024 for g in growth]} KiB for {len(MSG) // 1024} KiB"
