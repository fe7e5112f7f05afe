"""Real POP3 clients against posthornd: curl (retrieve, list, DELE) and
fetchmail (Debian's) downloading a mailbox with --keep and without; the
mailbox must be left as each implies."""
import os
import shutil
import stat
import subprocess
import sys

import pytest

from test_pop3 import USER, PASSWORD, inbox, message, send


def need(tool):
    path = shutil.which(tool)
    if path is None:
        pytest.fail(f"{tool} is not installed: run scripts/install-deps")
    return path


def curl(daemon, path, *args):
    out = subprocess.run(
        [need("curl"), "-sS", "--fail", f"pop3://127.0.0.1:{daemon.port('pop3')}{path}",
         "-u", f"{USER}:{PASSWORD}"] + list(args),
        capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_curl_retrieve_list_dele(daemon):
    """The issue's "done when": curl pop3 prints a message sent over SMTP."""
    send(daemon, message(71, b"curl was here\r\n"))
    stored = inbox(daemon)
    n = len(stored)
    assert curl(daemon, f"/{n}") == stored[-1][1]
    listing = curl(daemon, "/").decode().split("\r\n")
    assert listing[:-1] == [f"{i + 1} {len(b)}" for i, (_, b) in enumerate(stored)]
    curl(daemon, f"/{n}", "-X", "DELE", "-I")
    assert inbox(daemon) == stored[:-1]


MDA = """import os, sys, tempfile
fd, _ = tempfile.mkstemp(dir=sys.argv[1], prefix="msg.")
os.write(fd, sys.stdin.buffer.read())
os.close(fd)
"""


def fetchmail(daemon, tmp_path, keep):
    out_dir = tmp_path / ("kept" if keep else "fetched")
    out_dir.mkdir()
    mda = tmp_path / "mda.py"
    mda.write_text(MDA)
    rc = tmp_path / "fetchmailrc"
    rc.write_text(
        f"set no syslog\n"
        f"poll 127.0.0.1 with proto POP3 port {daemon.port('pop3')}\n"
        f"  auth password uidl\n"
        f"  user \"{USER}\" there with password \"{PASSWORD}\" is \"me\" here\n"
        f"  {'keep' if keep else 'nokeep'} fetchall\n"
        f"  mda \"{sys.executable} {mda} {out_dir}\"\n")
    os.chmod(rc, stat.S_IRUSR | stat.S_IWUSR)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    out = subprocess.run(
        [need("fetchmail"), "-f", str(rc), "--nosslcertck", "--nosyslog",
         "--nodetach", "--idfile", str(tmp_path / "fetchids"),
         "--pidfile", str(tmp_path / "fetchmail.pid")],
        capture_output=True, text=True, timeout=120, env=env)
    # 0: mail retrieved
    assert out.returncode == 0, out.stdout + out.stderr
    return sorted(p.read_bytes() for p in out_dir.iterdir())


def test_fetchmail_keep_then_fetch(daemon, tmp_path):
    sent = [message(81), message(82, b"..two dots\r\n.\r\n"), message(83)]
    send(daemon, *sent)
    stored = inbox(daemon)
    assert len(stored) >= 3

    def delivered(got):
        # the MDA gets LF line ends and a Received: line of fetchmail's
        assert len(got) == len(stored)
        for m in sent:
            assert sum(g.endswith(m.replace(b"\r\n", b"\n")) for g in got) == 1

    delivered(fetchmail(daemon, tmp_path, keep=True))
    assert inbox(daemon) == stored                  # --keep: unchanged
    delivered(fetchmail(daemon, tmp_path, keep=False))
    assert inbox(daemon) == []                      # fetched and deleted


def test_snail_pop3s_without_apop_secret(daemon, tmp_path):
    """s-nail (mailx) prefers APOP whenever the greeting carries a
    timestamp and does not fall back: with the default config a user
    without an APOP secret reads mail over POP3S out of the box."""
    send(daemon, message(72, b"read by s-nail\r\n"))
    out = subprocess.run(
        [need("s-nail"), "-n", "-N", "-#", "-S", "v15-compat",
         "-S", "tls-verify=ignore", "-S", f"password={PASSWORD}",
         "-S", "MBOX=/dev/null", "-Y", "p $", "-Y", "x",
         "-f", f"pop3s://{USER.replace('@', '%40')}@127.0.0.1:{daemon.port('pop3s')}"],
        capture_output=True, text=True, timeout=60,
        env=dict(os.environ, HOME=str(tmp_path)))
    assert "read by s-nail" in out.stdout, out.stdout + out.stderr
