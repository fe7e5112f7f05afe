"""Slowloris: 400 connections from 8 addresses that never finish a line,
dripping one byte every two seconds, against a daemon whose pool of
unauthenticated connections holds 100. A
normal client on the same protocol still gets its greeting and logs in
within 2 s: a newcomer pushes the oldest unauthenticated connection out
(with the protocol's busy reply), never the other way round."""
import base64
import threading
import time

import pytest

from hostile import PASSWORD, USER, Line, daemon_with, finish, log_lines

SLOW_SOURCES = [f"127.0.1.{i}" for i in range(1, 9)]
GREETING = {"imap": "* OK", "pop3": "+OK", "submission": "220"}
BUSY = {"imap": "* BYE [UNAVAILABLE]", "pop3": "-ERR [SYS/TEMP]",
        "submission": "421 4.7.0"}


def log_in(d, service, source):
    """Greeting and login of a normal client; returns the seconds taken."""
    start = time.monotonic()
    c = Line(d.port(service), source, timeout=10)
    assert c.line().startswith(GREETING[service])
    if service == "imap":
        assert c.cmd(f'a LOGIN "{USER}" "{PASSWORD}"').startswith("a OK")
    elif service == "pop3":
        assert c.cmd(f"USER {USER}").startswith("+OK")
        assert c.cmd(f"PASS {PASSWORD}").startswith("+OK")
    else:
        c.send(b"EHLO normal.example\r\n")
        c.until("250 ")
        plain = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
        assert c.cmd(f"AUTH PLAIN {plain}").startswith("235")
    took = time.monotonic() - start
    c.close()
    return took


@pytest.mark.parametrize("service", ["imap", "pop3", "submission"])
def test_slowloris(tmp_path, service):
    d = daemon_with(tmp_path, {"server": {"max_connections": "1000",
                                          "max_unauthenticated": "100"}})
    slow = []
    pushed_out = []
    stop = threading.Event()

    def drip():
        """One byte to every slow connection every 2 s, never a whole line
        (the server may have closed some: their send fails)."""
        while not stop.wait(2):
            for c in slow:
                try:
                    c.send(b"x")
                except OSError:
                    pass

    try:
        for i in range(400):
            c = Line(d.port(service), SLOW_SOURCES[i % len(SLOW_SOURCES)], timeout=5)
            slow.append(c)
        dripper = threading.Thread(target=drip)
        dripper.start()
        time.sleep(3)  # let them drip
        took = [log_in(d, service, "127.0.2.1") for _ in range(3)]
        assert max(took) < 2, took
        stop.set()
        dripper.join(10)
        # The ones pushed out got the busy reply first; it waits in their
        # receive buffers.
        for c in slow:
            c.sock.setblocking(False)
            try:
                while True:
                    chunk = c.sock.recv(65536)
                    if not chunk:
                        break
                    c.buf += chunk
            except OSError:
                pass
            pushed_out += [ln for ln in c.buf.decode().split("\r\n")
                           if ln.startswith(BUSY[service])]
        assert len(pushed_out) >= 300 - 5, len(pushed_out)
        assert all(ln.endswith("Too many unauthenticated connections")
                   for ln in pushed_out), set(pushed_out)
        assert log_lines(d, r"pushed out 127\.0\.1\.\d: Too many unauthenticated")
    finally:
        stop.set()
        for c in slow:
            c.close()
        finish(d)
