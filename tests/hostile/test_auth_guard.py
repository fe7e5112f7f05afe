"""Password guessing is limited per source, not per connection or
protocol: many parallel connections get no more guesses than one, a login
to the attacker's own account does not wipe the penalty, the delay is
capped so a real client still logs in, trusted networks can be exempted,
and every failed login is one log line in one format that Debian's
fail2ban reads with the shipped filter."""
import base64
import hashlib
import os
import re
import subprocess
import threading
import time

import pytest

from conftest import ROOT
from hostile import (PASSWORD, USER, Line, add_users, daemon_with, finish,
                     log_lines)

FILTER = os.path.join(ROOT, "etc", "fail2ban", "filter.d", "posthorn.conf")


def imap_try(d, user, password, source, tag="a"):
    """One LOGIN on a new IMAP connection: (tagged reply, seconds it took)."""
    c = Line(d.port("imap"), source, timeout=60)
    assert c.line().startswith("* OK")
    start = time.monotonic()
    reply = c.cmd(f'{tag} LOGIN "{user}" "{password}"')
    while reply.startswith("*"):
        reply = c.line()
    took = time.monotonic() - start
    c.close()
    return reply, took


def test_parallel_connections_get_no_more_guesses(tmp_path):
    """60 parallel connections from one address guess for 20 s: the
    password is checked only a few times (before: about 46 checks in 20 s,
    180 in 78 s), the rest wait or are refused without a check."""
    d = daemon_with(tmp_path, {})
    checked = []
    refused = []
    stop = time.monotonic() + 20

    def attacker(n):
        while time.monotonic() < stop:
            try:
                c = Line(d.port("imap"), "127.0.0.2", timeout=30)
                c.line()
                i = 0
                while time.monotonic() < stop:
                    i += 1
                    reply = c.cmd(f'g{i} LOGIN "{USER}" "guess{n}-{i}"')
                    while reply.startswith("*"):
                        reply = c.line()
                    if "AUTHENTICATIONFAILED" in reply:
                        checked.append(reply)
                    elif "UNAVAILABLE" in reply:
                        refused.append(reply)
                    else:
                        raise AssertionError(reply)
                c.close()
            except (EOFError, OSError):
                pass  # closed for too many errors: come back

    threads = [threading.Thread(target=attacker, args=(n,)) for n in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        # One per I/O thread at once, then max_pending (4) per delay,
        # which soon is 15 s; refusals wait as long as checks.
        assert len(checked) <= 20, (len(checked), len(refused))
        assert 0 < len(refused) <= 60 * 20, len(refused)
        # The guesses are logged once each, in the one format.
        assert len(log_lines(d, r"auth failed proto=imap user=demo@localhost "
                             r"ip=127\.0\.0\.2 mech=LOGIN$")) == len(checked)
        # Another source is not punished for them.
        reply, took = imap_try(d, USER, PASSWORD, "127.0.0.3")
        assert reply.startswith("a OK")
    finally:
        finish(d)


def test_own_account_does_not_wipe_the_penalty(tmp_path):
    """Guesses at a victim, then a login to the attacker's own account:
    the next guess at the victim still waits."""
    d = daemon_with(tmp_path, {})
    try:
        (own,) = add_users(d, 1, prefix="attacker")
        for i in range(3):  # delays 0, 1, 2 s
            reply, _ = imap_try(d, USER, f"wrong{i}", "127.0.0.4")
            assert "AUTHENTICATIONFAILED" in reply
        reply, took = imap_try(d, own, PASSWORD, "127.0.0.4")
        assert reply.startswith("a OK") and took >= 3.5  # waited 4 s
        # The success forgot nothing of the three guesses at the victim.
        reply, took = imap_try(d, USER, "wrong3", "127.0.0.4")
        assert "AUTHENTICATIONFAILED" in reply
        assert took >= 3.5, took
        # The victim's own login from there clears them.
        reply, took = imap_try(d, USER, PASSWORD, "127.0.0.4")
        assert reply.startswith("a OK")
        reply, took = imap_try(d, USER, PASSWORD, "127.0.0.4")
        assert reply.startswith("a OK") and took < 3
    finally:
        finish(d)


def pop3_try(d, user, password, source):
    c = Line(d.port("pop3"), source, timeout=60)
    assert c.line().startswith("+OK")
    assert c.cmd(f"USER {user}").startswith("+OK")
    start = time.monotonic()
    reply = c.cmd(f"PASS {password}")
    took = time.monotonic() - start
    c.close()
    return reply, took


def test_one_record_for_every_protocol(tmp_path):
    """Failures over POP3 delay IMAP and SMTP AUTH from the same source;
    another source is not delayed."""
    d = daemon_with(tmp_path, {})
    try:
        for i in range(2):  # delays 0 and 1 s
            assert pop3_try(d, USER, f"x{i}", "127.0.0.5")[0].startswith("-ERR [AUTH]")
        reply, took = imap_try(d, USER, PASSWORD, "127.0.0.5")
        assert reply.startswith("a OK") and took >= 1.5  # waited 2 s
        assert len(log_lines(d, r"auth failed proto=pop3 .*ip=127\.0\.0\.5 mech=USER$")) == 2
        # The IMAP success forgot the failures at demo: SMTP AUTH from
        # there goes through at once, a failure there counts again.
        c = Line(d.port("submission"), "127.0.0.5", timeout=60)
        assert c.line().startswith("220")
        c.send(b"EHLO x\r\n")
        c.until("250 ")
        bad = base64.b64encode(b"\0" + USER.encode() + b"\0nope").decode()
        assert c.cmd(f"AUTH PLAIN {bad}").startswith("535")
        start = time.monotonic()
        good = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode()).decode()
        assert c.cmd(f"AUTH PLAIN {good}").startswith("235")
        assert time.monotonic() - start >= 0.8  # the SMTP failure's 1 s
        c.close()
        reply, took = imap_try(d, USER, PASSWORD, "127.0.0.6")
        assert reply.startswith("a OK")
    finally:
        finish(d)


