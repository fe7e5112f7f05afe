"""IMAP follow-ups for scale against a real posthornd --dev: STATUS counters
from one store query, APPEND leaving the search text to the store's
indexer, the incremental mailbox view sync (new mail, flag changes and
expunges seen by other sessions without re-reading the mailbox), and the
memory a logged-in idle session keeps."""
import re

from conftest import Posthornd  # noqa: F401  (the daemon fixture)
from test_imap import (append, exists, fetch_items, logged_in, message,
                       status_items)


def test_status_deleted_and_size_follow_other_sessions(daemon):
    a = logged_in(daemon)
    a.ok('CREATE "Scale"')
    msgs = [message(f"st{i}", body=f"body {i}\r\n" * (i + 1)) for i in range(3)]
    uids = [append(a, "Scale", m) for m in msgs]
    query = 'STATUS "Scale" (MESSAGES DELETED SIZE)'
    assert status_items(a.ok(query)) == {
        "MESSAGES": 3, "DELETED": 0, "SIZE": sum(len(m) for m in msgs)}
    b = logged_in(daemon)
    b.ok('SELECT "Scale"')
    b.ok(f"UID STORE {uids[0]},{uids[2]} +FLAGS.SILENT (\\Deleted)")
    assert status_items(a.ok(query)) == {
        "MESSAGES": 3, "DELETED": 2, "SIZE": sum(len(m) for m in msgs)}
    b.ok("EXPUNGE")
    assert status_items(a.ok(query)) == {
        "MESSAGES": 1, "DELETED": 0, "SIZE": len(msgs[1])}
    # DELETED and SIZE alone, and of an empty mailbox
    b.ok("UNSELECT")
    a.ok('CREATE "Empty"')
    assert status_items(a.ok('STATUS "Empty" (SIZE DELETED)')) == {
        "SIZE": 0, "DELETED": 0}
    a.close()
    b.close()


def test_appended_text_is_searchable(daemon):
    """APPEND gives the store no search text: the writer indexes the blob
    (or SEARCH scans what is not indexed yet), so every word is found."""
    r = logged_in(daemon)
    plain = message("ap-plain", body="the zanzibar quokka\r\n")
    qp = (b"From: a@example.org\r\nSubject: =?UTF-8?Q?gr=C3=BC=C3=9Fe?=\r\n"
          b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
          b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
          b"caf=C3=A9 ol=C3=A9 marmoset\r\n")
    u1 = append(r, "INBOX", plain)
    u2 = append(r, "INBOX", qp)
    r.ok("SELECT INBOX")

    def search(crit, *literals):
        rep = r.ok("UID SEARCH " + crit, *literals)
        line = [x for x in rep.untagged if x.startswith(b"* SEARCH")][0]
        return [int(x) for x in line.split()[2:]]

    assert search("BODY quokka") == [u1]
    assert search("TEXT marmoset") == [u2]
    # decoded: quoted-printable body, RFC 2047 header
    assert search("CHARSET UTF-8 BODY {}", "café".encode()) == [u2]
    assert search("CHARSET UTF-8 SUBJECT {}", "grüße".encode()) == [u2]
    assert search("BODY nowhere") == []
    r.close()


class Model:
    """What a selected client knows, kept only from the untagged responses
    the server sends it: [uid, set(flags)] by sequence number."""

    def __init__(self, r, mailbox):
        self.r = r
        self.msgs = []
        self.apply(r.ok(f'SELECT "{mailbox}"').untagged)

    def apply(self, untagged):
        grew = None
        for resp in untagged:
            m = re.match(rb"\* (\d+) (EXPUNGE|EXISTS)$", resp)
            if m and m.group(2) == b"EXPUNGE":
                del self.msgs[int(m.group(1)) - 1]
            elif m:
                n = int(m.group(1))
                assert n >= len(self.msgs), (n, len(self.msgs))
                if n > len(self.msgs):
                    grew = len(self.msgs)
                    self.msgs += [None] * (n - len(self.msgs))
        for seq, items in fetch_items(untagged).items():
            if self.msgs[seq - 1] is None:
                continue  # a new message: read below
            if "UID" in items:
                assert int(items["UID"]) == self.msgs[seq - 1][0], (seq, items)
            self.msgs[seq - 1][1] = set(items["FLAGS"])
        if grew is not None:  # learn the new messages as a client does
            f = fetch_items(self.r.ok(f"FETCH {grew + 1}:* (UID FLAGS)").untagged)
            for seq in range(grew + 1, len(self.msgs) + 1):
                self.msgs[seq - 1] = [int(f[seq]["UID"]), set(f[seq]["FLAGS"])]

    def noop(self):
        self.apply(self.r.ok("NOOP").untagged)


