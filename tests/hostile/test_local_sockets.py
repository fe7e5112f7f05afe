"""Sockets other programs use (issue 10 item 6): the LMTP and local unix
sockets get a configurable owner, group and mode with defaults that work
(LMTP 0660 for the daemon's group, local 0666), and the local submission
socket lets a non-trusted uid send only as its own login@origin (or <>),
as Postfix's local_login_sender_maps does. Needs root (the tests run as
root): the callers are played by nobody and daemon."""
import os
import pwd
import grp
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import textwrap
import time

import pytest

import test_local_names as local_names
from conftest import POSTHORN, POSTHORND, Posthornd, free_port_offset, sanitizer_env
from test_local_names import finish
from test_outbound import inbox

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

NOBODY = pwd.getpwnam("nobody")


def world_dir():
    """A data dir other users can reach (tmp_path is root's alone)."""
    path = tempfile.mkdtemp(prefix="posthorn-sockets-")
    os.chmod(path, 0o755)
    return path


def configured(data, extra="", listener_local=""):
    """A dev daemon; listener_local: keys for [listener local]."""
    return local_names.configured(data, extra=listener_local + "\n" + extra)


CLIENT = textwrap.dedent("""
    import smtplib, socket, sys, json
    class U(smtplib.SMTP):
        def _get_socket(self, host, port, timeout):
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(timeout)
            s.connect(host)
            return s
    path, lmtp, senders, rcpt = sys.argv[1], sys.argv[2] == "1", json.loads(sys.argv[3]), sys.argv[4]
    out = []
    try:
        s = U(path, timeout=10) if not lmtp else None
        if lmtp:
            s = smtplib.LMTP(path, timeout=10)
        s.ehlo("localhost") if not lmtp else s.docmd("LHLO", "localhost")
        for sender in senders:
            code, text = s.docmd("MAIL", f"FROM:<{sender}>")
            entry = [sender, code, text.decode()]
            if code == 250 and rcpt:
                s.docmd("RCPT", f"TO:<{rcpt}>")
                c, t = s.data(f"Subject: from {sender}\\r\\n\\r\\nx\\r\\n".encode())
                entry.append(c)
            else:
                s.docmd("RSET")
            out.append(entry)
        s.quit()
    except OSError as e:
        out = {"error": e.errno}
    print(json.dumps(out))
""")


