"""SIGHUP that tells the truth (issue 10 item 8): [routes], [dns], [relay],
[delivery] and [queue] reach the running queue runner; every other changed
key is named as waiting for a restart; a TLS key that only root may read is
re-read after the privilege drop by the key helper."""
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import time

import pytest

from conftest import POSTHORND, free_port_offset, sanitizer_env
from test_outbound import (Sink, dns, fast_conf, message, queue_count,  # noqa: F401
                           sender_daemon, submit, wait_for)


def hup(d, since):
    """SIGHUP, then the log after offset since once it says reloaded."""
    d.send_signal(signal.SIGHUP)
    assert wait_for(lambda: "config reloaded from" in d.log()[since:], timeout=10), d.log()
    time.sleep(0.2)     # the runner swaps on its own thread
    return d.log()[since:]


def rewrite(d, old, new):
    with open(d.config_path) as fh:
        text = fh.read()
    assert old in text
    with open(d.config_path, "w") as fh:
        fh.write(text.replace(old, new))


def test_sighup_applies_routes(tmp_path):
    first, second = Sink().start(), Sink().start()
    d = sender_daemon(tmp_path, fast_conf(
        f"[routes]\nremote.test = 127.0.0.1:{first.port}\n"))
    try:
        submit(d, ["a@remote.test"], message("before"))
        assert wait_for(lambda: len(first.messages) == 1)
        # no route yet: deferred (dev mode sends nowhere unknown)
        submit(d, ["b@other.test"], message("waiting", to="b@other.test"))
        assert wait_for(lambda: "no route for other.test" in d.log())

        since = len(d.log())
        rewrite(d, f"remote.test = 127.0.0.1:{first.port}\n",
                f"remote.test = 127.0.0.1:{second.port}\n"
                f"other.test = 127.0.0.1:{second.port}\n")
        log = hup(d, since)
        submit(d, ["c@remote.test"], message("after"))
        assert wait_for(lambda: len(second.messages) == 2, timeout=30), d.log()
        assert {tuple(m[1]) for m in second.messages} == {("c@remote.test",),
                                                           ("b@other.test",)}
        assert len(first.messages) == 1
        assert wait_for(lambda: queue_count(d) == 0)
        assert "applied: [routes] remote.test, [routes] other.test" in log, log
        assert "not in use until a restart" not in log, log

        # an unchanged file: nothing to apply, nothing waiting
        log = hup(d, len(d.log()))
        assert "applied: no changes" in log, log
    finally:
        d.stop()
        d.assert_clean()
        first.stop()
        second.stop()


def test_sighup_applies_dns(tmp_path, dns):  # noqa: F811
    """[dns] upstream and [delivery] smtp_port: from no MX lookups (dev
    mode without an upstream) to MX lookups at the test resolver."""
    sink = Sink().start()
    d = sender_daemon(tmp_path, fast_conf())
    try:
        submit(d, ["a@mxdomain.test"], message("mx later", to="a@mxdomain.test"))
        assert wait_for(lambda: "no route for mxdomain.test" in d.log())
        since = len(d.log())
        rewrite(d, "[delivery]\n", f"[delivery]\nsmtp_port = {sink.port}\n")
        with open(d.config_path, "a") as fh:
            fh.write(f"\n[dns]\nupstream = 127.0.0.1@{dns}\n")
        log = hup(d, since)
        assert wait_for(lambda: len(sink.messages) == 1, timeout=30), d.log()
        assert sink.messages[0][1] == ["a@mxdomain.test"]
        assert "applied: [dns] upstream, [delivery] smtp_port" in log, log
        assert f"outbound: new settings in use (0 routes, relay none, dns 127.0.0.1@{dns})" in log
    finally:
        d.stop()
        d.assert_clean()
        sink.stop()


def test_sighup_names_the_keys_that_need_a_restart(daemon):
    since = len(daemon.log())
    with open(daemon.config_path) as fh:
        text = fh.read()
    text = text.replace("level = info", "level = debug")
    text += ("\n[smtp]\nmax_message_size = 1M\n"
             "\n[listener extra]\nprotocol = imap\naddress = 127.0.0.1\nport = 1\n")
    with open(daemon.config_path, "w") as fh:
        fh.write(text)
    log = hup(daemon, since)
    assert "applied: [log] level" in log, log
    assert re.search(r"changed since the start and not in use until a restart: "
                     r"\[smtp\] max_message_size, \[listener extra\]$", log, re.M), log
    # indeed not applied: EHLO still offers the old size
    import smtplib
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        s.ehlo("c.example.org")
        assert s.esmtp_features["size"] == str(25 << 20)
    # a second SIGHUP: the level is in use already, the rest still waits
    log = hup(daemon, len(daemon.log()))
    assert "applied: no changes" in log, log
    assert "[smtp] max_message_size, [listener extra]" in log, log


