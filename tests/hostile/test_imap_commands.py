"""The audit of issue 10 beside the LIST patterns: IMAP commands whose work
a client (or a sender of mail) can grow faster than its input get the
protocol's limit reply or stay linear, and a second client on the same
(only) I/O thread is served while they run."""
import re

from test_imap import append, logged_in, message
from test_imap_patterns import one_thread, run_while_served  # noqa: F401

LIMIT = ("NO", "LIMIT")


def literal(rep):
    """The first literal of the first untagged response."""
    resp = rep.untagged[0]
    m = re.search(rb"\{(\d+)\}\r\n", resp)
    return resp[m.end():m.end() + int(m.group(1))]


def status(rep):
    return rep.status, rep.code.split(" ")[0]


def test_keyword_bounds(one_thread):
    a = logged_in(one_thread)
    append(a, "INBOX", message("kw"))
    a.ok("SELECT INBOX")
    kws = [f"k{i}" for i in range(65)]
    assert status(a.cmd("STORE 1 +FLAGS (" + " ".join(kws) + ")")) == LIMIT
    # Thousands in one list: read, not deduplicated one by one.
    many = " ".join(f"k{i}" for i in range(8000))
    assert status(a.cmd(f"STORE 1 FLAGS ({many})")) == LIMIT
    a.ok("STORE 1 +FLAGS (" + " ".join(kws[:40]) + ")")
    # 40 + 30 new ones would be 70 on the message.
    rep = a.cmd("STORE 1 +FLAGS (" + " ".join(kws[10:20] + [f"n{i}" for i in range(30)]) + ")")
    assert status(rep) == LIMIT
    a.ok("STORE 1 +FLAGS (" + " ".join(kws[30:64]) + ")")   # 64: fits
    rep = a.cmd("APPEND INBOX (" + " ".join(kws) + ") {}", message("kw2"))
    assert status(rep) == LIMIT
    a.close()


def test_search_bounds_and_sets(one_thread):
    d = one_thread
    a = logged_in(d)
    for i in range(20):
        append(a, "INBOX", message(f"pattern-probe {i}"))
    a.ok("SELECT INBOX")
    assert status(a.cmd("SEARCH " + "SEEN " * 5000 + "ALL")) == LIMIT
    assert status(a.cmd("SEARCH " + "OR BODY x " * 65 + "ALL")) == LIMIT
    assert a.cmd("SEARCH " + "NOT " * 2000 + "ALL").status == "BAD"
    # A sequence set of thousands of ranges, as long as a command allows.
    rep = run_while_served(d, a, b"SEARCH " + b",".join([b"1"] * 30000))
    assert rep.status == "OK" and rep.named("SEARCH") == [b"1"], rep
    rep = run_while_served(d, a, b"UID SEARCH UID " + b",".join([b"1:*"] * 15000))
    assert rep.status == "OK" and len(rep.named("SEARCH")[0].split()) == 20
    rep = a.ok(b"FETCH " + b",".join([b"2,1"] * 15000) + b" (UID)")
    assert len(rep.untagged) == 2, rep
    rep = a.ok(b"UID STORE " + b",".join([b"3,1:2"] * 10000) + b" +FLAGS.SILENT (\\Seen)")
    assert a.ok("SEARCH SEEN").named("SEARCH") == [b"1 2 3"]
    # The longest program allowed, run in slices: answered.
    rep = run_while_served(d, a, b"SEARCH " + b"OR SEEN " * 1000 +
                           b"(" + b"UNSEEN " * 1000 + b"ALL)")
    assert rep.status == "OK", rep
    a.close()


def test_fetch_bounds(one_thread):
    d = one_thread
    a = logged_in(d)
    names = [f"X-Field-{i}" for i in range(5000)]
    head = "".join(f"{n}: {i}\r\n" for i, n in enumerate(names))
    append(a, "INBOX", ("Subject: many fields\r\n" + head + "\r\nbody\r\n").encode())
    a.ok("SELECT INBOX")
    assert status(a.cmd("FETCH 1 (" + " ".join(["UID"] * 65) + ")")) == LIMIT
    a.ok("FETCH 1 (" + " ".join(["UID"] * 64) + ")")
    # 5000 names against 5000 header lines: looked up, not compared pairwise.
    rep = run_while_served(d, a, ("FETCH 1 (BODY.PEEK[HEADER.FIELDS (" +
                                  " ".join(names[::-1]) + ")])").encode())
    assert rep.status == "OK", rep
    body = literal(rep)
    assert body.count(b"\r\n") == 5001 and body.startswith(b"X-Field-0: 0\r\n")
    rep = a.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS.NOT (" + " ".join(names[1:]) + ")])")
    body = literal(rep)
    assert body == b"Subject: many fields\r\nX-Field-0: 0\r\n\r\n", body
    a.close()


def test_hostile_messages(one_thread):
    """What a sender controls: 10 000 MIME parts, Subjects of thousands of
    unclosed encoded words (each '=' used to scan the rest of the header:
    a quarter of a second per message per SORT), thousands of subject
    blobs and of References."""
    d = one_thread
    a = logged_in(d)
    append(a, "INBOX", message("pattern-probe"))
    parts = "".join("--b\r\nContent-Type: text/plain\r\n\r\nx\r\n" for _ in range(10000))
    append(a, "INBOX", ("Subject: parts\r\nMIME-Version: 1.0\r\n"
                        "Content-Type: multipart/mixed; boundary=b\r\n\r\n" +
                        parts + "--b--\r\n").encode())
    words = "=?a?Q?x" * 8500
    for i in range(60):
        append(a, "INBOX", f"Subject: {words}\r\n\r\nbody {i}\r\n".encode())
    blobs = "[x]" * 15000
    for i in range(3):
        refs = " ".join(f"<r{k}@x>" for k in range(i, 3000 + i))
        append(a, "INBOX", (f"Subject: {blobs}\r\nMessage-ID: <m{i}@x>\r\n"
                            f"References: {refs}\r\n\r\nbody\r\n").encode())
    a.ok("SELECT INBOX")
    rep = run_while_served(d, a, b"FETCH 2 (BODYSTRUCTURE)")
    assert rep.status == "OK" and b"BODYSTRUCTURE" in rep.untagged[0]
    rep = run_while_served(d, a, b"SORT (SUBJECT) UTF-8 ALL")
    assert rep.status == "OK", rep
    rep = run_while_served(d, a, b"THREAD REFERENCES UTF-8 ALL")
    assert rep.status == "OK", rep
    (line,) = rep.named("THREAD")
    assert re.search(rb"\(63 64 65\)|\(\(63\)\(64\)\(65\)\)", line), line
    rep = run_while_served(d, a, b"THREAD ORDEREDSUBJECT UTF-8 ALL")
    assert rep.status == "OK", rep
    a.close()
