"""Milters on port 25 end to end: posthornd with a [milter] list, a real
rspamd (tests/rspamd.py) as the milter: GTUBE is refused with rspamd's
reply, a clean message is stored with rspamd's headers, a spam-scored one
carries rspamd's verdict headers; a milter that is down gets its default
action (tempfail or accept)."""
import smtplib
import socket

import pytest

import rspamd as rspamd_mod
from rspamd import rspamd_server  # noqa: F401 (the fixture)
from conftest import Posthornd

USER = "demo@localhost"



def milter_daemon(tmp_path, milters):
    """A dev daemon with [milter] lines (no greeting delay)."""
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path) as fh:
        conf = fh.read()
    conf = (conf.replace("[smtp]\n", "[smtp]\ngreeting_delay = 0\n", 1)
            if "[smtp]\n" in conf else conf + "\n[smtp]\ngreeting_delay = 0\n")
    conf += "\n[milter]\n" + "".join(f"{k} = {v}\n" for k, v in milters)
    with open(d.config_path, "w") as fh:
        fh.write(conf)
    return d.start()


def stop(d):
    status = d.stop()
    d.assert_clean()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"


def message(subject, body="hello, a short note\r\n", extra=""):
    return (f"From: Sender <someone@example.org>\r\nTo: {USER}\r\n"
            f"Subject: {subject}\r\n{extra}"
            f"Message-ID: <{subject.replace(' ', '-')}@example.org>\r\n"
            f"Date: Mon, 07 Dec 2026 10:00:00 +0000\r\n\r\n{body}").encode()


def send(d, msg, rcpt=USER):
    """(code, text) of the end of data (or of a refused command)."""
    with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=30) as s:
        s.ehlo("client.example.org")
        code, text = s.mail("someone@example.org")
        if code != 250:
            return code, text.decode()
        code, text = s.rcpt(rcpt)
        if code != 250:
            return code, text.decode()
        code, text = s.data(msg)
        return code, text.decode()


def stored(d):
    return [bytes(data) for _, data in d.inbox(USER)]


def test_gtube_refused_with_rspamds_reply(tmp_path, rspamd_server):
    d = milter_daemon(tmp_path, [("rspamd", rspamd_server.milter)])
    try:
        code, text = send(d, message("gtube", f"{rspamd_mod.GTUBE}\r\n"))
        assert code == 554, text
        assert "5.7.1" in text and "Gtube pattern" in text, text
        assert stored(d) == []
        assert "milter=reject(rspamd)" in d.log()
    finally:
        stop(d)


def test_clean_message_gets_rspamds_headers(tmp_path, rspamd_server):
    d = milter_daemon(tmp_path, [("rspamd", rspamd_server.milter)])
    try:
        code, text = send(d, message("clean"))
        assert code == 250, text
        [m] = stored(d)
        head = m.split(b"\r\n\r\n", 1)[0]
        assert b"\r\nX-Spamd-Result: " in head, m
        assert b"\r\nX-Rspamd-Action: no action" in head, m
        assert m.endswith(b"\r\n\r\nhello, a short note\r\n"), m
        # the message's own fields are kept, each once
        assert head.count(b"\r\nSubject: clean") == 1, m
        assert "milter=accept" in d.log() or "milter=continue" in d.log()
    finally:
        stop(d)


def test_spam_scored_message_carries_the_verdict(tmp_path, rspamd_server):
    d = milter_daemon(tmp_path, [("rspamd", rspamd_server.milter)])
    try:
        code, text = send(d, message(
            "spammy", extra=f"{rspamd_mod.SPAM_HEADER}: yes\r\n"))
        assert code == 250, text
        [m] = stored(d)
        assert b"POSTHORN_TEST_SPAM" in m, m
        assert b"X-Rspamd-Action: add header" in m, m
        assert b"X-Spam-Status: Yes" in m, m
    finally:
        stop(d)


def dead_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_milter_down_tempfails_by_default(tmp_path):
    d = milter_daemon(tmp_path, [("gone", f"inet:127.0.0.1:{dead_port()}")])
    try:
        code, text = send(d, message("down"))
        assert code == 451, text
        assert "4.7.1" in text
        assert stored(d) == []
    finally:
        stop(d)


def test_milter_down_with_default_accept(tmp_path):
    d = milter_daemon(tmp_path, [
        ("gone", f"inet:127.0.0.1:{dead_port()} default=accept")])
    try:
        code, text = send(d, message("down accept"))
        assert code == 250, text
        assert len(stored(d)) == 1
    finally:
        stop(d)


# ---- a milter written with python3-milter (tests/milter_test.py) ----

import os
import subprocess
import sys
import time

TEST_MILTER = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), "milter_test.py")


@pytest.fixture
def test_milter():
    try:
        import Milter  # noqa: F401
    except ImportError:
        pytest.skip("python3-milter is not installed: run scripts/install-deps")
    port = dead_port()
    proc = subprocess.Popen(["/usr/bin/python3", TEST_MILTER, str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port, proc
    proc.kill()
    proc.wait()


def test_python_milter_edits_headers_and_body(tmp_path, test_milter):
    port, _ = test_milter
    d = milter_daemon(tmp_path, [("py", f"inet:{port}@127.0.0.1")])
    try:
        code, text = send(d, message("edit", extra="X-Remove-Me: please\r\n"))
        assert code == 250, text
        [m] = stored(d)
        head, body = m.split(b"\r\n\r\n", 1)
        assert b"\r\nX-Test-Added: yes" in head, m
        assert b"\r\nSubject: edited by the milter" in head, m
        assert b"Subject: edit\r\n" not in head, m
        assert b"X-Remove-Me" not in head, m
        assert body == b"the milter's body\r\n", m
    finally:
        stop(d)


def test_python_milter_quarantine_is_the_verdict(tmp_path, test_milter):
    # the pipeline's quarantine action (Junk delivery comes with the junk
    # flag of struct delivery_msg; until then the message is stored)
    port, _ = test_milter
    d = milter_daemon(tmp_path, [("py", f"inet:{port}@127.0.0.1")])
    try:
        code, text = send(d, message("quarantine"))
        assert code == 250, text
        assert "milter=quarantine(py)" in d.log(), d.log()
        assert "action=quarantine" in d.log(), d.log()
    finally:
        stop(d)


def test_python_milter_rejects_with_its_reply(tmp_path, test_milter):
    port, _ = test_milter
    d = milter_daemon(tmp_path, [("py", f"inet:{port}@127.0.0.1")])
    try:
        code, text = send(d, message("reject"))
        assert code == 550, text
        assert "5.7.1" in text and "test milter says no" in text, text
        assert stored(d) == []
    finally:
        stop(d)


def test_python_milter_that_hangs_gets_its_default(tmp_path, test_milter):
    port, _ = test_milter
    d = milter_daemon(tmp_path, [("py", f"inet:{port}@127.0.0.1 timeout=1s")])
    try:
        t0 = time.time()
        code, text = send(d, message("hang"))
        assert code == 451, text
        assert time.time() - t0 < 15
        assert stored(d) == []
        assert "timeout waiting for a reply" in d.log()
    finally:
        stop(d)


def test_python_milter_that_dies_gets_its_default(tmp_path, test_milter):
    port, proc = test_milter
    d = milter_daemon(tmp_path, [
        ("py", f"inet:{port}@127.0.0.1 default=accept")])
    try:
        code, text = send(d, message("die"))
        assert code == 250, text
        assert proc.wait(timeout=10) == 3
        assert len(stored(d)) == 1
        # the next session finds it down and goes on without it
        code, text = send(d, message("after"))
        assert code == 250, text
    finally:
        stop(d)
