"""Message bytes read by range: FETCH of headers, parts, MIME headers,
partials and BINARY, and POP3 TOP, on large multipart messages delivered
over SMTP (a Received: prefix shifts every offset) and APPENDed, return
exactly the slices of BODY[] / RETR; and a header fetch of a 20 MB message
does not read its body (the daemon's peak memory does not move)."""
import base64
import poplib
import random
import smtplib
import time

from test_imap import USER, PASSWORD, append, fetch_items, logged_in

poplib._MAXLINE = 1 << 20   # the X-Long header line is longer than its 2048

RNG = random.Random(12)
BINARY = bytes(RNG.getrandbits(8) for _ in range(1_500_000))
B64 = base64.encodebytes(BINARY).replace(b"\n", b"\r\n")
LONG_TEXT = b"".join(b"line %07d of the last part, plain text\r\n" % i
                     for i in range(60_000))
INNER_MSG = (b"From: Inner <inner@example.org>\r\n"
             b"Subject: inner message\r\n"
             b"Content-Type: multipart/alternative; boundary=\"in\"\r\n"
             b"\r\n"
             b"--in\r\n"
             b"Content-Type: text/plain\r\n"
             b"\r\n"
             b"inner plain\r\n"
             b"--in\r\n"
             b"Content-Type: text/html\r\n"
             b"\r\n"
             b"<p>inner html</p>\r\n"
             b"--in--\r\n")
PARTS = [
    (b"Content-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: quoted-printable\r\n", b"K=C3=A4the, first part.\r\n"),
    (b"Content-Type: application/octet-stream; name=\"r.bin\"\r\n"
     b"Content-Transfer-Encoding: base64\r\n", B64),
    (b"Content-Type: message/rfc822\r\n", INNER_MSG),
    (b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n", LONG_TEXT),
]
HEADER = (b"From: Alice <alice@example.org>\r\n"
          b"To: Demo <demo@localhost>\r\n"
          b"Subject: a large multipart message\r\n"
          b"X-Long: " + b"x" * 3000 + b"\r\n"
          b"Date: Mon, 02 Nov 2026 10:00:00 +0100\r\n"
          b"Message-ID: <big-multi@example.org>\r\n"
          b"MIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=\"b0\"\r\n"
          b"\r\n")
MSG = HEADER + b"preamble\r\n" + b"".join(
    b"--b0\r\n" + h + b"\r\n" + body + b"\r\n" for h, body in PARTS) + b"--b0--\r\n"


def fetch_one(r, items):
    return fetch_items(r.ok(f"UID FETCH {r.uid} {items}").untagged)


def header_fields(header, names, keep):
    """HEADER.FIELDS of an unfolded-only header: the listed lines, CRLF."""
    out = b""
    for line in header.split(b"\r\n")[:-2]:
        name = line.split(b":", 1)[0].strip().lower()
        if (name in names) == keep:
            out += line + b"\r\n"
    return out + b"\r\n"


def check_sections(r):
    whole = fetch_one(r, "BODY.PEEK[]")
    whole = list(whole.values())[0]["BODY[]"]
    hdr_end = whole.index(b"\r\n\r\n") + 4
    header, text = whole[:hdr_end], whole[hdr_end:]
    assert whole.endswith(MSG)
    want = {
        "BODY[HEADER]": header,
        "BODY[TEXT]": text,
        "RFC822.HEADER": header,
        "BODY[HEADER.FIELDS (FROM SUBJECT)]": header_fields(header, {b"from", b"subject"}, True),
        "BODY[HEADER.FIELDS.NOT (FROM SUBJECT X-LONG)]":
            header_fields(header, {b"from", b"subject", b"x-long"}, False),
        "BODY[1]": PARTS[0][1],
        "BODY[1.MIME]": PARTS[0][0] + b"\r\n",
        "BODY[2]": B64,
        "BODY[2.MIME]": PARTS[1][0] + b"\r\n",
        "BODY[3]": INNER_MSG,
        "BODY[3.HEADER]": INNER_MSG[:INNER_MSG.index(b"\r\n\r\n") + 4],
        "BODY[3.1]": b"inner plain",
        "BODY[3.2]": b"<p>inner html</p>",
        "BODY[4]": LONG_TEXT,
        "BODY[5]": b"",
        "BODY[2]<0>": B64[:1024],
        "BODY[2]<1000000>": B64[1000000:1005000],
        "BODY[4]<%d>" % (len(LONG_TEXT) - 10): LONG_TEXT[-10:],
        "BODY[4]<%d>" % (len(LONG_TEXT) + 5): b"",
        "BODY[]<%d>" % (len(whole) - 7): whole[-7:],
        "BODY[]<0>": whole[:1],
        "BODY[HEADER.FIELDS (SUBJECT)]<3>": header_fields(header, {b"subject"}, True)[3:13],
        "BINARY[2]": BINARY,
        "BINARY[2]<100>": BINARY[100:150],
        "BINARY.SIZE[2]": str(len(BINARY)),
        "BINARY[4]<5>": LONG_TEXT[5:25],
        "BINARY.SIZE[4]": str(len(LONG_TEXT)),
        "BINARY[1]": "Käthe, first part.\r\n".encode(),
    }
    items = ("BODY.PEEK[HEADER] BODY.PEEK[TEXT] RFC822.HEADER "
             "BODY.PEEK[HEADER.FIELDS (From Subject)] "
             "BODY.PEEK[HEADER.FIELDS.NOT (From Subject X-Long)] "
             "BODY.PEEK[1] BODY.PEEK[1.MIME] BODY.PEEK[2] BODY.PEEK[2.MIME] "
             "BODY.PEEK[3] BODY.PEEK[3.HEADER] BODY.PEEK[3.1] BODY.PEEK[3.2] "
             "BODY.PEEK[4] BODY.PEEK[5] BODY.PEEK[2]<0.1024> "
             "BODY.PEEK[2]<1000000.5000> "
             "BODY.PEEK[4]<%d.100> BODY.PEEK[4]<%d.100> BODY.PEEK[]<%d.100> "
             "BODY.PEEK[]<0.1> BODY.PEEK[HEADER.FIELDS (Subject)]<3.10> "
             "BINARY.PEEK[2] BINARY.PEEK[2]<100.50> BINARY.SIZE[2] "
             "BINARY.PEEK[4]<5.20> BINARY.SIZE[4] BINARY.PEEK[1]"
             % (len(LONG_TEXT) - 10, len(LONG_TEXT) + 5, len(whole) - 7))
    got = list(fetch_one(r, f"({items})").values())[0]
    for key, value in want.items():
        v = got[key]
        assert v == value, (key, len(v), len(value), v[:80], value[:80])
        if isinstance(value, bytes) and key.startswith("BODY[") and "FIELDS" not in key:
            assert value in whole, key   # a slice of the message as stored
    return whole


def test_sections_of_large_multipart(daemon):
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=30) as s:
        s.sendmail("alice@example.org", [USER], MSG)
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    r.uid = 1
    smtp_whole = check_sections(r)
    assert smtp_whole.startswith(b"Return-Path: <alice@example.org>\r\n")
    r.uid = append(r, "INBOX", MSG)
    assert check_sections(r) == MSG
    # several messages, each section by range, in one FETCH
    got = fetch_items(r.ok("FETCH 1:2 (BODY.PEEK[2]<7.9> BODY.PEEK[3.1])").untagged)
    for seq in (1, 2):
        assert got[seq]["BODY[2]<7>"] == B64[7:16]
        assert got[seq]["BODY[3.1]"] == b"inner plain"

    # POP3 TOP: the header and n body lines, as RETR has them
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=30)
    p.user(USER)
    p.pass_(PASSWORD)
    for num in (1, 2):
        full = p.retr(num)[1]
        blank = full.index(b"")
        for n in (0, 1, 5, 40_000, 10_000_000):
            top = p.top(num, n)[1]
            assert top == full[:blank + 1 + n], (num, n, len(top))
    p.quit()


