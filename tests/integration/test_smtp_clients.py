"""Real SMTP clients against posthornd: curl over smtp and over submission
with STARTTLS+AUTH, swaks with --tls and AUTH; each message must land in
the store."""
import shutil
import subprocess

import pytest

from test_smtp import inbox_blobs


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run scripts/install-deps")
    return path


def message(tag):
    return (f"From: Sender <demo@localhost>\r\n"
            f"To: Demo <demo@localhost>\r\n"
            f"Subject: client test {tag}\r\n"
            f"Message-ID: <{tag}@example.org>\r\n"
            f"\r\n"
            f"Hello from {tag}.\r\n").encode()


def stored_with(daemon, marker):
    return [b for b in inbox_blobs(daemon, "demo@localhost") if marker in b]


def test_curl_smtp(daemon, tmp_path):
    curl = need("curl")
    msg = tmp_path / "msg"
    msg.write_bytes(message("curl-smtp"))
    out = subprocess.run(
        [curl, "-sS", "--fail", f"smtp://127.0.0.1:{daemon.port('smtp')}",
         "--mail-from", "curl@example.org", "--mail-rcpt", "demo@localhost",
         "--upload-file", str(msg)],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    blobs = stored_with(daemon, b"Subject: client test curl-smtp")
    assert len(blobs) == 1
    assert blobs[0].endswith(message("curl-smtp"))


def test_curl_submission_starttls_auth(daemon, tmp_path):
    curl = need("curl")
    msg = tmp_path / "msg"
    msg.write_bytes(message("curl-submission"))
    out = subprocess.run(
        [curl, "-sS", "-v", "--fail", f"smtp://127.0.0.1:{daemon.port('submission')}",
         "--ssl-reqd", "-k", "--user", "demo@localhost:demo",
         "--mail-from", "demo@localhost", "--mail-rcpt", "demo@localhost",
         "--upload-file", str(msg)],
        capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    # curl really negotiated TLS and authenticated.
    assert "STARTTLS" in out.stderr
    assert "AUTH" in out.stderr
    blobs = stored_with(daemon, b"Subject: client test curl-submission")
    assert len(blobs) == 1
    assert blobs[0].endswith(message("curl-submission"))


def test_curl_submission_wrong_password_refused(daemon, tmp_path):
    curl = need("curl")
    msg = tmp_path / "msg"
    msg.write_bytes(message("curl-badpass"))
    out = subprocess.run(
        [curl, "-sS", "--fail", f"smtp://127.0.0.1:{daemon.port('submission')}",
         "--ssl-reqd", "-k", "--user", "demo@localhost:wrong",
         "--mail-from", "demo@localhost", "--mail-rcpt", "demo@localhost",
         "--upload-file", str(msg)],
        capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert stored_with(daemon, b"curl-badpass") == []


def test_swaks_tls_auth(daemon):
    swaks = need("swaks")
    out = subprocess.run(
        [swaks, "--server", f"127.0.0.1:{daemon.port('submission')}", "--tls",
         "--auth-user", "demo@localhost", "--auth-password", "demo",
         "--from", "demo@localhost", "--to", "demo@localhost",
         "--header", "Subject: client test swaks-tls"],
        capture_output=True, text=True, timeout=60)
    assert "TLS not available" not in out.stdout + out.stderr, \
        "swaks cannot do TLS: install libnet-ssleay-perl (scripts/install-deps)"
    assert out.returncode == 0, out.stdout + out.stderr
    assert " -> STARTTLS" in out.stdout
    assert "=== TLS started" in out.stdout
    assert "~> AUTH" in out.stdout        # AUTH sent inside TLS
    assert "<~  235" in out.stdout        # authenticated
    assert "<~  250" in out.stdout.split("~> .")[-1]   # message accepted
    assert len(stored_with(daemon, b"Subject: client test swaks-tls")) == 1
