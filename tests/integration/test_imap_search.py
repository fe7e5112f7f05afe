"""IMAP SEARCH against a real posthornd: every search key of RFC 3501 and
RFC 9051 over five APPENDed messages with known flags, dates, headers and
bodies; case-insensitive non-ASCII matches over decoded text (RFC 2047
encoded words, base64 and quoted-printable bodies, ISO-8859-1), CHARSET
UTF-8 and BADCHARSET, ESEARCH RETURN options, MODSEQ, and mail that came
in over SMTP."""
import re

import pytest

from test_imap import append, fetch_items, logged_in, message, smtp_deliver

FILLER = "".join(f"filler line {i:04d} of the long message body\r\n" for i in range(250))

MESSAGES = [
    # 1
    (b"From: Alice <alice@example.org>\r\n"
     b"To: demo@localhost\r\n"
     b"Subject: Quarterly report\r\n"
     b"Date: Sat, 20 Dec 2025 09:00:00 +0000\r\n"
     b"Message-ID: <s1@example.org>\r\n"
     b"\r\n"
     b"Plain body with needle-one inside.\r\n",
     "\\Seen \\Answered", "01-Jan-2026 12:00:00 +0000"),
    # 2
    (b"From: Bob <bob@example.net>\r\n"
     b"To: Carol <carol@example.net>\r\n"
     b"Cc: dave@example.com\r\n"
     b"Bcc: eve@example.com\r\n"
     b"Subject: =?ISO-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=\r\n"
     b"Date: Sun, 15 Feb 2026 09:00:00 +0000\r\n"
     b"Message-ID: <s2@example.org>\r\n"
     b"MIME-Version: 1.0\r\n"
     b"Content-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: base64\r\n"
     b"\r\n"
     b"RGllIFN0cmHDn2UgaXN0IMOcQkVSIGFsbGVzIHNjaMO2bi4NCg==\r\n",
     "\\Flagged $Work", "15-Feb-2026 12:00:00 +0000"),
    # 3
    (b"From: carol@example.com\r\n"
     b"To: demo@localhost\r\n"
     b"Subject: Meeting notes\r\n"
     b"X-Custom: hello-header\r\n"
     b"Date: Tue, 10 Mar 2026 09:00:00 +0000\r\n"
     b"Message-ID: <s3@example.org>\r\n"
     b"\r\n" + FILLER.encode() + b"the word needle-three is here\r\n",
     "\\Deleted \\Draft", "10-Mar-2026 12:00:00 +0000"),
    # 4
    (("From: dave@example.com\r\n"
     "Subject: ÄRGER mit Umlauten\r\n"
     "Date: Tue, 10 Mar 2026 20:00:00 +0000\r\n"
     "Message-ID: <s4@example.org>\r\n"
     "MIME-Version: 1.0\r\n"
     "Content-Type: text/plain; charset=iso-8859-1\r\n"
     "Content-Transfer-Encoding: quoted-printable\r\n"
     "\r\n"
     "Un caf=E9 noir.\r\n").encode(),
     "", "10-Mar-2026 12:00:00 +0000"),
    # 5
    (b"From: =?UTF-8?Q?J=C3=BCrgen?= <eve@example.org>\r\n"
     b"Subject: plain\r\n"
     b"Date: Thu, 12 Mar 2026 09:00:00 +0000\r\n"
     b"Message-ID: <s5@example.org>\r\n"
     b"\r\n"
     b"nothing special\r\n",
     "", "12-Mar-2026 12:00:00 +0000"),
]


@pytest.fixture
def box(daemon):
    r = logged_in(daemon)
    uids = [append(r, "INBOX", m, flags=f, date=d) for m, f, d in MESSAGES]
    r.ok("SELECT INBOX")
    yield r, uids
    r.close()


def search_uids(r, criteria, *literals, plus=False):
    rep = r.cmd(f"UID SEARCH {criteria}", *[x.encode() for x in literals], plus=plus)
    assert rep.status == "OK", (criteria, rep)
    lines = rep.named("SEARCH")
    assert lines, rep
    out = []
    for x in lines:
        out += [int(t) for t in re.sub(rb"\(MODSEQ \d+\)", b"", x).split()]
    return set(out)


def which(uids, result):
    """1-based message numbers (in MESSAGES) of a UID set."""
    return {uids.index(u) + 1 for u in result}


