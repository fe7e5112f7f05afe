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
