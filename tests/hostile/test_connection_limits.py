"""Many clients behind one address: with the default config 2000 logged-in
IMAP sessions from one address work (before: the 101st connection was cut
without a word); the limits that remain (unauthenticated connections per
address, sessions per user and address, connections in all) answer with
the protocol's busy reply before they close, on TLS ports too."""
import resource

import pytest

from hostile import (PASSWORD, USER, Line, add_users, daemon_with, finish,
                     imap_login, log_lines, wait_until)

BUSY = {
    "imap": "* BYE [UNAVAILABLE]",
    "imaps": "* BYE [UNAVAILABLE]",
    "pop3": "-ERR [SYS/TEMP]",
    "pop3s": "-ERR [SYS/TEMP]",
    "smtp": "421 4.7.0",
    "submission": "421 4.7.0",
    "submissions": "421 4.7.0",
}
GREETING = {"imap": "* OK", "pop3": "+OK", "smtp": "220", "submission": "220"}


def raise_fd_limit(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def test_2000_imap_sessions_from_one_address(tmp_path):
    """A webmail host or NAT gateway: 40 users with 50 sessions each, all
    from 127.0.0.1, with the default limits."""
    if raise_fd_limit(4500) < 4500:
        pytest.skip("the open files limit is below 4500")
    d = daemon_with(tmp_path, {})
    conns = []
    try:
        users = add_users(d, 40)
        for i in range(2000):
            conns.append(imap_login(d, users[i % 40], tag=f"l{i}"))
        # Every one of them is alive and served.
        for i, c in enumerate(conns):
            c.send(f"n{i} NOOP\r\n")
        for i, c in enumerate(conns):
            assert c.until(f"n{i} ")[-1].startswith(f"n{i} OK")
        # A 51st session of one user from the same address is refused
        # with the busy reply, not cut.
        c = Line(d.port("imap"))
        assert c.line().startswith("* OK")
        c.send(f'x LOGIN "{users[0]}" "{PASSWORD}"\r\n')
        assert c.line().startswith("* BYE [UNAVAILABLE] Too many connections of this user")
        assert c.closed()
        assert log_lines(d, r"login refused proto=imap user=u0@localhost ip=127\.0\.0\.1")
        # Another user is still welcome.
        conns.append(imap_login(d, USER))
    finally:
        for c in conns:
            c.close()
        finish(d)


@pytest.mark.parametrize("service", ["imap", "pop3", "smtp"])
def test_unauthenticated_per_address(tmp_path, service):
    """The 101st connection from one address that has not logged in gets
    the busy reply; logging one in makes room."""
    d = daemon_with(tmp_path, {"smtp": {"greeting_delay": "0"}})
    conns = []
    try:
        for _ in range(100):
            c = Line(d.port(service), "127.0.0.20")
            assert c.line().startswith(GREETING[service])
            conns.append(c)
        c = Line(d.port(service), "127.0.0.20")
        assert c.line().startswith(BUSY[service] + " ")
        assert c.closed()
        # Another address is not affected.
        other = Line(d.port(service), "127.0.0.21")
        assert other.line().startswith(GREETING[service])
        other.close()
        if service == "imap":
            assert conns[0].cmd(f'a LOGIN "{USER}" "{PASSWORD}"').startswith("a OK")
        elif service == "pop3":
            conns[0].cmd(f"USER {USER}")
            assert conns[0].cmd(f"PASS {PASSWORD}").startswith("+OK")
        else:  # port 25: a client that got to MAIL speaks SMTP
            conns[0].send(b"EHLO x\r\n")
            conns[0].until("250 ")
            assert conns[0].cmd("MAIL FROM:<a@example.org>").startswith("250")
        c = Line(d.port(service), "127.0.0.20")
        assert c.line().startswith(GREETING[service])
        conns.append(c)
        assert log_lines(d, r"refused 127\.0\.0\.20: too many unauthenticated")
    finally:
        for c in conns:
            c.close()
        finish(d)


@pytest.mark.parametrize("service", ["imaps", "pop3s", "submissions", "imap"])
def test_total_limit_busy_reply_also_on_tls(tmp_path, service):
    """max_connections reached: the newcomer gets the busy reply, on an
    implicit-TLS port after the handshake (never a silent close)."""
    d = daemon_with(tmp_path, {"server": {"max_connections": "10"}})
    conns = []
    try:
        for i in range(10):
            c = Line(d.port("pop3"), f"127.0.0.{30 + i}")
            assert c.line().startswith("+OK")
            conns.append(c)
        c = Line(d.port(service), "127.0.0.29", tls=service.endswith("s"))
        busy = c.line()
        assert busy.startswith(BUSY[service] + " ") and \
            busy.endswith("Too many connections, try again later"), busy
        assert c.closed()
        conns.pop().close()

        def welcome():
            c = Line(d.port(service), "127.0.0.29", tls=service.endswith("s"))
            try:
                return not c.line().startswith(BUSY[service])
            except EOFError:
                return False
            finally:
                c.close()

        assert wait_until(welcome, 10)
    finally:
        for c in conns:
            c.close()
        finish(d)