CASES = [
    ("ALL", {1, 2, 3, 4, 5}),
    ("ANSWERED", {1}), ("UNANSWERED", {2, 3, 4, 5}),
    ("DELETED", {3}), ("UNDELETED", {1, 2, 4, 5}),
    ("DRAFT", {3}), ("UNDRAFT", {1, 2, 4, 5}),
    ("FLAGGED", {2}), ("UNFLAGGED", {1, 3, 4, 5}),
    ("SEEN", {1}), ("UNSEEN", {2, 3, 4, 5}),
    ("KEYWORD $Work", {2}), ("UNKEYWORD $Work", {1, 3, 4, 5}),
    ("KEYWORD $Nothing", set()),
    ("FROM alice", {1}), ('FROM "EXAMPLE.NET"', {2}), ("FROM bob", {2}),
    ("TO carol", {2}), ("TO demo", {1, 3}), ("CC dave", {2}), ("BCC eve", {2}),
    ("SUBJECT report", {1}), ('SUBJECT "REPORT"', {1}), ('SUBJECT "ly rep"', {1}),
    ("HEADER X-Custom hello", {3}), ('HEADER X-Custom ""', {3}),
    ('HEADER Message-ID "<s2@"', {2}),
    ("BODY needle-one", {1}), ("BODY Quarterly", set()), ("TEXT Quarterly", {1}),
    ("TEXT hello-header", {3}), ("TEXT needle-three", {3}),
    ("LARGER 5000", {3}), ("SMALLER 5000", {1, 2, 4, 5}),
    ("BEFORE 1-Feb-2026", {1}), ("BEFORE 1-Jan-2026", set()),
    ("SINCE 10-Mar-2026", {3, 4, 5}), ("ON 10-Mar-2026", {3, 4}), ("ON 1-Jan-2026", {1}),
    ("SENTBEFORE 1-Jan-2026", {1}), ("SENTON 10-Mar-2026", {3, 4}),
    ("SENTSINCE 11-Mar-2026", {5}), ("SENTON 1-Jan-2026", set()),
    ("2:3", {2, 3}), ("4:*", {4, 5}), ("1,5", {1, 5}),
    ("NOT SEEN", {2, 3, 4, 5}), ("OR FLAGGED DRAFT", {2, 3}),
    ("(FROM alice SEEN)", {1}), ("FROM alice UNSEEN", set()),
    ("NOT (OR ANSWERED DELETED)", {2, 4, 5}),
    ("OR (SUBJECT report) (OR BODY needle-three KEYWORD $Work)", {1, 2, 3}),
]


@pytest.mark.parametrize("criteria,expect", CASES, ids=[c for c, _ in CASES])
def test_search_key(box, criteria, expect):
    r, uids = box
    assert which(uids, search_uids(r, criteria)) == expect


def test_search_uid_key_and_plain_search(box):
    r, uids = box
    assert which(uids, search_uids(r, f"UID {uids[1]}:{uids[2]}")) == {2, 3}
    rep = r.ok("SEARCH FLAGGED")  # sequence numbers
    assert rep.named("SEARCH") == [b"2"]
    rep = r.ok("SEARCH KEYWORD $Nothing")
    assert [x for x in rep.untagged if x.upper().rstrip() == b"* SEARCH"]


UTF8_CASES = [
    ("SUBJECT {}", ["köln"], {2}),          # RFC 2047 Q, ISO-8859-1
    ("SUBJECT {}", ["GRÜ"], {2}),           # upper case finds lower case
    ("SUBJECT {}", ["ärger"], {4}),         # raw UTF-8 header, lower finds upper
    ("SUBJECT {}", ["ÄRGER"], {4}),
    ("BODY {}", ["über"], {2}),             # base64 body, utf-8
    ("BODY {}", ["SCHÖN"], {2}),
    ("BODY {}", ["CAFÉ"], {4}),             # quoted-printable, ISO-8859-1
    ("TEXT {}", ["café noir"], {4}),
    ("FROM {}", ["jürgen"], {5}),           # encoded word in a display name
    ("BODY {}", ["ärger"], set()),          # only in the header
]


@pytest.mark.parametrize("criteria,lits,expect", UTF8_CASES,
                         ids=[f"{c}-{l[0]}" for c, l, _ in UTF8_CASES])
def test_search_charset_utf8(box, criteria, lits, expect):
    r, uids = box
    assert which(uids, search_uids(r, "CHARSET UTF-8 " + criteria, *lits)) == expect


def test_search_utf8_literal_plus_and_quoted(box):
    r, uids = box
    assert which(uids, search_uids(r, "CHARSET UTF-8 BODY {}", "über", plus=True)) == {2}
    rep = r.cmd('UID SEARCH CHARSET UTF-8 SUBJECT "köln"'.encode())
    # RFC 9051 allows UTF-8 in quoted strings; RFC 3501 does not: either a
    # match or a BAD, never a wrong answer.
    if rep.status == "OK":
        assert which(uids, {int(t) for x in rep.named("SEARCH") for t in x.split()}) == {2}
    else:
        assert rep.status == "BAD"