def truth(daemon, mailbox):
    c = logged_in(daemon)
    f = fetch_items(c.ok(f'EXAMINE "{mailbox}"').untagged +
                    c.ok("FETCH 1:* (UID FLAGS)").untagged)
    c.close()
    return [[int(f[s]["UID"]), set(f[s]["FLAGS"])] for s in sorted(f)]


def test_incremental_sync_follows_random_changes(daemon):
    """Another session's flag and keyword changes, appends, expunges and
    moves, in a seeded random order: the selected session's idea of the
    mailbox, kept only from untagged responses at each NOOP, always equals
    a fresh EXAMINE."""
    import random
    rnd = random.Random(4)
    a = logged_in(daemon)
    a.ok('CREATE "Sync"')
    for i in range(30):
        append(a, "Sync", message(f"sync{i}"))
    a = Model(a, "Sync")
    b = Model(logged_in(daemon), "Sync")
    flags = ["\\Seen", "\\Flagged", "\\Answered", "$Work", "$Later"]
    for step in range(60):
        n = len(a.msgs)
        op = rnd.choice(["flag", "flag", "unflag", "append", "expunge", "move"])
        seq = rnd.randint(1, max(n, 1))
        if op == "flag" and n:
            a.apply(a.r.ok(f"STORE {seq} +FLAGS ({rnd.choice(flags)})").untagged)
        elif op == "unflag" and n:
            a.apply(a.r.ok(f"STORE {seq}:* -FLAGS ({rnd.choice(flags)})").untagged)
        elif op == "append":
            a.apply(a.r.ok('APPEND "Sync" {}', message(f"sync-new{step}")).untagged)
        elif op == "expunge" and n:
            a.apply(a.r.ok(f"STORE {seq} +FLAGS (\\Deleted)").untagged)
            a.apply(a.r.ok("EXPUNGE").untagged)
        elif op == "move" and n:
            a.apply(a.r.ok(f"MOVE {seq} INBOX").untagged)
        a.noop()
        if step % 3 == 2:
            b.noop()
            assert b.msgs == a.msgs == truth(daemon, "Sync"), step
    b.noop()
    assert b.msgs == truth(daemon, "Sync")
    assert len(b.msgs) > 10
    a.r.close()
    b.r.close()


def test_condstore_modseq_and_deleted_mailbox(daemon):
    """Flag changes carry their MODSEQ after ENABLE CONDSTORE; a mailbox
    deleted under a selected session is seen as every message expunged."""
    a = logged_in(daemon)
    a.ok('CREATE "Gone"')
    uids = [append(a, "Gone", message(f"gone{i}")) for i in range(3)]
    b = logged_in(daemon)
    b.ok("ENABLE CONDSTORE")
    b.ok('SELECT "Gone"')
    a.ok("ENABLE CONDSTORE")
    a.ok('SELECT "Gone"')
    rep = a.ok(f"UID STORE {uids[1]} +FLAGS ($Mark)")
    modseq = fetch_items(rep.untagged)[2]["MODSEQ"]
    f = fetch_items(b.ok("NOOP").untagged)
    assert list(f) == [2]
    assert f[2]["MODSEQ"] == modseq and "$Mark" in f[2]["FLAGS"]
    a.ok("UNSELECT")
    a.ok('DELETE "Gone"')
    rep = b.ok("NOOP")
    assert [x for x in rep.untagged if x.endswith(b"EXPUNGE")] == \
        [b"* 3 EXPUNGE", b"* 2 EXPUNGE", b"* 1 EXPUNGE"]
    a.close()
    b.close()
