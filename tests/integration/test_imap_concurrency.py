"""Several IMAP sessions on one mailbox of a real posthornd: IDLE woken by
an SMTP delivery within a second, two and three sessions seeing each
other's flag changes, expunges and new mail (at once in IDLE, at NOOP
otherwise), no EXPUNGE where RFC 3501 7.4.1 forbids it, POP3 deletions,
and flags and \\Recent that survive a daemon restart."""
import poplib
import re
import socket
import threading
import time

from conftest import Posthornd
from test_imap import (append, exists, fetch_items, logged_in, message,
                       smtp_deliver, wait_for)


def idle_start(r):
    tag = r.next_tag()
    r.send(f"{tag} IDLE\r\n".encode())
    assert r.response().startswith(b"+")
    return tag


def idle_done(r, tag):
    r.send(b"DONE\r\n")
    rep = r.read_until_tag(tag)
    assert rep.status == "OK", rep
    return rep


def collect(r, seconds):
    """Untagged responses that arrive within seconds."""
    out = []
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            r.sock.settimeout(left)
            out.append(r.response())
    except socket.timeout:
        pass
    finally:
        r.sock.settimeout(10)
    return out


def seq_uids(r):
    f = fetch_items(r.ok("FETCH 1:* UID").untagged)
    return [int(f[s]["UID"]) for s in sorted(f)]


def test_idle_woken_by_smtp_within_a_second(daemon):
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    tag = idle_start(r)
    for n in (1, 2, 3):
        smtp_deliver(daemon, message(f"idle{n}"))
        sent = time.monotonic()
        assert wait_for(r, f"* {n} EXISTS".encode(), 1.0), f"no EXISTS {n} within 1 s"
        assert time.monotonic() - sent < 1.0
    idle_done(r, tag)
    f = fetch_items(r.ok("FETCH 3 BODY.PEEK[]").untagged)
    assert f[3]["BODY[]"].endswith(message("idle3"))
    r.close()


def test_idle_sees_other_sessions_flags_and_expunges(daemon):
    a = logged_in(daemon)
    uids = [append(a, "INBOX", message(f"if{i}")) for i in range(3)]
    a.ok("SELECT INBOX")
    b = logged_in(daemon)
    b.ok("SELECT INBOX")
    tag = idle_start(b)
    a.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    got = collect(b, 1.0)
    f = fetch_items(got)
    assert 2 in f and "\\Flagged" in f[2]["FLAGS"], got
    a.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    assert wait_for(b, b"* 1 EXPUNGE", 1.0)
    idle_done(b, tag)
    assert seq_uids(b) == uids[1:]
    a.close()
    b.close()


def test_two_sessions_see_changes_at_noop(daemon):
    a = logged_in(daemon)
    uids = [append(a, "INBOX", message(f"two{i}")) for i in range(4)]
    a.ok("SELECT INBOX")
    b = logged_in(daemon)
    b.ok("SELECT INBOX")
    # flags
    a.ok("STORE 3 +FLAGS.SILENT (\\Seen $Tag)")
    f = fetch_items(b.ok("NOOP").untagged)
    assert set(f[3]["FLAGS"]) == {"\\Seen", "$Tag"}
    # the other way round, removing
    b.ok("STORE 3 -FLAGS.SILENT ($Tag)")
    f = fetch_items(a.ok("NOOP").untagged)
    assert f[3]["FLAGS"] == ["\\Seen"]
    # new mail, by SMTP
    smtp_deliver(daemon, message("two-new"))
    assert exists(b.ok("NOOP")) == 5
    assert exists(a.ok("NOOP")) == 5
    # expunge by a, seen by b at its next command
    a.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    a.ok("EXPUNGE")
    rep = b.ok("NOOP")
    assert b"* 2 EXPUNGE" in rep.untagged
    assert seq_uids(a) == seq_uids(b)
    assert seq_uids(b)[:3] == [uids[0], uids[2], uids[3]]
    a.close()
    b.close()


def test_three_sessions(daemon):
    s = [logged_in(daemon) for _ in range(3)]
    uids = [append(s[0], "INBOX", message(f"three{i}")) for i in range(5)]
    for x in s:
        x.ok("SELECT INBOX")
    tag1 = idle_start(s[1])
    s[0].ok("STORE 1:5 +FLAGS.SILENT ($Seen3)")
    s[2].ok("STORE 4,5 +FLAGS.SILENT (\\Deleted)")
    s[2].ok("EXPUNGE")
    smtp_deliver(daemon, message("three-new"))
    got = collect(s[1], 1.5)
    # 4 and 5 expunged: told as 5 then 4, or as 4 twice
    expunges = [x for x in got if x.endswith(b" EXPUNGE")]
    assert expunges in ([b"* 5 EXPUNGE", b"* 4 EXPUNGE"],
                        [b"* 4 EXPUNGE", b"* 4 EXPUNGE"]), got
    assert b"* 4 EXISTS" in got, got
    idle_done(s[1], tag1)
    rep = s[0].ok("NOOP")
    assert exists(rep) == 4
    s[2].ok("NOOP")
    final = [seq_uids(x) for x in s]
    assert final[0] == final[1] == final[2]
    assert final[0][:3] == uids[:3] and len(final[0]) == 4
    for x in s:
        f = fetch_items(x.ok("FETCH 1:3 FLAGS").untagged)
        assert all("$Seen3" in f[k]["FLAGS"] for k in (1, 2, 3))
        x.close()