def test_delay_is_capped_and_the_right_password_gets_in(tmp_path):
    """Many failures later, the right password still logs in after at most
    fail_delay_max (here 2 s; at most 15 s in any config)."""
    d = daemon_with(tmp_path, {"auth": {"fail_delay": "100ms",
                                        "fail_delay_max": "2s"}})
    try:
        done = []

        def guess(i):
            done.append(pop3_try(d, USER, f"w{i}", "127.0.0.8")[0])

        for round_ in range(4):  # 4 waiting at a time
            threads = [threading.Thread(target=guess, args=(round_ * 4 + k,))
                       for k in range(4)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30)
        failures = [r for r in done if r.startswith("-ERR [AUTH]")]
        assert len(failures) >= 8, done
        reply, took = pop3_try(d, USER, PASSWORD, "127.0.0.8")
        assert reply.startswith("+OK"), reply
        # 0.1 s doubling per failure would be minutes; the cap is 2 s.
        assert 1.5 <= took < 10, took
    finally:
        finish(d)


def test_trusted_networks_are_exempt(tmp_path):
    d = daemon_with(tmp_path, {"auth": {"trusted_networks": "127.0.0.9/32"}})
    try:
        for i in range(5):
            reply, took = imap_try(d, USER, f"bad{i}", "127.0.0.9")
            assert "AUTHENTICATIONFAILED" in reply
        reply, took = imap_try(d, USER, PASSWORD, "127.0.0.9")
        # Not exempt, the sixth attempt would wait 15 s.
        assert reply.startswith("a OK") and took < 5, took
    finally:
        finish(d)