def vm_hwm(pid):
    with open(f"/proc/{pid}/status") as fh:
        return int([l for l in fh if l.startswith("VmHWM:")][0].split()[1])


def test_header_fetch_reads_no_body(daemon):
    """A FETCH of the header and a small part range, and a POP3 TOP, of a
    20 MB message on a fresh daemon: its peak memory stays put (reading
    the whole blob took it up by twice the message)."""
    body = b"".join(b"%08d the body of a large message, never read\r\n" % i
                    for i in range(400_000))
    msg = (b"From: Alice <alice@example.org>\r\nTo: demo@localhost\r\n"
           b"Subject: large\r\n\r\n" + body)
    assert len(msg) > 19_000_000
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=60) as s:
        s.sendmail("alice@example.org", [USER], msg)
    # the search index reads the whole message once, in the background:
    # let it finish first
    deadline = time.monotonic() + 60
    while True:
        if daemon.sql("SELECT count(*) FROM search_pending") == [(0,)]:
            break
        assert time.monotonic() < deadline, "search index not done in 60 s"
        time.sleep(0.1)
    assert daemon.stop() == 0
    daemon.start()
    pid = daemon.proc.pid
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    p = poplib.POP3("127.0.0.1", daemon.port("pop3"), timeout=30)
    p.user(USER)
    p.pass_(PASSWORD)
    before = vm_hwm(pid)
    got = fetch_items(r.ok("FETCH 1 (BODY.PEEK[HEADER.FIELDS (From Subject)] "
                           "BODY.PEEK[HEADER] BODY.PEEK[1]<100.20> "
                           "BODY.PEEK[TEXT]<1000000.10>)").untagged)[1]
    assert got["BODY[HEADER.FIELDS (FROM SUBJECT)]"] == (
        b"From: Alice <alice@example.org>\r\nSubject: large\r\n\r\n")
    assert got["BODY[1]<100>"] == body[100:120]
    assert got["BODY[TEXT]<1000000>"] == body[1000000:1000010]
    assert p.top(1, 2)[1][-2:] == body.split(b"\r\n")[:2]
    grown = vm_hwm(pid) - before
    p.quit()
    r.ok("LOGOUT")
    assert grown < 8 * 1024, f"peak memory grew by {grown} KiB"
