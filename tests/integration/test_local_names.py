"""Local mail that goes somewhere (issue 10 item 7): bare names from the
local socket get @origin ([server] origin, default the host name); root,
postmaster, abuse and mailer-daemon at the origin go to [server] admin (the
demo user on a dev server), so `sendmail root` from cron and the bounces to
local senders reach a human; without an admin they are refused, and said so."""
import os
import re
import subprocess

from conftest import POSTHORN, Posthornd, sanitizer_env
from test_outbound import Sink, fast_conf, inbox, reports, wait_for
from test_smtp_local import UnixSMTP, sock_path


def sendmail(d, args, text):
    return subprocess.run([POSTHORN, "-c", d.config_path, "sendmail"] + list(args),
                          input=text, capture_output=True, timeout=60,
                          env=sanitizer_env(d.log_dir))


def configured(data, server_keys="", extra=""):
    """A dev daemon on data dir data with keys added to [server] and text
    appended (after [listener local], the dev config's last section)."""
    d = Posthornd(data)
    d.start()
    d.stop()
    with open(d.config_path) as fh:
        text = fh.read()
    text = text.replace("[server]\n", "[server]\n" + server_keys, 1) + "\n" + extra
    with open(d.config_path, "w") as fh:
        fh.write(text)
    return d.start()


def finish(d):
    status = d.stop()
    d.assert_clean()
    assert status == 0, d.log()


def header(msg, name):
    m = re.search(rb"^" + name.encode() + rb": (.*?)\r?$", msg.split(b"\r\n\r\n")[0],
                  re.M | re.I)
    return m.group(1).decode() if m else None


def test_sendmail_root_reaches_the_admin(tmp_path):
    d = configured(tmp_path / "data", "origin = Box.Example\n")
    try:
        r = sendmail(d, ["root"], b"Subject: cron output\n\nbackup done\n")
        assert r.returncode == 0, r.stderr
        [msg] = inbox(d, "demo@localhost")     # the dev server's admin
        assert header(msg, "Subject") == "cron output"
        # the caller is root: its address is root@origin (lower case)
        assert header(msg, "Return-Path") == "<root@box.example>"
        assert header(msg, "From") == "root@box.example"
        assert b"for <root@box.example>" in msg
        # -f with a bare name is qualified the same way
        r = sendmail(d, ["-f", "cron", "postmaster"], b"Subject: two\n\nx\n")
        assert r.returncode == 0, r.stderr
        msg = inbox(d, "demo@localhost")[1]
        assert header(msg, "Return-Path") == "<cron@box.example>"
        assert header(msg, "From") == "cron@box.example"
    finally:
        finish(d)


def test_bare_names_on_the_local_socket(tmp_path):
    d = configured(tmp_path / "data", "origin = box.example\n")
    try:
        with UnixSMTP(sock_path(d), timeout=10) as s:
            s.ehlo("localhost")
            assert s.mail("<root>")[0] == 250
            for name in ("root", "postmaster", "abuse", "MAILER-DAEMON",
                         "Root@BOX.example"):
                assert s.rcpt(name)[0] == 250, name
            code, text = s.rcpt("cron")
            assert code == 550 and b"<cron@box.example>: User unknown" in text
            code, text = s.data(b"Subject: bare\r\n\r\nx\r\n")
            assert code == 250, text
        [msg] = inbox(d, "demo@localhost")     # five names, one user, one copy
        assert msg.startswith(b"Return-Path: <root@box.example>\r\n")
        # Not on port 25: a path there needs a domain.
        import smtplib
        with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=10) as s:
            s.ehlo("c.example.org")
            code, text = s.mail("<root>")
            assert code == 501 and b"needs a domain" in text
            assert s.mail("<x@example.org>")[0] == 250
            # but the origin is a local domain for everyone
            assert s.rcpt("<abuse@box.example>")[0] == 250
            assert s.rcpt("<nobody@box.example>")[0] == 550
    finally:
        finish(d)


def test_default_origin_is_the_host_name(daemon):
    r = sendmail(daemon, ["root"], b"Subject: default origin\n\nx\n")
    assert r.returncode == 0, r.stderr
    [msg] = inbox(daemon, "demo@localhost")
    m = re.search(r"^hostname\s*=\s*(\S+)", open(daemon.config_path).read(), re.M)
    host = (m.group(1) if m else os.uname().nodename).lower()
    assert header(msg, "Return-Path") == f"<root@{host}>"


def test_configured_admin(tmp_path):
    d = configured(tmp_path / "data", "origin = box.example\nadmin = Bob@Localhost\n")
    try:
        d.cli("user", "add", "bob@localhost", "--password-stdin",
              input="bobpassword\n", check=True)
        r = sendmail(d, ["root", "abuse@box.example"], b"Subject: to bob\n\nx\n")
        assert r.returncode == 0, r.stderr
        assert len(inbox(d, "bob@localhost")) == 1
        assert inbox(d, "demo@localhost") == []
        # <postmaster> (no domain, RFC 5321 4.5.1) follows the admin too
        r = sendmail(d, ["-f", "", "postmaster"], b"Subject: pm\n\nx\n")
        assert r.returncode == 0, r.stderr
        assert len(inbox(d, "bob@localhost")) == 2
        # an alias of root's own wins over the admin
        d.cli("domain", "add", "box.example", check=True)
        d.cli("alias", "add", "root@box.example", "demo@localhost", check=True)
        r = sendmail(d, ["root"], b"Subject: aliased\n\nx\n")
        assert r.returncode == 0, r.stderr
        [msg] = inbox(d, "demo@localhost")
        assert header(msg, "Subject") == "aliased"
    finally:
        finish(d)


def test_no_admin_is_refused_and_said(tmp_path):
    """A server that is not dev = yes and names no admin (nor [smtp]
    postmaster): the names are refused at RCPT, with the reason."""
    d = Posthornd(tmp_path / "data")
    d.start()
    d.stop()
    text = open(d.config_path).read().replace("dev = yes", "dev = no")
    open(d.config_path, "w").write(text + "\n[smtp]\nsender_check = any\n")
    d.start()
    try:
        assert "no [server] admin: mail for root" in d.log()
        r = sendmail(d, ["root"], b"Subject: lost?\n\nx\n")
        assert r.returncode == 67, r.stderr      # EX_NOUSER, not lost
        assert b"User unknown (no [server] admin to take it)" in r.stderr
    finally:
        finish(d)


def test_bounce_to_a_local_sender(tmp_path):
    """Cron (root) mails a remote address that refuses: the report goes to
    root@origin, that is to the admin."""
    sink = Sink(rcpt=lambda addr: "550 5.1.1 no such user").start()
    try:
        d = configured(tmp_path / "data", "origin = box.example\n", fast_conf(
            f"[routes]\nremote.test = 127.0.0.1:{sink.port}\n"))
        try:
            r = sendmail(d, ["someone@remote.test"], b"Subject: nightly\n\nx\n")
            assert r.returncode == 0, r.stderr
            dsns = wait_for(lambda: reports(d))
            assert len(dsns) == 1, d.log()
            assert "someone@remote.test" in dsns[0].as_string()
            [msg] = inbox(d, "demo@localhost")
            assert header(msg, "Return-Path") == "<>"
        finally:
            finish(d)
    finally:
        sink.stop()
