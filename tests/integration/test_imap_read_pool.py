"""IMAP store reads on the read pool ([store] read_workers; 4 by default
on PostgreSQL, 0 on SQLite, where these tests set 2 so that the pool runs
on both stores): SELECT/EXAMINE, FETCH, STATUS and SEARCH complete on the
session's thread with the session held meanwhile; pipelined commands
after them keep their order; IDLE sees deliveries that come while a
SELECT's read is out; a client that hangs up while a read is out leaves
nothing behind; SCRAM and APOP look their credentials up on the pool."""
import poplib
import smtplib
import socket
import threading

import pytest

from conftest import Posthornd
from test_imap import (USER, PASSWORD, Raw, exists, logged_in, scram_client,
                       wait_for)


def started(tmp_path, extra=""):
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path) as fh:
        conf = fh.read()
    if "[store]\n" in conf:
        conf = conf.replace("[store]\n", "[store]\nread_workers = 2\n", 1)
    else:
        conf += "\n[store]\nread_workers = 2\n"
    with open(d.config_path, "w") as fh:
        fh.write(conf + extra)
    d.start()
    return d


@pytest.fixture
def daemon(tmp_path):
    d = started(tmp_path)
    yield d
    assert d.stop() == 0
    d.assert_clean()


def deliver(d, n, start=0, rcpt=USER):
    with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=30) as s:
        for i in range(start, start + n):
            s.sendmail("a@example.org", [rcpt],
                       f"From: a@example.org\r\nSubject: m{i}\r\n"
                       f"Message-ID: <{i}@pool>\r\n\r\n" + "line\r\n" * 20)


def test_select_fetch_status_search_on_the_pool(daemon):
    deliver(daemon, 30)
    r = logged_in(daemon)
    rep = r.ok("SELECT INBOX")
    assert exists(rep) == 30
    assert any(b"UIDNEXT 31" in u for u in rep.untagged)
    rep = r.ok("FETCH 1:30 (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert len(rep.untagged) == 30
    assert b"Subject: m29" in rep.untagged[29]
    rep = r.ok("STATUS INBOX (MESSAGES UNSEEN SIZE RECENT)")
    assert b"MESSAGES 30" in rep.untagged[0]
    rep = r.ok("SEARCH SUBJECT m2")
    # m2, m20..m29
    assert rep.named("SEARCH")[0].split() == [str(i).encode() for i in
                                             [3] + list(range(21, 31))]
    assert r.cmd("STATUS Nonesuch (MESSAGES)").status == "NO"
    assert r.cmd("SELECT Nonesuch").status == "NO"
    # the failed SELECT closed INBOX: no mailbox selected
    assert r.cmd("FETCH 1 UID").status == "BAD"
    rep = r.ok("EXAMINE INBOX")
    assert b"READ-ONLY" in rep.tagged
    r.ok("LOGOUT")


def test_fetch_in_several_slices_on_the_pool(daemon):
    # 60 x 10 KB: more than one slice of output (256 KB), each read and
    # rendered on the pool; the next one goes out as the client reads
    body = "".join(f"{i:07d} " + "x" * 91 + "\r\n" for i in range(100))
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=30) as s:
        for i in range(60):
            s.sendmail("a@example.org", [USER],
                       f"From: a@example.org\r\nSubject: big{i}\r\n\r\n"
                       + body)
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    rep = r.ok("FETCH 1:* (UID BODY.PEEK[TEXT])")
    assert len(rep.untagged) == 60
    for i, u in enumerate(rep.untagged):
        assert u.startswith(f"* {i + 1} FETCH (UID {i + 1} BODY[TEXT] "
                            f"{{{len(body)}}}".encode()), u[:80]
        assert u.endswith(body.encode() + b")")
    # a command pipelined behind a FETCH of several slices waits for it
    r.send(b"s FETCH 1:* (BODY.PEEK[])\r\nn NOOP\r\n")
    r.sock.settimeout(10)
    rep = r.read_until_tag("s")
    assert rep.status == "OK" and len(rep.untagged) == 60
    assert r.read_until_tag("n").status == "OK"
    r.ok("LOGOUT")


def test_pipelined_commands_after_held_reads_keep_their_order(daemon):
    deliver(daemon, 12)
    r = logged_in(daemon)
    # one write: every command waits for the read of the one before
    r.send(b"a SELECT INBOX\r\nb FETCH 1:* (UID)\r\n"
           b"c STATUS INBOX (MESSAGES)\r\nd UID SEARCH ALL\r\n"
           b"e EXAMINE INBOX\r\nf FETCH 12 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])\r\n"
           b"g NOOP\r\n")
    order = []
    untagged_after = {}
    for tag in "abcdefg":
        rep = r.read_until_tag(tag)
        assert rep.status == "OK", rep
        order.append(tag)
        untagged_after[tag] = rep.untagged
    assert order == list("abcdefg")
    assert b"* 12 EXISTS" in untagged_after["a"]
    assert len(untagged_after["b"]) == 12
    assert untagged_after["c"][0].endswith(b"(MESSAGES 12)")
    assert untagged_after["d"][0] == b"* SEARCH " + \
        b" ".join(str(i).encode() for i in range(1, 13))
    assert b"Subject: m11" in untagged_after["f"][0]
    r.ok("LOGOUT")