def test_one_log_format_for_every_way_in(tmp_path):
    """Each failed login through every protocol and mechanism is one
    notice line "auth failed proto=P user=U ip=A mech=M"; fail2ban-regex
    with etc/fail2ban/filter.d/posthorn.conf finds every one of them, and a
    user name crafted to look like another address does not fool it."""
    d = daemon_with(tmp_path, {"auth": {"trusted_networks": "127.0.0.0/8"},
                               "pop3": {"apop": "yes"}})
    try:
        assert d.cli("user", "apop-secret", USER, "--password-stdin",
                     input="apopsecret\n").returncode == 0
        src = "127.0.0.10"
        # IMAP LOGIN and AUTHENTICATE PLAIN
        assert "AUTHENTICATIONFAILED" in imap_try(d, USER, "x", src)[0]
        assert "AUTHENTICATIONFAILED" in imap_try(d, "evil ip=192.0.2.66", "x", src)[0]
        c = Line(d.port("imap"), src)
        c.line()
        plain = base64.b64encode(b"\0" + USER.encode() + b"\0x").decode()
        assert "AUTHENTICATIONFAILED" in c.cmd(f"b AUTHENTICATE PLAIN {plain}")
        c.close()
        # POP3 USER/PASS, APOP, AUTH PLAIN
        assert pop3_try(d, USER, "x", src)[0].startswith("-ERR [AUTH]")
        c = Line(d.port("pop3"), src)
        greeting = c.line()
        stamp = re.search(r"<[^>]+>", greeting).group(0)
        digest = hashlib.md5((stamp + "wrong").encode()).hexdigest()
        assert c.cmd(f"APOP {USER} {digest}").startswith("-ERR [AUTH]")
        assert c.cmd(f"AUTH PLAIN {plain}").startswith("-ERR [AUTH]")
        c.close()
        # SMTP AUTH PLAIN and LOGIN on submission
        c = Line(d.port("submission"), src)
        c.line()
        c.send(b"EHLO x\r\n")
        c.until("250 ")
        assert c.cmd(f"AUTH PLAIN {plain}").startswith("535")
        assert c.cmd("AUTH LOGIN " + base64.b64encode(USER.encode()).decode()).startswith("334")
        assert c.cmd(base64.b64encode(b"x").decode()).startswith("535")
        c.close()
        lines = log_lines(d, r"auth failed ")
        want = [("imap", "LOGIN"), ("imap", "LOGIN"), ("imap", "PLAIN"),
                ("pop3", "USER"), ("pop3", "APOP"), ("pop3", "PLAIN"),
                ("smtp", "PLAIN"), ("smtp", "LOGIN")]
        got = [re.search(r"notice: \[\w+\] auth failed proto=(\w+) user=\S* "
                         r"ip=127\.0\.0\.10 mech=(\S+)$", ln).groups()
               for ln in lines]
        assert got == want, lines
        assert any("user=evil?ip=192.0.2.66 " in ln for ln in lines)
        out = subprocess.run(["fail2ban-regex", "--print-all-matched",
                              d.log_path, FILTER],
                             capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        matched = re.search(r"Lines: \d+ lines, \d+ ignored, (\d+) matched",
                            out.stdout)
        assert matched and int(matched.group(1)) == len(want), out.stdout
        assert "192.0.2.66" not in out.stdout.split("Lines:")[0].split("Failregex")[1]
        assert "127.0.0.10" in out.stdout
    finally:
        finish(d)


@pytest.mark.parametrize("proto", ["imap", "pop3", "smtp"])
def test_refused_attempts_are_answered_and_counted(tmp_path, proto):
    """More attempts than max_pending_per_ip waiting at once: the extra
    ones get the protocol's "try again later" without a check, after the
    same delay (so that refusals come back no faster than checks)."""
    d = daemon_with(tmp_path, {"auth": {"max_pending_per_ip": "1",
                                        "fail_delay": "3s",
                                        "fail_delay_max": "3s"}})
    try:
        src = "127.0.0.11"
        assert "AUTHENTICATIONFAILED" in imap_try(d, USER, "x", src)[0]
        waiting = Line(d.port("imap"), src, timeout=30)
        waiting.line()
        waiting.send(f'w LOGIN "{USER}" "y"\r\n')  # holds the one place
        time.sleep(0.5)
        if proto == "imap":
            reply = imap_try(d, USER, PASSWORD, src)[0]
            assert reply.startswith("a NO [UNAVAILABLE]"), reply
        elif proto == "pop3":
            reply = pop3_try(d, USER, PASSWORD, src)[0]
            assert reply.startswith("-ERR [SYS/TEMP]"), reply
        else:
            c = Line(d.port("submission"), src)
            c.line()
            c.send(b"EHLO x\r\n")
            c.until("250 ")
            good = base64.b64encode(b"\0" + USER.encode() + b"\0" + PASSWORD.encode())
            assert c.cmd("AUTH PLAIN " + good.decode()).startswith("454 4.7.0")
            c.close()
        assert "AUTHENTICATIONFAILED" in waiting.line()
        waiting.close()
        assert log_lines(d, r"auth refused proto=%s ip=127\.0\.0\.11" % proto)
    finally:
        finish(d)
