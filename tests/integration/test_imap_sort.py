"""IMAP SORT and UID SORT (RFC 5256, RFC 5957 DISPLAYFROM/DISPLAYTO) with
imaplib against a real posthornd."""
import imaplib
import smtplib

import pytest

USER, PASSWORD = "demo@localhost", "demo"

# subject, From, Date, body padding (size), Cc
MESSAGES = [
    ("Re: banana", "Zed <zed@x.org>", "Wed, 3 Jan 2024 10:00:00 +0000", 300, None),
    ("=?UTF-8?Q?=C3=84pfel?=", "=?UTF-8?Q?=C3=84rger?= <amy@y.org>",
     "Mon, 1 Jan 2024 23:00:00 -0500", 100, "x@c.org"),
    ("[list] Fwd: cherry", "bob@z.org", "Tue, 2 Jan 2024 10:00:00 +0000", 200, None),
    ("apple (fwd)", "Carl <carl@w.org>", "Sun, 31 Dec 2023 10:00:00 +0000", 400, None),
]


def message(subject, sender, date, pad, cc):
    head = f"From: {sender}\r\nTo: demo@localhost\r\nSubject: {subject}\r\nDate: {date}\r\n"
    if cc:
        head += f"Cc: {cc}\r\n"
    return (head + "\r\n" + "x" * pad + "\r\n").encode()