def test_idle_sees_deliveries_around_a_held_select(daemon):
    # a large INBOX: SELECT's read takes long enough for deliveries to
    # commit while it is out (a race: not every round hits it)
    deliver(daemon, 1500)
    total = 1500
    watcher = logged_in(daemon)
    for round_ in range(20):
        # deliveries race the SELECT's read: a change that comes while
        # the read is out must not be lost to the new view
        smtp = smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=30)
        smtp.ehlo()
        smtp.mail("a@example.org")
        smtp.rcpt(USER)
        t = threading.Thread(target=smtp.data, args=(
            f"From: a@example.org\r\nSubject: r{round_}\r\n\r\nx\r\n",))
        watcher.send(b"s SELECT INBOX\r\n")
        t.start()
        rep = watcher.read_until_tag("s")
        assert rep.status == "OK", rep
        t.join()
        smtp.quit()
        total += 1
        n = exists(rep)
        assert n <= total
        if n < total:
            # FETCH's reply syncs only a view that a change event marked
            # (NOOP and IDLE read anyway): the event that came while the
            # read was out must have marked the new view
            rep = watcher.ok("FETCH 1 (UID)")
            assert exists(rep) == total, (round_, n, rep.untagged)
        watcher.send(b"i IDLE\r\n")
        assert watcher.response().startswith(b"+")
        deliver(daemon, 1, 500 + round_)
        total += 1
        assert wait_for(watcher, f"* {total} EXISTS".encode(), 5), round_
        watcher.send(b"DONE\r\n")
        assert watcher.read_until_tag("i").status == "OK"
        # an expunge from elsewhere waits through FETCH, goes at NOOP
        other = logged_in(daemon)
        other.ok("SELECT INBOX")
        other.ok(f"STORE {total} +FLAGS (\\Deleted)")
        other.ok("EXPUNGE")
        other.ok("LOGOUT")
        rep = watcher.ok("FETCH 1 (UID)")
        assert b"EXPUNGE" not in b"".join(rep.untagged)
        rep = watcher.ok("NOOP")
        assert f"* {total} EXPUNGE".encode() in rep.untagged, rep
        total -= 1
    watcher.ok("LOGOUT")


def test_hang_up_while_reads_are_out(daemon):
    deliver(daemon, 200)
    cmds = [b"a SELECT INBOX\r\n",
            b"a SELECT INBOX\r\nb FETCH 1:* (UID ENVELOPE BODY.PEEK[])\r\n",
            b"a SELECT INBOX\r\nb SEARCH TEXT line\r\n",
            b"a STATUS INBOX (MESSAGES SIZE)\r\n"]
    for i in range(40):
        s = socket.create_connection(("127.0.0.1", daemon.port("imap")))
        s.sendall(f'l LOGIN "{USER}" "{PASSWORD}"\r\n'.encode())
        buf = b""
        while b"l OK" not in buf:
            buf += s.recv(65536)
        s.sendall(cmds[i % len(cmds)])
        s.close()
    # the daemon serves on; the sessions are gone
    r = logged_in(daemon)
    assert exists(r.ok("SELECT INBOX")) == 200
    r.ok("LOGOUT")


def test_scram_and_apop_lookups_on_the_pool(tmp_path):
    d = started(tmp_path, "\n[pop3]\napop = yes\n")
    try:
        for _ in range(3):
            r = Raw(d.port("imap"))
            assert scram_client(r, USER, PASSWORD).status == "OK"
            r.ok("SELECT INBOX")
            r.ok("LOGOUT")
        r = Raw(d.port("imap"))
        assert scram_client(r, USER, "wrong").status == "NO"
        assert scram_client(r, "nobody@localhost", PASSWORD).status == "NO"
        r.close()
        res = d.cli("user", "apop-secret", USER, "--password-stdin",
                    input="apop secret\n")
        assert res.returncode == 0, res.stderr
        p = poplib.POP3("127.0.0.1", d.port("pop3"), timeout=10)
        assert p.apop(USER, "apop secret").startswith(b"+OK")
        p.quit()
        p = poplib.POP3("127.0.0.1", d.port("pop3"), timeout=10)
        with pytest.raises(poplib.error_proto) as e:
            p.apop(USER, "wrong")
        assert e.value.args[0].startswith(b"-ERR [AUTH]")
        with pytest.raises(poplib.error_proto):
            p.apop("nobody@localhost", "apop secret")
        p.quit()
    finally:
        assert d.stop() == 0
        d.assert_clean()
