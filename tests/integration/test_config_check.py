"""posthorn config check catches what posthornd refuses at start (issue 10
item 8): certificate and key files missing, unreadable or not a pair, an
unknown [server] user or group, a listener address that is not on this
machine or a port someone else holds, a socket path that is a file; and a
port held by the posthornd of the same data dir is not a problem."""
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

from conftest import POSTHORN, POSTHORND, free_port_offset, run_cli, sanitizer_env

NOBODY = pwd.getpwnam("nobody")


def make_cert(directory, name, cn="check.test"):
    cert = os.path.join(directory, name + ".crt")
    key = os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                    f"/CN={cn}", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key


def write_conf(directory, body, data=None):
    data = data or os.path.join(directory, "data")
    os.makedirs(data, exist_ok=True)
    path = os.path.join(directory, "posthorn.conf")
    with open(path, "w") as fh:
        fh.write(f"[server]\ndata_dir = {data}\nuser =\n"
                 + body)
    return path


def check(conf, **kw):
    return run_cli(["-c", conf, "config", "check"], **kw)


def problems(r):
    return [line.split("problem: ", 1)[1] for line in r.stderr.splitlines()
            if "problem: " in line]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_good_config_is_ok(tmp_path):
    cert, key = make_cert(str(tmp_path), "good")
    conf = write_conf(str(tmp_path), f"[tls]\ncert = {cert}\nkey = {key}\n"
                      f"[listener imaps]\nprotocol = imaps\naddress = 127.0.0.1\n"
                      f"port = {free_port()}\n")
    r = check(conf)
    assert r.returncode == 0, r.stderr
    assert r.stdout.rstrip().endswith(f"{conf}: ok")
    assert problems(r) == []


def test_tls_files(tmp_path):
    d = str(tmp_path)
    cert, key = make_cert(d, "one")
    other_cert, other_key = make_cert(d, "two")
    cases = [
        (os.path.join(d, "missing.crt"), key, "[tls] cert " + os.path.join(d, "missing.crt")
         + ": No such file or directory"),
        (cert, os.path.join(d, "missing.key"), "[tls] key " + os.path.join(d, "missing.key")
         + ": No such file or directory"),
        (cert, other_key, "mismatch"),
        (d, key, f"[tls] cert {d}: not a regular file"),
    ]
    garbage = os.path.join(d, "garbage.crt")
    with open(garbage, "w") as fh:
        fh.write("-----BEGIN CERTIFICATE-----\nnonsense\n")
    cases.append((garbage, key, f"TLS certificate {garbage}"))
    for c, k, want in cases:
        conf = write_conf(d, f"[tls]\ncert = {c}\nkey = {k}\n")
        r = check(conf)
        assert r.returncode == 3, (c, k, r.stdout, r.stderr)
        assert any(want in p for p in problems(r)), (want, r.stderr)
        assert "posthornd would not start" in r.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_unreadable_files_as_another_user():
    """Run by an unprivileged user: a root-only key is a note (posthornd
    reads it as root), a relay password file it cannot read is a problem
    (posthornd reads that after dropping root)."""
    d = tempfile.mkdtemp(prefix="posthorn-check-")
    try:
        os.chmod(d, 0o755)
        cert, key = make_cert(d, "root")
        os.chmod(cert, 0o644)
        os.chmod(key, 0o600)
        secret = os.path.join(d, "relay.pw")
        with open(secret, "w") as fh:
            fh.write("pw\n")
        os.chmod(secret, 0o600)
        conf = write_conf(d, f"[tls]\ncert = {cert}\nkey = {key}\n"
                          f"[relay]\nhost = 127.0.0.1\nuser = u\npassword_file = {secret}\n")
        os.chmod(conf, 0o644)
        r = subprocess.run([POSTHORN, "-c", conf, "config", "check"], capture_output=True,
                           text=True, timeout=60, user=NOBODY.pw_uid, group=NOBODY.pw_gid,
                           extra_groups=[], env={"PATH": os.environ["PATH"]})
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert f"note: [tls] key {key}: not readable by uid {NOBODY.pw_uid}" in r.stdout
        assert problems(r) == [f"[relay] password_file {secret}: Permission denied"]
    finally:
        shutil.rmtree(d)


