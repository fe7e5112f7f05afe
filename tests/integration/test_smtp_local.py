"""The local sendmail socket (protocol local): SMTP over a unix socket, no
AUTH and no STARTTLS offered, the connecting unix user counts as
authenticated (remote recipients are queued) and is named in Received:."""
import os
import pwd
import re
import smtplib
import socket
import stat

from test_smtp import daemon, inbox_blobs, queued  # noqa: F401 (fixture)

MESSAGE = (b"From: root\r\n"
           b"To: demo@localhost\r\n"
           b"Subject: from the sendmail socket\r\n"
           b"\r\n"
           b"local body\r\n")


class UnixSMTP(smtplib.SMTP):
    """smtplib over a unix socket (host is the socket path)."""

    def _get_socket(self, host, port, timeout):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(host)
        return s


def sock_path(daemon):
    return os.path.join(daemon.data_dir, "sendmail.sock")


def test_socket_is_world_writable(daemon):
    st = os.stat(sock_path(daemon))
    assert stat.S_ISSOCK(st.st_mode)
    assert st.st_mode & 0o777 == 0o666


def test_local_user_delivers_and_relays(daemon):
    uid = os.getuid()
    name = pwd.getpwuid(uid).pw_name
    before = len(inbox_blobs(daemon, "demo@localhost"))
    with UnixSMTP(sock_path(daemon), timeout=10) as s:
        code, text = s.ehlo("localhost")
        assert code == 250
        feats = text.decode().split("\n")
        assert not any(f.startswith("AUTH") for f in feats)
        assert "STARTTLS" not in feats
        assert s.docmd("STARTTLS")[0] == 502
        assert s.docmd("AUTH", "PLAIN AGRvAGRlbW8=")[0] == 502
        # MAIL FROM is taken as given, remote recipients are allowed.
        assert s.mail("anyone@elsewhere.example")[0] == 250
        assert s.rcpt("demo@localhost")[0] == 250
        assert s.rcpt("friend@remote.example")[0] == 250
        code, text = s.data(MESSAGE)
        assert code == 250, text
        qid = re.search(r"queued as (\S+)", text.decode()).group(1)
    blobs = inbox_blobs(daemon, "demo@localhost")
    assert len(blobs) == before + 1
    got = blobs[-1]
    lines = got.split(b"\r\n")
    assert lines[0] == b"Return-Path: <anyone@elsewhere.example>"
    assert lines[1] == f"Received: from local user {name} (uid {uid})".encode()
    assert lines[2].startswith(b"\tby ")
    assert f"id {qid}".encode() in got
    assert got.endswith(MESSAGE)
    q = [row for row in queued(daemon) if row[1] == "friend@remote.example"]
    assert len(q) == 1
    assert q[0][0] == "anyone@elsewhere.example"
    assert bytes(q[0][2]).endswith(MESSAGE)
    log = daemon.log()
    assert re.search(rf"smtp local user={re.escape(name)} uid={uid} pid=\d+", log)