def test_badcharset(box):
    r, _ = box
    rep = r.cmd("SEARCH CHARSET X-NO-SUCH-CHARSET SUBJECT foo")
    assert rep.status == "NO"
    assert rep.code.upper().startswith("BADCHARSET"), rep
    # the list of supported charsets includes UTF-8
    if "(" in rep.code:
        assert "UTF-8" in rep.code.upper()
    assert which(box[1], search_uids(r, "CHARSET US-ASCII SUBJECT report")) == {1}


def test_search_recent_new_old(daemon):
    a = logged_in(daemon)
    for i in range(2):
        append(a, "INBOX", message(f"rec{i}"))
    b = logged_in(daemon)
    rep = b.ok("SELECT INBOX")
    recent = [int(x.split()[1]) for x in rep.untagged if x.endswith(b" RECENT")]
    rset = {int(t) for x in b.ok("SEARCH RECENT").named("SEARCH") for t in x.split()}
    new = {int(t) for x in b.ok("SEARCH NEW").named("SEARCH") for t in x.split()}
    old = {int(t) for x in b.ok("SEARCH OLD").named("SEARCH") for t in x.split()}
    assert recent and len(rset) == recent[0]
    assert new == rset  # nothing is \Seen
    assert old == {1, 2} - rset
    # The first session to see new mail gets \Recent: b did.
    assert rset == {1, 2}
    c = logged_in(daemon)
    c.ok("SELECT INBOX")
    assert not {t for x in c.ok("SEARCH RECENT").named("SEARCH") for t in x.split()}
    for s in (a, b, c):
        s.close()


def test_search_modseq(box):
    r, uids = box
    r.ok("ENABLE CONDSTORE")
    r.ok(f"UID STORE {uids[4]} +FLAGS.SILENT ($Later)")
    f = fetch_items(r.ok(f"UID FETCH {uids[4]} MODSEQ").untagged)
    (item,) = f.values()
    ms = int(item["MODSEQ"][0])
    rep = r.ok(f"UID SEARCH MODSEQ {ms}")
    (line,) = rep.named("SEARCH")
    assert line.split()[0] == str(uids[4]).encode()
    assert re.search(rb"\(MODSEQ " + str(ms).encode() + rb"\)$", line)
    assert which(uids, search_uids(r, f"MODSEQ {ms + 1}")) == set()


def test_esearch_return_options(box):
    r, uids = box
    rep = r.ok("UID SEARCH RETURN (MIN MAX COUNT ALL) UNSEEN")
    (es,) = rep.named("ESEARCH")
    tag = rep.tag.encode()
    m = re.match(rb'\(TAG "' + tag + rb'"\) UID (.*)$', es)
    assert m, es
    fields = m.group(1).split()
    d = {fields[k].decode().upper(): fields[k + 1].decode() for k in range(0, len(fields), 2)}
    assert int(d["MIN"]) == uids[1] and int(d["MAX"]) == uids[4]
    assert int(d["COUNT"]) == 4
    expanded = set()
    for part in d["ALL"].split(","):
        a, _, b = part.partition(":")
        expanded |= set(range(int(a), int(b or a) + 1))
    assert expanded == set(uids[1:])
    rep = r.ok("SEARCH RETURN (COUNT) DELETED")
    (es,) = rep.named("ESEARCH")
    assert es.endswith(b" COUNT 1") and b" UID " not in es
    rep = r.ok("SEARCH RETURN () FLAGGED")  # () means ALL
    (es,) = rep.named("ESEARCH")
    assert es.endswith(b" ALL 2")
    rep = r.ok("SEARCH RETURN (MIN MAX) KEYWORD $Nothing")
    (es,) = rep.named("ESEARCH")
    assert b"MIN" not in es and b"MAX" not in es  # nothing found: no MIN/MAX
    assert not rep.named("SEARCH")


def test_search_index_sees_smtp_delivery_and_expunge(daemon):
    smtp_deliver(daemon, message("idx1", body="the word zanzibarite appears\r\n"),
                 message("idx2", body="nothing here\r\n"))
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    assert r.ok("SEARCH BODY ZANZIBARITE").named("SEARCH") == [b"1"]
    assert r.ok("SEARCH TEXT zanzibar").named("SEARCH") == [b"1"]
    r.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r.ok("EXPUNGE")
    rep = r.ok("SEARCH BODY zanzibarite")
    assert [x for x in rep.untagged if x.rstrip() == b"* SEARCH"]
    r.close()


def test_search_bad_syntax(box):
    r, _ = box
    for bad in ("SEARCH FROM", "SEARCH NOSUCHKEY", "SEARCH BEFORE 1-Foo-2026",
                "SEARCH OR SEEN", "SEARCH (SEEN", "SEARCH LARGER x"):
        assert r.cmd(bad).status == "BAD", bad