def test_unknown_users_and_groups(tmp_path):
    d = str(tmp_path)
    conf = write_conf(d, "")
    text = open(conf).read().replace("user =\n", "user = no-such-user-zz\n"
                                     "group = no-such-group-zz\n")
    text += ("[listener lmtp]\nprotocol = lmtp\npath = lmtp.sock\n"
             "owner = no-such-owner-zz\ngroup = no-such-sgroup-zz\n")
    open(conf, "w").write(text)
    r = check(conf)
    assert r.returncode == 3
    assert problems(r) == [
        "[server] user: no user 'no-such-user-zz' on this machine",
        "[server] group: no group 'no-such-group-zz' on this machine",
        "listener lmtp group: no group 'no-such-sgroup-zz' on this machine",
        "listener lmtp owner: no user 'no-such-owner-zz' on this machine",
    ], r.stderr


def test_addresses_and_ports(tmp_path):
    d = str(tmp_path)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    busy = squatter.getsockname()[1]
    free = free_port()
    sock_file = os.path.join(d, "data", "file.sock")
    os.makedirs(os.path.dirname(sock_file), exist_ok=True)
    open(sock_file, "w").close()
    try:
        conf = write_conf(d, f"[listener far]\nprotocol = smtp\ntls = none\n"
                          f"address = 192.0.2.1\nport = {free}\n"
                          f"[listener busy]\nprotocol = smtp\ntls = none\n"
                          f"address = 127.0.0.1\nport = {busy}\n"
                          f"[listener fine]\nprotocol = smtp\ntls = none\n"
                          f"address = 127.0.0.1 ::1\nport = {free}\n"
                          f"[listener file]\nprotocol = lmtp\npath = {sock_file}\n"
                          f"[listener nodir]\nprotocol = lmtp\npath = /nonexistent/x.sock\n")
        r = check(conf)
    finally:
        squatter.close()
    assert r.returncode == 3
    assert problems(r) == [
        "listener far: bind 192.0.2.1 port 0: Cannot assign requested address "
        "(EADDRNOTAVAIL): the address is not on this machine",
        f"listener busy: bind 127.0.0.1 port {busy}: Address already in use (EADDRINUSE)",
        f"listener file: {sock_file} exists and is not a socket",
        "listener nodir: the directory /nonexistent of /nonexistent/x.sock does not exist",
    ], r.stderr


def test_ports_of_the_running_daemon_are_fine(tmp_path):
    """The posthornd of this data dir holds its own ports: a note, exit 0;
    the same port held by another program while it runs is... also in use,
    which the check cannot tell apart: it says so."""
    d = str(tmp_path)
    port = 2080 + free_port_offset()
    conf = write_conf(d, "[store]\nfsync = no\n"
                      f"[listener http]\nprotocol = http\naddress = 127.0.0.1\nport = {port}\n"
                      "[listener local]\nprotocol = local\npath = sendmail.sock\n")
    r = check(conf)
    assert r.returncode == 0, r.stderr
    log = open(os.path.join(d, "log"), "wb")
    proc = subprocess.Popen([POSTHORND, "-c", conf], stdout=log, stderr=log,
                            env=sanitizer_env(d))
    try:
        deadline = time.monotonic() + 30
        while " ready" not in open(os.path.join(d, "log")).read():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        r = check(conf)
        assert r.returncode == 0, (r.stdout, r.stderr)
        assert f"(posthornd runs there)" in r.stdout
        assert (f"note: listener http: 127.0.0.1 port {port} is in use, by the "
                f"posthornd (pid {proc.pid}) running on this data dir") in r.stdout
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
    # stopped: a foreign listener on the port is a problem again
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        r = check(conf)
    finally:
        squatter.close()
    assert r.returncode == 3
    assert problems(r) == [f"listener http: bind 127.0.0.1 port {port}: "
                           "Address already in use (EADDRINUSE)"]
