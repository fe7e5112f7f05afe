"""posthornd as a process: dev mode start-up, the HTTP endpoint, config
errors, SIGHUP reload and SIGTERM shutdown."""
import os
import signal
import subprocess
import time
import urllib.request

from conftest import POSTHORND, Posthornd, sanitizer_env


def http_get(daemon, path):
    url = f"http://127.0.0.1:{daemon.port('http')}{path}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode()


def test_dev_mode_writes_config_cert_and_serves_metrics(daemon):
    assert os.path.exists(daemon.config_path)
    assert os.path.exists(os.path.join(daemon.data_dir, "tls", "cert.pem"))
    key = os.path.join(daemon.data_dir, "tls", "key.pem")
    assert os.stat(key).st_mode & 0o077 == 0, "the private key must not be readable by others"
    status, body = http_get(daemon, "/health")
    assert (status, body) == (200, "ok\n")
    status, body = http_get(daemon, "/metrics")
    assert status == 200
    assert "posthorn_store_commits_total" in body
    assert "posthorn_uptime_seconds" in body
    try:
        http_get(daemon, "/nope")
        raise AssertionError("expected 404")
    except urllib.error.HTTPError as e:
        assert e.code == 404


def test_dev_banner_names_ports_and_login(daemon):
    log = daemon.log()
    assert f"127.0.0.1:{daemon.port('smtp')}" in log
    assert f"127.0.0.1:{daemon.port('imap')}" in log
    assert "demo@localhost" in log


def test_cert_is_generated_once(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    cert = os.path.join(d.data_dir, "tls", "cert.pem")
    first = open(cert).read()
    assert d.stop() == 0
    d.assert_clean()
    d2 = Posthornd(tmp_path / "data").start()
    assert open(cert).read() == first
    assert d2.stop() == 0
    d2.assert_clean()


def test_sighup_reloads_and_keeps_serving(daemon):
    with open(daemon.config_path) as fh:
        text = fh.read()
    with open(daemon.config_path, "w") as fh:
        fh.write(text.replace("level = info", "level = debug"))
    daemon.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "config reloaded" not in daemon.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "config reloaded" in daemon.log()
    # A broken config on reload is refused and the old one kept.
    with open(daemon.config_path, "w") as fh:
        fh.write(text + "\n[server]\nbogus_key = 1\n")
    daemon.send_signal(signal.SIGHUP)
    deadline = time.monotonic() + 10
    while "reload failed" not in daemon.log() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "reload failed" in daemon.log()
    assert http_get(daemon, "/health")[0] == 200


def test_sigterm_exits_zero(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    assert d.stop(signal.SIGTERM) == 0
    assert "stopped" in d.log()
    d.assert_clean()


def run_daemon(args, tmp_path):
    return subprocess.run([POSTHORND] + args, capture_output=True, text=True, timeout=30,
                          env=sanitizer_env(str(tmp_path)))


def test_config_error_names_file_line_and_key(tmp_path):
    conf = tmp_path / "broken.conf"
    conf.write_text("[server]\ndata_dir = /tmp\n\n[listener imap]\nprotocol = imap\nport = abc\n")
    r = run_daemon(["-c", str(conf)], tmp_path)
    assert r.returncode != 0
    assert "broken.conf:6" in r.stderr
    assert "port" in r.stderr


def test_missing_config_and_bad_arguments(tmp_path):
    r = run_daemon(["-c", str(tmp_path / "none.conf")], tmp_path)
    assert r.returncode != 0 and "none.conf" in r.stderr
    assert run_daemon(["--dev"], tmp_path).returncode != 0
    assert run_daemon(["--port-offset", "x", "--dev", "--data-dir", str(tmp_path)],
                      tmp_path).returncode != 0


def test_drops_root_to_the_configured_user(tmp_path):
    """Started as root, posthornd binds its ports, then runs as [server] user
    and owns its data dir."""
    import pwd
    import tempfile
    if os.geteuid() != 0:
        import pytest
        pytest.skip("needs root")
    from conftest import free_port_offset
    nobody = pwd.getpwnam("nobody")
    data = tempfile.mkdtemp(prefix="posthorn-privs-")
    port = 2080 + free_port_offset()
    conf = tmp_path / "posthorn.conf"
    conf.write_text(f"[server]\ndata_dir = {data}\nuser = nobody\n\n"
                    f"[store]\nfsync = no\n\n"
                    f"[listener http]\nprotocol = http\naddress = 127.0.0.1\nport = {port}\n")
    log = open(tmp_path / "log", "wb")
    proc = subprocess.Popen([POSTHORND, "-c", str(conf)], stdout=log, stderr=log,
                            env=sanitizer_env(str(tmp_path)))
    try:
        deadline = time.monotonic() + 20
        while " ready" not in (tmp_path / "log").read_text() and time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "log").read_text()
            time.sleep(0.05)
        with open(f"/proc/{proc.pid}/status") as fh:
            uids = [line.split()[1:] for line in fh if line.startswith("Uid:")][0]
        assert set(uids) == {str(nobody.pw_uid)}
        assert os.stat(data).st_uid == nobody.pw_uid
        assert os.stat(os.path.join(data, "posthorn.db")).st_uid == nobody.pw_uid
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, (tmp_path / "log").read_text()
        subprocess.run(["rm", "-rf", data])
