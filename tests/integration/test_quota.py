"""Storage quotas against a real posthornd --dev: set with the admin
command, enforced at SMTP RCPT (452 4.2.2), per recipient after LMTP DATA,
on IMAP APPEND and COPY ([OVERQUOTA]), shown by the IMAP QUOTA extension
(RFC 9208) and by `posthorn user list`."""
import re
import smtplib

import pytest

from conftest import Posthornd

from test_imap import Raw as ImapRaw
from test_smtp import Raw as SmtpRaw

DEMO = "demo@localhost"


@pytest.fixture
def daemon(tmp_path):
    """posthornd --dev without the inbound checks: the sizes below count
    on our trace fields being a Received: alone (the checks add an
    Authentication-Results: of some 300 bytes, as the SIZE= check does not
    count what we add)."""
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write("\n[inbound]\nchecks = no\n")
    d.start()
    yield d
    status = d.stop()
    d.assert_clean()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"


def msg(tag, body_size=200):
    """A message whose body is body_size bytes (lines of 78 + CRLF)."""
    body = ("x" * 78 + "\r\n") * (body_size // 80)
    body += "y" * max(body_size - len(body) - 2, 0) + "\r\n"
    return (f"From: Alice <alice@example.org>\r\n"
            f"To: <{DEMO}>\r\n"
            f"Subject: quota {tag}\r\n"
            f"\r\n" + body).encode()


def usage(daemon, address):
    """What the store counts: the sum of the user's message sizes."""
    (n, total), = daemon.sql(
        "SELECT count(*), COALESCE(SUM(m.size), 0) FROM messages m"
        " JOIN mailboxes b ON b.id = m.mailbox_id"
        " JOIN users u ON u.id = b.user_id WHERE u.address = ?",
        (address,))
    return n, total


def set_quota(daemon, address, size):
    r = daemon.cli("user", "quota", address, size)
    assert r.returncode == 0, r.stderr
    return r.stdout


def add_user(daemon, address):
    r = daemon.cli("user", "add", address, "--password-stdin", input="pw\n")
    assert r.returncode == 0, r.stderr


def send(daemon, rcpt, data, declare_size=True):
    """smtplib declares SIZE= when offered; declare_size=False hides it."""
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        s.ehlo("client.example.org")
        if not declare_size:
            del s.esmtp_features["size"]
        s.sendmail("alice@example.org", [rcpt], data)


def logged_in(daemon, user=DEMO, password="demo"):
    r = ImapRaw(daemon.port("imap"))
    r.ok(f'LOGIN "{user}" "{password}"')
    return r


def kib(n):
    return (n + 1023) // 1024


def test_cli_sets_and_lists_quota(daemon):
    assert "quota" not in daemon.cli("user", "list").stdout
    assert set_quota(daemon, DEMO, "2M").strip() == f"quota of {DEMO} set to 2M"
    send(daemon, DEMO, msg("a", 1000))
    _, used = usage(daemon, DEMO)
    line = daemon.cli("user", "list").stdout.strip()
    assert line == f"{DEMO} quota 2M used {used / 1024:.1f}K (0%)", line
    for size, shown in (("1536", "1.5K"), ("100k", "100K"), ("3G", "3G"),
                        ("1TB", "1T"), ("2048", "2K")):
        assert set_quota(daemon, DEMO, size).strip().endswith("to " + shown)
    for bad in ("-1", "12X", "K", "", "1.5M", "99999999999T"):
        r = daemon.cli("user", "quota", DEMO, bad)
        assert r.returncode == 2, (bad, r.stdout)
    assert "2K" in daemon.cli("user", "list").stdout
    assert daemon.cli("user", "quota", "nobody@localhost", "1M").returncode == 1
    assert set_quota(daemon, DEMO, "none").strip() == f"quota of {DEMO} removed"
    assert daemon.cli("user", "list").stdout.split() == [DEMO]
    r = daemon.cli("user", "add", "q@localhost", "--quota", "5M",
                   "--password-stdin", input="pw\n")
    assert r.returncode == 0, r.stderr
    assert "q@localhost quota 5M used 0 (0%)" in daemon.cli("user", "list").stdout


def test_smtp_full_mailbox_452_until_expunged(daemon):
    set_quota(daemon, DEMO, "2K")
    # three fit with our trace fields, the fourth's SIZE= does not
    BODY = 560
    accepted = 0
    for i in range(20):
        try:
            send(daemon, DEMO, msg(i, BODY))
            accepted += 1
        except smtplib.SMTPRecipientsRefused as e:
            code, text = e.recipients[DEMO]
            assert code == 452 and text.startswith(b"4.2.2"), e.recipients
            break
    else:
        raise AssertionError("never refused")
    n, used = usage(daemon, DEMO)
    # smtplib declared SIZE=: refused once it would not fit. The trace
    # fields we add (Received:, Authentication-Results:) are not in the
    # SIZE the client declared: the last message may end past the quota
    # by them.
    (last,), = daemon.sql("SELECT max(size) FROM messages")
    added = last - len(msg(accepted - 1, BODY))
    assert n == accepted and used - added <= 2048 < used + BODY
    # Without SIZE= it is accepted while usage is below the quota...
    send(daemon, DEMO, msg("no size", 600), declare_size=False)
    accepted += 1
    n, used = usage(daemon, DEMO)
    assert n == accepted and used > 2048
    # ... and refused at RCPT once it is not.
    try:
        send(daemon, DEMO, msg("full", 10), declare_size=False)
        raise AssertionError("accepted")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients[DEMO][0] == 452
    assert daemon.cli("user", "list").stdout.strip().endswith(
        f"used {used / 1024:.1f}K ({used * 100 // 2048}%)")

    # Expunging frees the space: the next delivery is accepted.
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    r.ok("STORE 1:2 +FLAGS.SILENT (\\Deleted)")
    r.ok("EXPUNGE")
    r.ok("LOGOUT")
    assert usage(daemon, DEMO)[1] < 2048
    send(daemon, DEMO, msg("after expunge", 100))

    # Quota 0: unlimited again.
    set_quota(daemon, DEMO, "0")
    for i in range(3):
        send(daemon, DEMO, msg(f"unlimited {i}", 1500))
    assert usage(daemon, DEMO)[1] > 4096


def test_smtp_declared_size_over_quota(daemon):
    set_quota(daemon, DEMO, "4K")
    send(daemon, DEMO, msg("small", 500))
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        s.ehlo("client.example.org")
        assert s.mail("alice@example.org", ["SIZE=5000"])[0] == 250
        code, text = s.rcpt(DEMO)
        assert code == 452 and text.startswith(b"4.2.2"), (code, text)
        s.rset()
        assert s.mail("alice@example.org", ["SIZE=1000"])[0] == 250
        assert s.rcpt(DEMO)[0] == 250


def test_alias_to_full_user_and_another(daemon):
    add_user(daemon, "bob@localhost")
    assert daemon.cli("alias", "add", "team@localhost", DEMO,
                      "bob@localhost").returncode == 0
    assert daemon.cli("alias", "add", "onlybob@localhost",
                      "bob@localhost").returncode == 0
    set_quota(daemon, "bob@localhost", "1K")
    send(daemon, "bob@localhost", msg("fill bob", 1100), declare_size=False)
    bob_before = usage(daemon, "bob@localhost")
    # The full target is left out, the other one gets it.
    send(daemon, "team@localhost", msg("team", 300))
    assert usage(daemon, DEMO)[0] == 1
    assert usage(daemon, "bob@localhost") == bob_before
    # An alias whose only target is full: refused like the user.
    try:
        send(daemon, "onlybob@localhost", msg("only bob", 300))
        raise AssertionError("accepted")
    except smtplib.SMTPRecipientsRefused as e:
        assert e.recipients["onlybob@localhost"][0] == 452
    assert "left out: mailbox full" in daemon.log()


def test_lmtp_reply_per_recipient_after_data(daemon):
    add_user(daemon, "bob@localhost")
    set_quota(daemon, "bob@localhost", "1500")
    send(daemon, "bob@localhost", msg("bob's first", 600))
    bob_before = usage(daemon, "bob@localhost")
    assert bob_before[1] < 1100
    r = SmtpRaw(daemon.port("lmtp"))
    assert r.reply()[0] == 220
    assert r.cmd("LHLO mta.example.org")[0] == 250
    assert r.cmd("MAIL FROM:<alice@example.org>")[0] == 250
    assert r.cmd(f"RCPT TO:<{DEMO}>")[0] == 250
    # Not full yet: accepted at RCPT, refused once the size is known.
    assert r.cmd("RCPT TO:<bob@localhost>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(msg("lmtp", 700) + b".\r\n")
    first, second = r.reply(), r.reply()
    assert first[0] == 250 and f"<{DEMO}>" in first[1], first
    assert second[0] == 452 and second[1].startswith(
        "4.2.2 <bob@localhost> Mailbox full"), second
    assert usage(daemon, DEMO)[0] == 1
    assert usage(daemon, "bob@localhost") == bob_before

    # Every recipient full: each gets its 452, nothing is stored.
    assert r.cmd("MAIL FROM:<alice@example.org>")[0] == 250
    assert r.cmd("RCPT TO:<bob@localhost>")[0] == 250
    assert r.cmd("RCPT TO:<bob+tag@localhost>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(msg("lmtp 2", 700) + b".\r\n")
    replies = [r.reply() for _ in range(2)]
    assert [c for c, _ in replies] == [452, 452], replies
    assert "<bob+tag@localhost>" in replies[1][1]
    assert r.cmd("NOOP")[0] == 250
    # A small one still fits.
    assert r.cmd("MAIL FROM:<alice@example.org>")[0] == 250
    assert r.cmd("RCPT TO:<bob@localhost>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(b"Subject: tiny\r\n\r\nhi\r\n.\r\n")
    assert r.reply()[0] == 250
    r.close()
    assert usage(daemon, "bob@localhost")[0] == 2
    # Already full: refused at RCPT.
    send(daemon, "bob@localhost", msg("over", 400), declare_size=False)
    assert usage(daemon, "bob@localhost")[1] >= 1500
    r = SmtpRaw(daemon.port("lmtp"))
    r.reply()
    r.cmd("LHLO mta.example.org")
    r.cmd("MAIL FROM:<alice@example.org>")
    code, text = r.cmd("RCPT TO:<bob@localhost>")
    assert code == 452 and text.startswith("4.2.2"), (code, text)
    r.close()


def test_imap_quota_extension(daemon):
    r = logged_in(daemon)
    caps = r.ok("CAPABILITY").named("CAPABILITY")[0].decode().split()
    assert "QUOTA" in caps and "QUOTA=RES-STORAGE" in caps
    # No quota: the root exists, with no resource.
    rep = r.ok("GETQUOTAROOT INBOX")
    assert rep.named("QUOTAROOT") == [b'"INBOX" ""']
    assert rep.named("QUOTA") == []
    assert r.ok('GETQUOTA ""').named("QUOTA") == [b'"" ()']
    assert r.cmd('GETQUOTA "other"').status == "NO"
    assert r.cmd("GETQUOTAROOT nosuch").status == "NO"

    set_quota(daemon, DEMO, "10K")
    send(daemon, DEMO, msg("one", 1500))
    used = usage(daemon, DEMO)[1]
    rep = r.ok("GETQUOTAROOT Archive")
    assert rep.named("QUOTAROOT") == [b'"Archive" ""']
    assert rep.named("QUOTA") == [f'"" (STORAGE {kib(used)} 10)'.encode()]
    assert r.ok('GETQUOTA ""').named("QUOTA") == \
        [f'"" (STORAGE {kib(used)} 10)'.encode()]

    # SETQUOTA is the admin's.
    rep = r.cmd('SETQUOTA "" (STORAGE 100000)')
    assert rep.status == "NO" and rep.code == "NOPERM", rep

    # APPEND past the quota is refused, below it accepted.
    big = msg("big", 10 * 1024 - used + 10)
    rep = r.cmd("APPEND INBOX {}", big)
    assert rep.status == "NO" and rep.code == "OVERQUOTA", rep
    assert usage(daemon, DEMO)[1] == used
    r.ok("APPEND INBOX {}", msg("fits", 4000))
    used = usage(daemon, DEMO)[1]
    assert used < 6 * 1024

    # COPY grows usage: ~5.7K do not fit twice in 10K, one message does;
    # MOVE stays within the user.
    r.ok("SELECT INBOX")
    rep = r.cmd("COPY 1:* Archive")
    assert rep.status == "NO" and rep.code == "OVERQUOTA", rep
    assert usage(daemon, DEMO)[1] == used
    r.ok("COPY 1 Archive")
    r.ok("MOVE 2 Trash")
    assert usage(daemon, DEMO) == (3, used + usage_of_first(daemon))
    assert r.ok('GETQUOTA ""').named("QUOTA") == \
        [f'"" (STORAGE {kib(usage(daemon, DEMO)[1])} 10)'.encode()]
    r.ok("LOGOUT")


def usage_of_first(daemon):
    (size,), = daemon.sql(
        "SELECT m.size FROM messages m JOIN mailboxes b ON b.id = m.mailbox_id"
        " WHERE b.name = 'Archive'")
    return size
