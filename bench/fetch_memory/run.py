#!/usr/bin/python3
"""bench/fetch_memory: the daemon's peak resident memory (VmHWM, reset
through /proc/PID/clear_refs before each step) while a fresh posthornd
takes one ~25 MiB message by IMAP APPEND, indexes it for SEARCH in the
background, and serves FETCH BODY[] of it (plain, and with COMPRESS=DEFLATE
over TLS). Prints the growth of each step in MiB and as a multiple of the
message. POSTHORN_BUILD_DIR picks the build, POSTHORN_TEST_STORE=pgsql the
store. Usage: bench/fetch_memory/run.py [--runs 3]"""
import os
import ssl
import statistics
import sys
import tempfile
import time
import zlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tests"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
from conftest import STORE, Posthornd   # noqa: E402
from test_imap import logged_in, Raw    # noqa: E402

LINE = b"%08d a line of a large message, as an attachment would be\r\n"
HEAD = (b"From: Alice <alice@example.org>\r\nTo: demo@localhost\r\n"
        b"Subject: one large message\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\n")
MSG = HEAD + b"".join(LINE % i for i in range(390_000)) + b"\r\n--b--\r\n"


def hwm(pid):
    with open(f"/proc/{pid}/status") as fh:
        return int([l for l in fh if l.startswith("VmHWM:")][0].split()[1]) * 1024


def rss(pid):
    with open(f"/proc/{pid}/status") as fh:
        return int([l for l in fh if l.startswith("VmRSS:")][0].split()[1]) * 1024


def reset_hwm(pid):
    with open(f"/proc/{pid}/clear_refs", "w") as fh:
        fh.write("5")


def pending(d):
    if d.store == "pgsql":
        from conftest import pg_cluster
        return int(pg_cluster().rows("SELECT count(*) FROM search_pending",
                                     d.pg_database)[0][0])
    import sqlite3
    db = sqlite3.connect(os.path.join(d.data_dir, "posthorn.db"))
    try:
        return db.execute("SELECT count(*) FROM search_pending").fetchone()[0]
    finally:
        db.close()


def read_literal_fetch(sock_recv, expect):
    """Reads until the tagged reply; returns the bytes."""
    buf = b""
    while not buf.endswith(b"a2 OK FETCH completed\r\n"):
        chunk = sock_recv()
        if not chunk:
            raise RuntimeError("closed")
        buf += chunk
    return buf


def run_once(tmp):
    d = Posthornd(tmp).start()
    out = {}
    try:
        r = logged_in(d)
        r.close()
        pid = d.proc.pid
        # wait for the idle writer to settle
        time.sleep(0.5)
        reset_hwm(pid)
        base = rss(pid)
        r = logged_in(d)
        r.ok("APPEND INBOX {}", MSG)
        out["append"] = hwm(pid) - base
        r.close()
        for _ in range(600):
            if pending(d) == 0:
                break
            time.sleep(0.1)
        out["index"] = hwm(pid) - base
        time.sleep(0.3)
        for name, compress in (("fetch", False), ("fetch_deflate_tls", True)):
            reset_hwm(pid)
            base = rss(pid)
            r = Raw(d.port("imaps") if compress else d.port("imap"), tls=compress, timeout=60)
            r.login()
            r.ok("SELECT INBOX")
            if compress:
                r.ok("COMPRESS DEFLATE")
                z = zlib.decompressobj(-15)
                c = zlib.compressobj(6, zlib.DEFLATED, -15)
            # twice on one connection: the first fills the reader's page
            # cache on SQLite ([cache_size] 32 MiB per connection, kept),
            # the second shows what the FETCH itself holds
            for step in ("", "_again"):
                if step:
                    time.sleep(0.2)
                    reset_hwm(pid)
                    base = rss(pid)
                if compress:
                    r.sock.sendall(c.compress(b"a2 FETCH 1 BODY.PEEK[]\r\n") + c.flush(zlib.Z_SYNC_FLUSH))
                    data = read_literal_fetch(lambda: z.decompress(r.sock.recv(1 << 20)), len(MSG))
                else:
                    r.sock.sendall(b"a2 FETCH 1 BODY.PEEK[]\r\n")
                    data = read_literal_fetch(lambda: r.sock.recv(1 << 20), len(MSG))
                assert MSG in data, name
                out[name + step] = hwm(pid) - base
            r.sock.close()
    finally:
        d.stop()
    return out


def main():
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    res = []
    for i in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            res.append(run_once(os.path.join(tmp, "d")))
    mib = len(MSG) / 1048576
    print(f"store {STORE}, message {mib:.1f} MiB, {runs} runs, peak RSS growth (median):")
    for k in res[0]:
        vals = [r[k] for r in res]
        m = statistics.median(vals)
        print(f"  {k:18s} {m / 1048576:7.1f} MiB  {m / len(MSG):5.2f}x   runs: "
              + " ".join(f"{v / 1048576:.1f}" for v in vals))


if __name__ == "__main__":
    main()
