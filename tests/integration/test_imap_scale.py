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