def as_user(user, path, senders, rcpt="", lmtp=False):
    """Talk SMTP (or LMTP) on a unix socket as another unix user."""
    import json
    pw = pwd.getpwnam(user)
    r = subprocess.run([sys.executable, "-c", CLIENT, path, "1" if lmtp else "0",
                        json.dumps(senders), rcpt], user=pw.pw_uid, group=pw.pw_gid,
                       extra_groups=[], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_lmtp_socket_default_mode(tmp_path):
    d = configured(tmp_path / "data",
                   "[listener lmtpsock]\nprotocol = lmtp\npath = lmtp.sock\n")
    try:
        st = os.stat(os.path.join(d.data_dir, "lmtp.sock"))
        assert stat.S_ISSOCK(st.st_mode)
        assert stat.S_IMODE(st.st_mode) == 0o660
        assert stat.S_IMODE(os.stat(os.path.join(d.data_dir, "sendmail.sock")).st_mode) == 0o666
    finally:
        finish(d)


def test_owner_group_and_mode_configured(tmp_path):
    d = configured(tmp_path / "data",
                   "[listener lmtpsock]\nprotocol = lmtp\npath = lmtp.sock\n"
                   "owner = nobody\ngroup = nogroup\nmode = 0640\n",
                   listener_local="group = daemon\nmode = 0660\n")
    try:
        st = os.stat(os.path.join(d.data_dir, "lmtp.sock"))
        assert (st.st_uid, st.st_gid) == (NOBODY.pw_uid, grp.getgrnam("nogroup").gr_gid)
        assert stat.S_IMODE(st.st_mode) == 0o640
        st = os.stat(os.path.join(d.data_dir, "sendmail.sock"))
        assert st.st_gid == grp.getgrnam("daemon").gr_gid
        assert stat.S_IMODE(st.st_mode) == 0o660
    finally:
        finish(d)


def test_bad_socket_keys_are_config_errors(tmp_path):
    d = Posthornd(tmp_path / "data")
    d.start()
    d.stop()
    base = open(d.config_path).read()
    for extra, want in [
        ("[listener x]\nprotocol = lmtp\nport = 2999\nmode = 0660\n",
         "key 'mode' in [listener x] applies only to a unix socket ('path')"),
        ("[listener x]\nprotocol = lmtp\npath = x.sock\nmode = 0889\n",
         "expected an octal file mode such as 0660, got '0889'"),
        ("[listener x]\nprotocol = lmtp\npath = x.sock\nowner = no-such-user-x\n",
         "listener x: unknown owner 'no-such-user-x'"),
    ]:
        open(d.config_path, "w").write(base + "\n" + extra)
        r = subprocess.run([POSTHORND, "--dev", "--data-dir", d.data_dir,
                            "--port-offset", str(d.offset)], capture_output=True,
                           text=True, timeout=30, env=sanitizer_env(d.log_dir))
        assert r.returncode != 0
        assert want in r.stderr, r.stderr


def test_lmtp_socket_for_the_daemon_group():
    """Started as root with [server] user = nobody: the LMTP socket is
    root:nogroup 0660, so an MTA put in the daemon's group can deliver
    and other users cannot connect."""
    data = world_dir()
    conf = os.path.join(data, "posthorn.conf")
    port = 2080 + free_port_offset()
    with open(conf, "w") as fh:
        fh.write(f"[server]\ndata_dir = {data}\nuser = nobody\nadmin = postmaster@localhost\n\n"
                 "[store]\nfsync = no\n\n"
                 "[listener lmtp]\nprotocol = lmtp\npath = lmtp.sock\n\n"
                 f"[listener http]\nprotocol = http\naddress = 127.0.0.1\nport = {port}\n")
    log_path = os.path.join(data, "log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([POSTHORND, "-c", conf], stdout=log, stderr=log,
                            env=sanitizer_env(data))
    try:
        deadline = time.monotonic() + 30
        while " ready" not in open(log_path).read() and time.monotonic() < deadline:
            assert proc.poll() is None, open(log_path).read()
            time.sleep(0.05)
        sock = os.path.join(data, "lmtp.sock")
        st = os.stat(sock)
        assert (st.st_uid, st.st_gid) == (0, NOBODY.pw_gid)
        assert stat.S_IMODE(st.st_mode) == 0o660
        # nobody is in the group (as postfix would be): LHLO works
        out = as_user("nobody", sock, ["x@example.org"], lmtp=True)
        assert isinstance(out, list) and out[0][1] == 250, (out, open(log_path).read())
        # another user is not
        assert as_user("daemon", sock, ["x@example.org"], lmtp=True) == {"error": 13}
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, open(log_path).read()
        shutil.rmtree(data)


def test_untrusted_local_sender_is_refused():
    data = world_dir()
    try:
        d = configured(data)
        try:
            sock = os.path.join(d.data_dir, "sendmail.sock")
            out = as_user("nobody", sock, ["demo@localhost", "nobody", "", "NOBODY"],
                          rcpt="demo@localhost")
            by = {e[0]: e for e in out}
            code, text = by["demo@localhost"][1:3]
            assert code == 553 and text.startswith("5.7.1"), out
            assert "not owned by local user nobody (send as <nobody@" in text
            assert by["nobody"][1] == 250 and by["nobody"][3] == 250, out
            assert by[""][1] == 250, out            # the null sender: anyone
            assert by["NOBODY"][1] == 553, out      # logins are case-sensitive
            msgs = inbox(d, "demo@localhost")
            assert len(msgs) == 2
            assert msgs[0].startswith(b"Return-Path: <nobody@")
            assert msgs[1].startswith(b"Return-Path: <>")
            assert "smtp local: uid 65534 (nobody) may not send as <demo@localhost>" in d.log()

            # posthorn sendmail as nobody: -f someone else is refused with
            # EX_DATAERR, the default sender goes through
            os.chmod(d.config_path, 0o644)
            env = {"PATH": os.environ["PATH"]}
            r = subprocess.run([POSTHORN, "-c", d.config_path, "sendmail", "-f",
                                "demo@localhost", "demo@localhost"],
                               input=b"Subject: x\n\nx\n", capture_output=True,
                               timeout=60, user="nobody", group="nogroup",
                               extra_groups=[], env=env)
            assert r.returncode == 65, r.stderr
            assert b"553 5.7.1" in r.stderr
            r = subprocess.run([POSTHORN, "-c", d.config_path, "sendmail",
                                "demo@localhost"],
                               input=b"Subject: mine\n\nx\n", capture_output=True,
                               timeout=60, user="nobody", group="nogroup",
                               extra_groups=[], env=env)
            assert r.returncode == 0, r.stderr
            assert len(inbox(d, "demo@localhost")) == 3
        finally:
            finish(d)
    finally:
        shutil.rmtree(data)


def test_local_trusted_users_configured():
    """[smtp] local_trusted_users replaces the default list: nobody may
    send as anyone, root (left out) only as root@origin."""
    data = world_dir()
    try:
        d = configured(data, "[smtp]\nlocal_trusted_users = daemon, nobody\n")
        try:
            sock = os.path.join(d.data_dir, "sendmail.sock")
            out = as_user("nobody", sock, ["demo@localhost"])
            assert out[0][1] == 250, out
            out = as_user("root", sock, ["demo@localhost", "root"])
            assert out[0][1] == 553 and out[1][1] == 250, out
        finally:
            finish(d)
    finally:
        shutil.rmtree(data)