def make_cert(directory, cn):
    cert, key = os.path.join(directory, "cert.pem"), os.path.join(directory, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                    f"/CN={cn}", "-keyout", key + ".new", "-out", cert + ".new"],
                   check=True, capture_output=True)
    os.chmod(key + ".new", 0o600)
    # as a renewal hook does it: the new files replace the old ones
    os.rename(cert + ".new", cert)
    os.rename(key + ".new", key)
    return cert, key


def served_cn(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw) as s:
            der = s.getpeercert(binary_form=True)
    out = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
                         input=der, capture_output=True, check=True).stdout.decode()
    return re.search(r"CN\s*=\s*(\S+)", out).group(1)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_only_key_is_reread_after_the_privilege_drop(tmp_path):
    data = tempfile.mkdtemp(prefix="posthorn-keys-")
    tls_dir = tempfile.mkdtemp(prefix="posthorn-tls-")     # 0700 root
    os.chmod(data, 0o755)
    cert, key = make_cert(tls_dir, "one.test")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600 and os.stat(key).st_uid == 0
    offset = free_port_offset()
    imaps = 2993 + offset
    conf = os.path.join(data, "posthorn.conf")
    with open(conf, "w") as fh:
        # a short shutdown_timeout: an IMAPS client that leaves right
        # after the handshake (served_cn) keeps its session until then
        fh.write(f"[server]\ndata_dir = {data}\nuser = nobody\n"
                 "shutdown_timeout = 2s\n\n"
                 f"[tls]\ncert = {cert}\nkey = {key}\n\n[store]\nfsync = no\n\n"
                 f"[listener imaps]\nprotocol = imaps\naddress = 127.0.0.1\nport = {imaps}\n")
    log_path = os.path.join(data, "log")
    log = open(log_path, "wb")
    proc = subprocess.Popen([POSTHORND, "-c", conf], stdout=log, stderr=log,
                            env=sanitizer_env(data))
    nobody = pwd.getpwnam("nobody").pw_uid
    hpid = None
    text = lambda: open(log_path).read()  # noqa: E731
    try:
        assert wait_for(lambda: " ready" in text() or proc.poll() is not None), text()
        assert proc.poll() is None, text()
        with open(f"/proc/{proc.pid}/status") as fh:
            assert f"Uid:\t{nobody}\t" in fh.read()
        assert served_cn(imaps) == "one.test"

        make_cert(tls_dir, "two.test")
        since = len(text())
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "config reloaded" in text()[since:], timeout=10)
        assert served_cn(imaps) == "two.test", text()[since:]
        assert f"TLS certificate {cert} and key {key} re-read by the key helper" in \
            text()[since:], text()[since:]

        helper = re.search(r"key helper \(pid (\d+)\)", text())
        assert helper, text()
        hpid = int(helper.group(1))
        with open(f"/proc/{hpid}/status") as fh:
            status = fh.read()
        assert "Name:\tposthornd-keys" in status and "Uid:\t0\t" in status
        assert f"PPid:\t{proc.pid}" in status
        # the helper holds none of the daemon's sockets or files
        assert sorted(os.listdir(f"/proc/{hpid}/fd")) == ["0", "1", "2", "3"]

        # a broken key: refused, the current certificate stays
        with open(key, "w") as fh:
            fh.write("garbage\n")
        since = len(text())
        proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "reloading the certificate failed" in text()[since:],
                        timeout=10), text()[since:]
        assert served_cn(imaps) == "two.test"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, text()
        log.close()
    assert hpid is None or not os.path.exists(f"/proc/{hpid}"), \
        "the key helper outlived the daemon"
    assert "ERROR: AddressSanitizer" not in text() and "runtime error" not in text()
    shutil.rmtree(data)
    shutil.rmtree(tls_dir)
