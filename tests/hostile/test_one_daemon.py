"""One posthornd per data dir (issue 10 item 5): a second daemon on the same
data dir, with the same config or another port offset, is refused before it
binds anything and leaves the running daemon's sockets alone; a socket left
by a crash is replaced, a file that is not a socket is not; another program
on one of our ports (even with SO_REUSEPORT) is a bind error naming errno."""
import os
import re
import signal
import smtplib
import socket
import subprocess

from conftest import POSTHORN, POSTHORND, Posthornd, free_port_offset, sanitizer_env


def run_second(d, offset, timeout=30):
    """posthornd --dev on d's data dir with this port offset; it must exit."""
    return subprocess.run(
        [POSTHORND, "--dev", "--data-dir", d.data_dir, "--port-offset", str(offset)],
        capture_output=True, text=True, timeout=timeout, env=sanitizer_env(d.log_dir))


def sendmail(d, rcpt, subject):
    return subprocess.run([POSTHORN, "-c", d.config_path, "sendmail", rcpt],
                          input=f"Subject: {subject}\n\nbody\n".encode(),
                          capture_output=True, timeout=60, env=sanitizer_env(d.log_dir))


def assert_first_still_serves(d):
    sock = os.path.join(d.data_dir, "sendmail.sock")
    assert os.path.exists(sock), "the running daemon's sendmail.sock was removed"
    r = sendmail(d, "demo@localhost", "still here")
    assert r.returncode == 0, r.stderr
    with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=10) as s:
        assert s.ehlo()[0] == 250


def assert_refused(d, r):
    assert r.returncode != 0, r.stderr
    want = f"another posthornd (pid {d.proc.pid}) is running on data dir {d.data_dir}"
    assert want in r.stderr, r.stderr
    # refused before binding: no bind error, nothing listened
    assert "bind " not in r.stderr, r.stderr


def test_second_daemon_same_config_refused(daemon):
    r = run_second(daemon, daemon.offset)
    assert_refused(daemon, r)
    assert_first_still_serves(daemon)


def test_second_daemon_other_port_offset_refused(daemon):
    r = run_second(daemon, free_port_offset())
    assert_refused(daemon, r)
    assert_first_still_serves(daemon)
    with open(os.path.join(daemon.data_dir, "posthornd.lock")) as fh:
        assert fh.read().strip() == str(daemon.proc.pid)


def test_crash_leftovers_are_replaced(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    d.stop(signal.SIGKILL)
    sock = os.path.join(d.data_dir, "sendmail.sock")
    assert os.path.exists(sock)     # the crash left it
    d2 = Posthornd(tmp_path / "data").start()
    try:
        r = sendmail(d2, "demo@localhost", "after the crash")
        assert r.returncode == 0, r.stderr
    finally:
        assert d2.stop() == 0
    d2.assert_clean()
    assert not os.path.exists(sock), "a clean stop removes the socket it made"


def test_a_file_in_the_socket_path_is_not_removed(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    assert d.stop() == 0
    sock = os.path.join(d.data_dir, "sendmail.sock")
    with open(sock, "w") as fh:
        fh.write("not a socket\n")
    r = run_second(d, free_port_offset())
    assert r.returncode != 0
    assert f"bind {sock}: the path exists and is not a socket" in r.stderr, r.stderr
    assert open(sock).read() == "not a socket\n"


def test_a_foreign_listener_on_the_socket_path_is_left_alone(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    assert d.stop() == 0
    path = os.path.join(d.data_dir, "sendmail.sock")
    other = socket.socket(socket.AF_UNIX)
    other.bind(path)
    other.listen()
    try:
        r = run_second(d, free_port_offset())
        assert r.returncode != 0
        assert re.search(rf"bind {re.escape(path)}: Address already in use "
                         r"\(EADDRINUSE\): another process listens on it", r.stderr), r.stderr
        assert os.path.exists(path)
        c = socket.socket(socket.AF_UNIX)
        c.connect(path)     # still the other program's
        c.close()
    finally:
        other.close()


def occupied_port_error(tmp_path, service, reuseport):
    d = Posthornd(tmp_path / "data")
    port = d.port(service)
    squatter = socket.socket()
    squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuseport:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    squatter.bind(("127.0.0.1", port))
    squatter.listen()
    try:
        r = run_second(d, d.offset)
    finally:
        squatter.close()
    assert r.returncode != 0, "posthornd shared a port with another program"
    return port, r.stderr


def test_http_bind_error_names_errno(tmp_path):
    port, err = occupied_port_error(tmp_path, "http", reuseport=False)
    assert f"bind 127.0.0.1 port {port}: Address already in use (EADDRINUSE)" in err, err


def test_reuseport_squatter_is_refused(tmp_path):
    """Our sockets use SO_REUSEPORT (one per I/O thread): without a check
    they would join another process's socket on the port and split its
    connections with it."""
    port, err = occupied_port_error(tmp_path, "smtp", reuseport=True)
    assert f"bind 127.0.0.1 port {port}: Address already in use (EADDRINUSE)" in err, err