@pytest.fixture
def mailbox(daemon):
    m = imaplib.IMAP4("127.0.0.1", daemon.port("imap"), timeout=10)
    m.login(USER, PASSWORD)
    for fields in MESSAGES:
        assert m.append("INBOX", None, None, message(*fields))[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    yield m
    m.logout()


def sort(m, criteria, *search, uid=False):
    if uid:
        typ, data = m.uid("SORT", criteria, "UTF-8", *(search or ("ALL",)))
    else:
        typ, data = m.sort(criteria, "UTF-8", *(search or ("ALL",)))
    assert typ == "OK", data
    return [int(x) for x in data[0].split()]


def test_sort_is_advertised(mailbox):
    caps = mailbox.capability()[1][0].decode().split()
    assert "SORT" in caps and "SORT=DISPLAY" in caps


def test_sort_keys(mailbox):
    m = mailbox
    # base subjects: banana, äpfel, cherry, apple; i;unicode-casemap
    # decomposes "Ä" into "A" and a mark, so äpfel sorts after apple
    assert sort(m, "(SUBJECT)") == [4, 2, 1, 3]
    # sent dates in UTC: 3 Jan, 2 Jan 04:00, 2 Jan 10:00, 31 Dec
    assert sort(m, "(DATE)") == [4, 2, 3, 1]
    assert sort(m, "(REVERSE DATE)") == [1, 3, 2, 4]
    assert sort(m, "(SIZE)") == [2, 3, 1, 4]
    # From mailboxes zed, amy, bob, carl; display names zed, ärger (with
    # the As), bob@z.org, carl
    assert sort(m, "(FROM)") == [2, 3, 4, 1]
    assert sort(m, "(DISPLAYFROM)") == [2, 3, 4, 1]
    # only 2 has a Cc: the others tie on "" and keep their order
    assert sort(m, "(CC)") == [1, 3, 4, 2]
    assert sort(m, "(REVERSE CC)") == [2, 1, 3, 4]
    # all arrived in order
    assert sort(m, "(ARRIVAL)") == [1, 2, 3, 4]
    assert sort(m, "(TO SIZE)") == [2, 3, 1, 4]


def test_sort_with_search_keys_and_uids(mailbox):
    m = mailbox
    typ, data = m.fetch("1:*", "(RFC822.SIZE)")
    sizes = {int(d.split()[0]): int(d.split()[2].rstrip(b")")) for d in data}
    cut = sorted(sizes.values())[1]
    assert sort(m, "(SUBJECT)", "LARGER", str(cut)) == \
        [n for n in [4, 2, 1, 3] if sizes[n] > cut]
    assert sort(m, "(DATE)", "OR", "FROM", "zed", "FROM", "bob") == [3, 1]
    assert sort(m, "(SUBJECT)", "SUBJECT", "nothing-like-this") == []
    # UIDs differ from sequence numbers once a message is expunged
    m.store("1", "+FLAGS", "\\Deleted")
    m.expunge()
    assert sort(m, "(SUBJECT)") == [3, 1, 2]
    assert sort(m, "(SUBJECT)", uid=True) == [4, 2, 3]


def test_sort_errors_keep_the_session(mailbox):
    m = mailbox
    typ, data = m._simple_command("SORT", "(SUBJECT)", "KOI8-R", "ALL")
    assert typ == "NO" and b"[BADCHARSET" in data[0], data
    for bad in [("(BOGUS)", "UTF-8", "ALL"), ("SUBJECT", "UTF-8", "ALL"),
                ("(SUBJECT)", "UTF-8", "BOGUSKEY"), ("(REVERSE)", "UTF-8", "ALL")]:
        with pytest.raises(imaplib.IMAP4.error, match="BAD"):
            m._simple_command("SORT", *bad)
    assert sort(m, "(SIZE)") == [2, 3, 1, 4]


def test_sort_not_before_select(daemon):
    m = imaplib.IMAP4("127.0.0.1", daemon.port("imap"), timeout=10)
    m.login(USER, PASSWORD)
    with pytest.raises(imaplib.IMAP4.error):
        m.sort("(DATE)", "UTF-8", "ALL")
    m.logout()


def test_sort_sees_smtp_delivery(mailbox, daemon):
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        s.sendmail("a@example.org", ["demo@localhost"],
                   message("Aardvark", "Abe <abe@a.org>",
                           "Mon, 1 Jan 2024 00:00:00 +0000", 10, None))
    mailbox.noop()
    assert sort(mailbox, "(SUBJECT)") == [5, 4, 2, 1, 3]


def thread_message(mid, subject, date, refs=(), in_reply_to=None):
    head = (f"From: a@example.org\r\nTo: demo@localhost\r\nSubject: {subject}\r\n"
            f"Date: {date}\r\nMessage-ID: <{mid}>\r\n")
    if refs:
        head += "References: " + "\r\n ".join(f"<{r}>" for r in refs) + "\r\n"
    if in_reply_to:
        head += f"In-Reply-To: <{in_reply_to}>\r\n"
    return (head + "\r\nbody\r\n").encode()


THREAD_MESSAGES = [
    thread_message("a@x", "Hello", "Mon, 1 Jan 2024 10:00:00 +0000"),
    thread_message("b@x", "Re: Hello", "Mon, 1 Jan 2024 11:00:00 +0000", refs=["a@x"]),
    thread_message("c@x", "Other", "Mon, 1 Jan 2024 09:00:00 +0000"),
    # only In-Reply-To: linked to its parent through it
    thread_message("d@x", "Re: Hello", "Mon, 1 Jan 2024 12:00:00 +0000", in_reply_to="b@x"),
    thread_message("e@x", "Re: Hello", "Mon, 1 Jan 2024 13:00:00 +0000", refs=["a@x"]),
    # two replies to a message that is not in the mailbox
    thread_message("f@x", "Re: lost", "Mon, 1 Jan 2024 14:00:00 +0000", refs=["gone@x"]),
    thread_message("g@x", "Re: lost", "Mon, 1 Jan 2024 15:00:00 +0000", refs=["gone@x"]),
]


@pytest.fixture
def threads_mailbox(daemon):
    m = imaplib.IMAP4("127.0.0.1", daemon.port("imap"), timeout=10)
    m.login(USER, PASSWORD)
    for data in THREAD_MESSAGES:
        assert m.append("INBOX", None, None, data)[0] == "OK"
    assert m.select("INBOX")[0] == "OK"
    yield m
    m.logout()


def thread(m, algorithm, *search, uid=False):
    args = ("THREAD", algorithm, "UTF-8") + (search or ("ALL",))
    typ, data = m.uid(*args) if uid else m._simple_command(*args)
    assert typ == "OK", data
    return m.untagged_responses.pop("THREAD", [b""])[0].decode() if not uid else data[0].decode()


def test_thread_is_advertised(threads_mailbox):
    caps = threads_mailbox.capability()[1][0].decode().split()
    assert "THREAD=REFERENCES" in caps and "THREAD=ORDEREDSUBJECT" in caps


def test_thread_references(threads_mailbox):
    assert thread(threads_mailbox, "REFERENCES") == "(3)(1 (2 4)(5))((6)(7))"


def test_thread_orderedsubject(threads_mailbox):
    assert thread(threads_mailbox, "ORDEREDSUBJECT") == "(3)(1 (2)(4)(5))(6 7)"


def test_thread_search_uid_and_errors(threads_mailbox):
    m = threads_mailbox
    assert thread(m, "REFERENCES", "SUBJECT", "lost") == "((6)(7))"
    assert thread(m, "REFERENCES", "SUBJECT", "nothing-like-this") == ""
    m.store("3", "+FLAGS", "\\Deleted")
    m.expunge()
    # sequence numbers moved down by one; UIDs did not
    assert thread(m, "REFERENCES") == "(1 (2 3)(4))((5)(6))"
    assert thread(m, "REFERENCES", uid=True) == "(1 (2 4)(5))((6)(7))"
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        m._simple_command("THREAD", "BOGUS", "UTF-8", "ALL")
    typ, data = m._simple_command("THREAD", "REFERENCES", "KOI8-R", "ALL")
    assert typ == "NO" and b"[BADCHARSET" in data[0]
    assert m.noop()[0] == "OK"
