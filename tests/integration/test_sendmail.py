"""`posthorn sendmail` (and the `sendmail` name) against a running posthornd
--dev: submission over the local socket, the default sender, -f, -F, -t with
Bcc removed, -i, recipients refused, and the daemon down."""
import os
import pwd
import re
import subprocess

import pytest

from conftest import POSTHORN, Posthornd, sanitizer_env


def sendmail(daemon, args, message, argv0=None, env=None):
    environment = sanitizer_env(daemon.log_dir)
    if env:
        environment.update(env)
    if argv0 is None:
        cmd = [POSTHORN, "-c", daemon.config_path, "sendmail"] + list(args)
    else:
        cmd = [argv0] + list(args)
    return subprocess.run(cmd, input=message, capture_output=True, timeout=60,
                          env=environment)


def inbox(daemon, address):
    return [data for _, data in daemon.inbox(address)]


def header(msg, name):
    m = re.search(rb"^" + name.encode() + rb": (.*?)\r?$", msg.split(b"\r\n\r\n")[0],
                  re.M | re.I)
    return m.group(1).decode() if m else None


def hostname(daemon):
    """The server hostname: [server] hostname, else the machine name."""
    m = re.search(r"^\[server\][^\[]*^hostname\s*=\s*(\S+)",
                  open(daemon.config_path).read(), re.M | re.S)
    return m.group(1) if m else os.uname().nodename


def test_default_sender_and_added_fields(daemon):
    login = pwd.getpwuid(os.getuid()).pw_name
    me = f"{login}@{hostname(daemon)}"
    r = sendmail(daemon, ["demo@localhost"],
                 b"Subject: from a cron job\n\nline one\nline two\n")
    assert r.returncode == 0, r.stderr
    [msg] = inbox(daemon, "demo@localhost")
    assert header(msg, "Return-Path") == f"<{me}>"
    assert header(msg, "From") == me
    assert header(msg, "Subject") == "from a cron job"
    assert header(msg, "Date")
    assert re.match(r"<\d+\.[0-9a-f]+@", header(msg, "Message-ID"))
    assert msg.endswith(b"\r\n\r\nline one\r\nline two\r\n")
    assert b"\n" not in msg.replace(b"\r\n", b"")


def test_sender_and_fullname(daemon):
    r = sendmail(daemon, ["-f", "alice@example.org", "-F", "Alice Q. Liddell",
                          "--", "demo@localhost"],
                 b"Subject: with -f\n\nhi\n")
    assert r.returncode == 0, r.stderr
    [msg] = inbox(daemon, "demo@localhost")
    assert header(msg, "Return-Path") == "<alice@example.org>"
    assert header(msg, "From") == '"Alice Q. Liddell" <alice@example.org>'

    # A From: in the message is kept as written; -fADDR glued works too.
    r = sendmail(daemon, ["-fbob@example.org", "demo@localhost"],
                 b"From: Robert <bob@example.org>\nSubject: two\n\nhi\n")
    assert r.returncode == 0, r.stderr
    msg = inbox(daemon, "demo@localhost")[1]
    assert header(msg, "Return-Path") == "<bob@example.org>"
    assert header(msg, "From") == "Robert <bob@example.org>"


def test_extract_recipients_removes_bcc(daemon):
    daemon.cli("user", "add", "bob@localhost", "--password-stdin",
               input="bobpassword\n", check=True)
    r = sendmail(daemon, ["-t", "-oi", "-oem"],
                 b"To: Demo <demo@localhost>\n"
                 b"Bcc: bob@localhost\n"
                 b"Subject: with -t\n"
                 b"\n"
                 b"body\n")
    assert r.returncode == 0, r.stderr
    assert b"ignoring option -oem" in r.stderr
    [to_demo] = inbox(daemon, "demo@localhost")
    [to_bob] = inbox(daemon, "bob@localhost")
    for msg in (to_demo, to_bob):
        assert header(msg, "Subject") == "with -t"
        assert header(msg, "Bcc") is None
        assert b"bob@localhost" not in msg.split(b"\r\n\r\n")[0].replace(
            b"for <bob@localhost>", b"")


def test_lone_dot(daemon):
    text = b"Subject: dots\n\nbefore\n.\nafter\n"
    r = sendmail(daemon, ["demo@localhost"], text)
    assert r.returncode == 0, r.stderr
    r = sendmail(daemon, ["-i", "demo@localhost"], text)
    assert r.returncode == 0, r.stderr
    plain, with_i = inbox(daemon, "demo@localhost")
    assert plain.endswith(b"\r\n\r\nbefore\r\n")
    assert with_i.endswith(b"\r\n\r\nbefore\r\n.\r\nafter\r\n")
    # A line starting with a dot survives the SMTP dot-stuffing.
    r = sendmail(daemon, ["demo@localhost"], b"Subject: d\n\n.hidden?\n..two\n")
    assert r.returncode == 0, r.stderr
    assert inbox(daemon, "demo@localhost")[2].endswith(b"\r\n.hidden?\r\n..two\r\n")


def test_refused_recipient_and_usage(daemon):
    r = sendmail(daemon, ["nobody@localhost"], b"Subject: x\n\nx\n")
    assert r.returncode == 67, r.stderr     # EX_NOUSER
    assert b"nobody@localhost" in r.stderr
    assert inbox(daemon, "demo@localhost") == []
    r = sendmail(daemon, [], b"Subject: x\n\nx\n")
    assert r.returncode == 64, r.stderr     # EX_USAGE: no recipients
    r = sendmail(daemon, ["-bs"], b"")
    assert r.returncode == 64
    # Larger than [smtp] max_message_size (25M in dev): refused before
    # any upload, EX_DATAERR.
    big = b"Subject: big\n\n" + (b"x" * 999 + b"\n") * 30000
    r = sendmail(daemon, ["demo@localhost"], big)
    assert r.returncode == 65, r.stderr
    assert b"larger than" in r.stderr
    assert inbox(daemon, "demo@localhost") == []


def test_invoked_as_sendmail(daemon, tmp_path):
    link = tmp_path / "sendmail"
    os.symlink(POSTHORN, link)
    r = sendmail(daemon, ["demo@localhost"], b"Subject: via the link\n\nx\n",
                 argv0=str(link), env={"POSTHORN_CONFIG": daemon.config_path})
    assert r.returncode == 0, r.stderr
    [msg] = inbox(daemon, "demo@localhost")
    assert header(msg, "Subject") == "via the link"


def test_daemon_down(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    assert d.stop() == 0
    r = sendmail(d, ["demo@localhost"], b"Subject: x\n\nx\n")
    assert r.returncode == 75, r.stderr     # EX_TEMPFAIL
    assert b"cannot reach posthornd" in r.stderr
    d.assert_clean()