def test_no_expunge_during_fetch_store_search(daemon):
    a = logged_in(daemon)
    uids = [append(a, "INBOX", message(f"ne{i}")) for i in range(4)]
    a.ok("SELECT INBOX")
    b = logged_in(daemon)
    b.ok("SELECT INBOX")
    b.ok("STORE 2 +FLAGS.SILENT (\\Deleted)")
    b.ok("EXPUNGE")
    for cmd in ("FETCH 1:* FLAGS", "STORE 4 +FLAGS.SILENT ($X)", "SEARCH ALL"):
        rep = a.cmd(cmd)
        assert rep.status in ("OK", "NO"), rep
        assert not [x for x in rep.untagged if x.endswith(b" EXPUNGE")], (cmd, rep)
    # Until told, a still numbers the old way: message 4 is the last UID.
    rep = a.cmd("FETCH 4 UID")
    assert not [x for x in rep.untagged if x.endswith(b" EXPUNGE")]
    if rep.status == "OK":
        assert int(fetch_items(rep.untagged)[4]["UID"]) == uids[3]
    rep = a.ok("NOOP")
    assert b"* 2 EXPUNGE" in rep.untagged
    assert seq_uids(a) == [uids[0], uids[2], uids[3]]
    a.close()
    b.close()


def test_concurrent_appends_get_distinct_uids(daemon):
    uids, errors = [], []
    lock = threading.Lock()

    def worker(n):
        try:
            r = logged_in(daemon)
            mine = [append(r, "INBOX", message(f"cc{n}-{i}")) for i in range(20)]
            r.close()
            with lock:
                uids.extend(mine)
        except Exception as e:  # reported below
            errors.append(e)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert len(uids) == 80 and len(set(uids)) == 80
    r = logged_in(daemon)
    assert exists(r.ok("SELECT INBOX")) == 80
    assert seq_uids(r) == sorted(uids)
    r.close()


def test_pop3_delete_reaches_imap_session(daemon):
    r = logged_in(daemon)
    uids = [append(r, "INBOX", message(f"pop{i}")) for i in range(3)]
    r.ok("SELECT INBOX")
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=10)
    p.user("demo@localhost")
    p.pass_("demo")
    assert p.stat()[0] == 3
    p.dele(1)
    p.quit()
    rep = r.ok("NOOP")
    assert b"* 1 EXPUNGE" in rep.untagged
    assert seq_uids(r) == uids[1:]
    r.close()


def test_flags_survive_restart(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    try:
        r = logged_in(d)
        r.ok('CREATE "Keep"')
        uids = [append(r, "Keep", message(f"rs{i}")) for i in range(3)]
        r.ok("SELECT Keep")
        r.ok("STORE 1 +FLAGS.SILENT (\\Seen $Important)")
        r.ok("STORE 2 +FLAGS.SILENT (\\Answered \\Flagged)")
        st = r.ok("STATUS INBOX (UIDVALIDITY)")
        validity = re.search(rb"UIDVALIDITY (\d+)", st.untagged[0]).group(1)
        rep = r.ok("SELECT Keep")
        keep_validity = re.search(rb"\[UIDVALIDITY (\d+)\]", b"\n".join(rep.untagged)).group(1)
        r.close()
    finally:
        assert d.stop() == 0
    d.start()
    try:
        r = logged_in(d)
        rep = r.ok("SELECT Keep")
        assert re.search(rb"\[UIDVALIDITY (\d+)\]", b"\n".join(rep.untagged)).group(1) \
            == keep_validity
        f = fetch_items(r.ok("FETCH 1:* (UID FLAGS)").untagged)
        assert [int(f[k]["UID"]) for k in (1, 2, 3)] == uids
        assert set(f[1]["FLAGS"]) == {"\\Seen", "$Important"}
        assert set(f[2]["FLAGS"]) == {"\\Answered", "\\Flagged"}
        assert f[3]["FLAGS"] == []
        assert "$Important" in b"\n".join(rep.untagged).decode()  # FLAGS lists keywords
        st = r.ok("STATUS INBOX (UIDVALIDITY)")
        assert re.search(rb"UIDVALIDITY (\d+)", st.untagged[0]).group(1) == validity
        r.close()
    finally:
        status = d.stop()
        d.assert_clean()
    assert status == 0


def recent_count(rep):
    (n,) = [int(x.split()[1]) for x in rep.untagged if x.endswith(b" RECENT")]
    return n


def test_recent_once_across_restart(tmp_path):
    """\\Recent (RFC 3501 2.3.2) goes to one session per message, also
    when the daemon restarts in between: the store keeps how far the
    sessions took it. A crash may give them again; a clean stop not."""
    d = Posthornd(tmp_path / "data").start()
    try:
        smtp_deliver(d, message("rr1"), message("rr2"))
        r = logged_in(d)
        assert recent_count(r.ok("EXAMINE INBOX")) == 2    # shown, not taken
        assert recent_count(r.ok("SELECT INBOX")) == 2     # taken
        smtp_deliver(d, message("rr3"))
        rep = r.ok("NOOP")
        assert recent_count(rep) == 3                      # rr3 taken too
        r.ok("LOGOUT")
        r.close()
        smtp_deliver(d, message("rr4"))                    # nobody saw it
    finally:
        assert d.stop() == 0
    d.start()
    try:
        r = logged_in(d)
        st = r.ok("STATUS INBOX (MESSAGES RECENT)")
        assert b"(MESSAGES 4 RECENT 1)" in st.untagged[0]
        rep = r.ok("SELECT INBOX")
        assert recent_count(rep) == 1
        f = r.ok("FETCH 1:* FLAGS").untagged
        assert [b"\\Recent" in x for x in f] == [False, False, False, True]
        r.close()
        r = logged_in(d)
        assert recent_count(r.ok("SELECT INBOX")) == 0
        r.close()
    finally:
        status = d.stop()
        d.assert_clean()
    assert status == 0
