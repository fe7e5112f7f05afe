"""The learn hook ([imap] learn_spam_command, learn_ham_command): moving
(MOVE, or COPY) a message into the \\Junk mailbox over IMAP runs the spam
command with the message on stdin and the user in POSTHORN_USER; moving it
out of Junk into another mailbox runs the ham command, into the Trash
nothing. The command runs off the I/O threads: one that hangs is killed
after learn_timeout and one that fails is logged, and neither delays nor
fails the IMAP command."""
import imaplib
import os
import smtplib
import time

from conftest import Posthornd

USER, PASSWORD = "demo@localhost", "demo"
imaplib.Commands.setdefault("MOVE", ("SELECTED",))

RECORDER = """#!/bin/sh
# records one learn call: its kind, user, arguments and stdin
dir="$1"; shift
n=$(date +%s%N)
cat > "$dir/$n.msg"
printf '%s\\n%s\\n%s\\n' "$POSTHORN_LEARN" "$POSTHORN_USER" "$*" > "$dir/$n.env"
"""


def daemon_with(tmp_path, imap_keys):
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write("\n[imap]\n" + "".join(f"{k} = {v}\n" for k, v in imap_keys.items()))
    return d.start()


def finish(d):
    status = d.stop()
    d.assert_clean()
    assert status == 0, d.log()


def recorder(tmp_path):
    script = tmp_path / "learn.sh"
    script.write_text(RECORDER)
    script.chmod(0o755)
    out = tmp_path / "calls"
    out.mkdir()
    return script, out


def calls(out):
    """[(kind, user, args, message bytes)] in call order."""
    result = []
    for name in sorted(os.listdir(out)):
        if name.endswith(".env"):
            stem = name[:-4]
            with open(out / name) as fh:
                kind, user, args = fh.read().split("\n")[:3]
            with open(out / f"{stem}.msg", "rb") as fh:
                result.append((kind, user, args, fh.read()))
    return result


def wait_calls(out, n, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = calls(out)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    return calls(out)


def deliver(d, subject):
    with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=10) as s:
        s.sendmail("alice@example.org", [USER],
                   f"From: alice@example.org\r\nSubject: {subject}\r\n\r\n"
                   f"body of {subject}\r\n")


def imap(d):
    c = imaplib.IMAP4("127.0.0.1", d.port("imap"))
    c.login(USER, PASSWORD)
    return c


def uid_of(c, subject):
    typ, data = c.uid("SEARCH", None, "SUBJECT", f'"{subject}"')
    assert typ == "OK" and data[0], (subject, data)
    return data[0].split()[-1].decode()


def test_move_into_and_out_of_junk(tmp_path):
    script, out = recorder(tmp_path)
    d = daemon_with(tmp_path, {"learn_spam_command": f"{script} {out} spam-arg",
                               "learn_ham_command": f"{script} {out} ham-arg"})
    try:
        deliver(d, "learn-one")
        deliver(d, "learn-two")
        c = imap(d)
        c.select("INBOX")
        typ, _ = c.uid("MOVE", uid_of(c, "learn-one"), "Junk")
        assert typ == "OK"
        got = wait_calls(out, 1)
        assert len(got) == 1
        kind, user, args, msg = got[0]
        assert (kind, user, args) == ("spam", USER, "spam-arg")
        assert b"Subject: learn-one" in msg and msg.endswith(b"body of learn-one\r\n")
        # COPY into Junk counts too (a client without MOVE).
        typ, _ = c.uid("COPY", uid_of(c, "learn-two"), "Junk")
        assert typ == "OK"
        assert len(wait_calls(out, 2)) == 2
        # Out of Junk into a folder: ham; into the Trash: nothing.
        c.select("Junk")
        typ, _ = c.uid("MOVE", uid_of(c, "learn-one"), "Archive")
        assert typ == "OK"
        got = wait_calls(out, 3)
        assert [g[0] for g in got] == ["spam", "spam", "ham"]
        assert b"Subject: learn-one" in got[2][3]
        typ, _ = c.uid("MOVE", uid_of(c, "learn-two"), "Trash")
        assert typ == "OK"
        # Junk to Junk (within it) and INBOX to Archive: nothing either.
        c.select("INBOX")
        typ, _ = c.uid("COPY", uid_of(c, "learn-two"), "Archive")
        assert typ == "OK"
        time.sleep(1)
        assert len(calls(out)) == 3
        c.logout()
        assert "imap learn ham user=demo@localhost" in d.log()
    finally:
        finish(d)


def test_hanging_and_failing_commands_do_not_hold_imap(tmp_path):
    d = daemon_with(tmp_path, {"learn_spam_command": "sleep 60",
                               "learn_ham_command": "exit 3",
                               "learn_timeout": "1s",
                               "learn_max_jobs": "1"})
    try:
        for i in range(3):
            deliver(d, f"hang-{i}")
        c = imap(d)
        c.select("INBOX")
        start = time.monotonic()
        for i in range(3):
            typ, _ = c.uid("MOVE", uid_of(c, f"hang-{i}"), "Junk")
            assert typ == "OK"
        typ, _ = c.noop()
        assert typ == "OK"
        # Three 60 s commands queued on one job slot: the IMAP session
        # did not wait for any of them (a generous bound: 10 s).
        assert time.monotonic() - start < 10
        c.select("Junk")
        typ, _ = c.uid("MOVE", uid_of(c, "hang-0"), "INBOX")
        assert typ == "OK"
        c.logout()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and \
                ("command failed (exit 3)" not in d.log() or
                 d.log().count("killed after 1000 ms") < 3):
            time.sleep(0.1)
        assert d.log().count("killed after 1000 ms") == 3, d.log()
        assert "imap learn ham user=demo@localhost" in d.log()
        assert "command failed (exit 3)" in d.log()
    finally:
        finish(d)
