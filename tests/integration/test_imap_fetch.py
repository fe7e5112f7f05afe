"""IMAP FETCH against a real posthornd: every data item, byte for byte
against the message that was APPENDed or delivered over SMTP: sections,
part numbers, HEADER.FIELDS(.NOT), MIME, partial, BINARY, BINARY.SIZE,
ENVELOPE and BODYSTRUCTURE of a nested multipart, MODSEQ, \\Seen rules."""
import re

from test_imap import (append, fetch_items, instant, logged_in, message, parse_all,
                       smtp_deliver)

PLAIN = b"Hello K=C3=A4the, plain part."
HTML = b"<p>Hello html part</p>"
ATTACH = b"AAECAwQFBgcICQ=="
INNER = (b"--inner\r\n"
         b"Content-Type: text/plain; charset=utf-8\r\n"
         b"Content-Transfer-Encoding: quoted-printable\r\n"
         b"\r\n" + PLAIN + b"\r\n"
         b"--inner\r\n"
         b"Content-Type: text/html; charset=utf-8\r\n"
         b"\r\n" + HTML + b"\r\n"
         b"--inner--\r\n")
HEADER = (b"From: Alice Example <alice@example.org>\r\n"
          b"To: Demo <demo@localhost>, bob@example.org\r\n"
          b"Cc: Carol <carol@example.net>\r\n"
          b"Subject: =?UTF-8?B?R3LDtsOfZQ==?= multipart\r\n"
          b"Date: Mon, 02 Nov 2026 10:00:00 +0100\r\n"
          b"Message-ID: <multi-1@example.org>\r\n"
          b"In-Reply-To: <parent@example.org>\r\n"
          b"MIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n"
          b"\r\n")
TEXT = (b"preamble\r\n"
        b"--outer\r\n"
        b"Content-Type: multipart/alternative; boundary=\"inner\"\r\n"
        b"\r\n" + INNER +
        b"\r\n"
        b"--outer\r\n"
        b"Content-Type: application/octet-stream; name=\"data.bin\"\r\n"
        b"Content-Disposition: attachment; filename=\"data.bin\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n"
        b"\r\n" + ATTACH + b"\r\n"
        b"--outer--\r\n")
MULTI = HEADER + TEXT


def open_multi(daemon):
    r = logged_in(daemon)
    uid = append(r, "INBOX", MULTI, date="02-Nov-2026 10:00:05 +0100")
    append(r, "INBOX", b"Subject: odd\r\nContent-Type: text/plain\r\n"
                       b"Content-Transfer-Encoding: x-rot13\r\n\r\nuryyb\r\n")
    r.ok("SELECT INBOX")
    return r, uid


def one(r, items, seq="1"):
    f = fetch_items(r.ok(f"FETCH {seq} {items}").untagged)
    return f[int(seq)]


def test_whole_message_items(daemon):
    r, uid = open_multi(daemon)
    f = one(r, "(UID FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[] RFC822.HEADER)")
    assert int(f["UID"]) == uid
    assert f["FLAGS"] == []
    assert instant(f["INTERNALDATE"]) == instant("02-Nov-2026 10:00:05 +0100")
    assert int(f["RFC822.SIZE"]) == len(MULTI)
    assert f["BODY[]"] == MULTI
    assert f["RFC822.HEADER"] == HEADER
    assert one(r, "FLAGS")["FLAGS"] == []  # PEEK and RFC822.HEADER: no \Seen
    assert one(r, "RFC822.TEXT")["RFC822.TEXT"] == TEXT
    assert "\\Seen" in one(r, "FLAGS")["FLAGS"]  # RFC822.TEXT sets \Seen
    r.ok("STORE 1 -FLAGS.SILENT (\\Seen)")
    f = one(r, "RFC822")
    assert f["RFC822"] == MULTI
    # The \Seen that RFC822 set is reported in the same or a later response.
    assert "\\Seen" in one(r, "FLAGS")["FLAGS"]
    r.close()


def test_sections_and_part_numbers(daemon):
    r, _ = open_multi(daemon)
    f = one(r, "(BODY.PEEK[HEADER] BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1.1] "
               "BODY.PEEK[1.2] BODY.PEEK[2] BODY.PEEK[1.1.MIME] BODY.PEEK[2.MIME])")
    assert f["BODY[HEADER]"] == HEADER
    assert f["BODY[TEXT]"] == TEXT
    assert f["BODY[1]"] == INNER
    assert f["BODY[1.1]"] == PLAIN
    assert f["BODY[1.2]"] == HTML
    assert f["BODY[2]"] == ATTACH
    assert f["BODY[1.1.MIME]"] == (b"Content-Type: text/plain; charset=utf-8\r\n"
                                   b"Content-Transfer-Encoding: quoted-printable\r\n\r\n")
    assert f["BODY[2.MIME]"].startswith(b"Content-Type: application/octet-stream")
    assert f["BODY[2.MIME]"].endswith(b"Content-Transfer-Encoding: base64\r\n\r\n")
    # A part that does not exist is empty (RFC 3501 6.4.5 lets the
    # server send NIL or an empty string), never an error.
    f = one(r, "BODY.PEEK[3]")
    assert f["BODY[3]"] in (b"", None)
    assert one(r, "FLAGS")["FLAGS"] == []
    r.close()


def test_header_fields_and_not(daemon):
    r, _ = open_multi(daemon)
    f = one(r, "(BODY.PEEK[HEADER.FIELDS (SUBJECT from)] "
               "BODY.PEEK[HEADER.FIELDS.NOT (From To Cc Subject Date Message-ID In-Reply-To)])")
    keys = [k for k in f if k.startswith("BODY[HEADER.FIELDS ")]
    assert len(keys) == 1
    assert f[keys[0]] == (b"From: Alice Example <alice@example.org>\r\n"
                          b"Subject: =?UTF-8?B?R3LDtsOfZQ==?= multipart\r\n\r\n")
    (notkey,) = [k for k in f if k.startswith("BODY[HEADER.FIELDS.NOT")]
    assert f[notkey] == (b"MIME-Version: 1.0\r\n"
                         b"Content-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n")
    f = one(r, "BODY.PEEK[HEADER.FIELDS (X-Not-There)]")
    (k,) = f
    assert f[k] == b"\r\n"
    r.close()


def test_partial(daemon):
    r, _ = open_multi(daemon)
    f = one(r, "(BODY.PEEK[]<0.10> BODY.PEEK[TEXT]<5.20> BODY.PEEK[1.2]<3.1000>)")
    assert f["BODY[]<0>"] == MULTI[:10]
    assert f["BODY[TEXT]<5>"] == TEXT[5:25]
    assert f["BODY[1.2]<3>"] == HTML[3:]
    f = one(r, f"BODY.PEEK[]<{len(MULTI) + 10}.5>")
    assert f[f"BODY[]<{len(MULTI) + 10}>"] == b""
    r.close()


def test_binary_and_binary_size(daemon):
    r, _ = open_multi(daemon)
    f = one(r, "(BINARY.PEEK[2] BINARY.SIZE[2] BINARY.PEEK[1.1] BINARY.SIZE[1.1] "
               "BINARY.PEEK[1.2])")
    assert f["BINARY[2]"] == bytes(range(10))
    assert int(f["BINARY.SIZE[2]"]) == 10
    assert f["BINARY[1.1]"] == "Hello Käthe, plain part.".encode()
    assert int(f["BINARY.SIZE[1.1]"]) == len("Hello Käthe, plain part.".encode())
    assert f["BINARY[1.2]"] == HTML
    f = one(r, "BINARY.PEEK[2]<2.3>")
    assert f["BINARY[2]<2>"] == bytes([2, 3, 4])
    assert one(r, "FLAGS")["FLAGS"] == []
    one(r, "BINARY[1.2]")
    assert "\\Seen" in one(r, "FLAGS")["FLAGS"]
    # an unknown transfer encoding cannot be decoded (RFC 3516 4.3)
    rep = r.cmd("FETCH 2 BINARY.PEEK[1]")
    assert rep.status == "NO" and "UNKNOWN-CTE" in rep.code, rep
    r.close()


def test_binary_literal_with_nul(daemon):
    r = logged_in(daemon)
    msg = (b"From: a@example.org\r\nSubject: nul\r\n"
           b"Content-Type: application/octet-stream\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nAAAAAP8A\r\n")
    append(r, "INBOX", msg)
    r.ok("SELECT INBOX")
    rep = r.ok("FETCH 1 BINARY.PEEK[1]")
    raw = [x for x in rep.untagged if b"FETCH" in x][0]
    assert b"~{6}\r\n" in raw  # RFC 3516: NUL needs a literal8
    assert fetch_items(rep.untagged)[1]["BINARY[1]"] == b"\0\0\0\0\xff\0"
    r.close()


def addr(name, mailbox, host):
    return [name, None, mailbox, host]


def lower(x):
    if isinstance(x, list):
        return [lower(y) for y in x]
    if isinstance(x, (bytes, str)):
        return x.lower()
    return x


def test_envelope(daemon):
    r, _ = open_multi(daemon)
    env = one(r, "ENVELOPE")["ENVELOPE"]
    alice = [addr(b"Alice Example", b"alice", b"example.org")]
    assert env == [
        b"Mon, 02 Nov 2026 10:00:00 +0100",
        b"=?UTF-8?B?R3LDtsOfZQ==?= multipart",
        alice, alice, alice,
        [addr(b"Demo", b"demo", b"localhost"), addr(None, b"bob", b"example.org")],
        [addr(b"Carol", b"carol", b"example.net")],
        None,
        b"<parent@example.org>",
        b"<multi-1@example.org>",
    ]
    r.close()


def test_envelope_group_and_missing_fields(daemon):
    r = logged_in(daemon)
    append(r, "INBOX", b"To: Friends: a@example.org, b@example.org;\r\n"
                       b"Sender: s@example.com\r\n\r\nbody\r\n")
    r.ok("SELECT INBOX")
    env = one(r, "ENVELOPE")["ENVELOPE"]
    date, subject, frm, sender, reply_to, to, cc, bcc, irt, mid = env
    assert date is None and subject is None and frm is None
    assert sender == [addr(None, b"s", b"example.com")]
    # RFC 3501 7.4.2: group syntax as start and end markers
    assert to == [[None, None, b"Friends", None], addr(None, b"a", b"example.org"),
                  addr(None, b"b", b"example.org"), [None, None, None, None]]
    assert cc is None and bcc is None and irt is None and mid is None
    r.close()


def test_bodystructure_and_body(daemon):
    r, _ = open_multi(daemon)
    bs = one(r, "BODYSTRUCTURE")["BODYSTRUCTURE"]
    # (alt-part attachment "MIXED" (params) disposition language location)
    alt, att, subtype = bs[0], bs[1], bs[2]
    assert subtype.lower() == b"mixed"
    assert lower(bs[3]) == [b"boundary", b"outer"]
    plain, html, alt_sub = alt[0], alt[1], alt[2]
    assert alt_sub.lower() == b"alternative"
    assert lower(plain[:6]) == [b"text", b"plain", [b"charset", b"utf-8"], None, None,
                                b"quoted-printable"]
    assert int(plain[6]) == len(PLAIN)
    assert lower(html[:2]) == [b"text", b"html"]
    assert int(html[6]) == len(HTML)
    assert lower(att[:6]) == [b"application", b"octet-stream", [b"name", b"data.bin"],
                              None, None, b"base64"]
    assert int(att[6]) == len(ATTACH)
    # extension data of the single part: md5, disposition
    disp = att[8]
    assert lower(disp) == [b"attachment", [b"filename", b"data.bin"]]
    # BODY is BODYSTRUCTURE without extension data
    body = one(r, "BODY")["BODY"]
    assert body[2].lower() == b"mixed" and len(body) == 3
    assert len(body[1]) == 7  # no md5/disposition in BODY
    r.close()


def test_bodystructure_single_part_lines(daemon):
    r = logged_in(daemon)
    msg = b"Subject: s\r\nContent-Type: text/plain\r\n\r\nline1\r\nline2\r\n"
    append(r, "INBOX", msg)
    r.ok("SELECT INBOX")
    bs = one(r, "BODYSTRUCTURE")["BODYSTRUCTURE"]
    assert lower(bs[:2]) == [b"text", b"plain"]
    assert int(bs[6]) == len(b"line1\r\nline2\r\n") and int(bs[7]) == 2
    r.close()


def test_message_rfc822_part(daemon):
    r = logged_in(daemon)
    inner = b"From: inner@example.org\r\nSubject: inner one\r\n\r\ninner body\r\n"
    msg = (b"From: outer@example.org\r\nSubject: fwd\r\nMIME-Version: 1.0\r\n"
           b"Content-Type: multipart/mixed; boundary=b\r\n\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
           b"--b\r\nContent-Type: message/rfc822\r\n\r\n" + inner +
           b"\r\n--b--\r\n")
    append(r, "INBOX", msg)
    r.ok("SELECT INBOX")
    f = one(r, "(BODY.PEEK[2] BODY.PEEK[2.HEADER] BODY.PEEK[2.TEXT] BODYSTRUCTURE)")
    assert f["BODY[2]"] == inner
    assert f["BODY[2.HEADER]"] == b"From: inner@example.org\r\nSubject: inner one\r\n\r\n"
    assert f["BODY[2.TEXT]"] == b"inner body\r\n"
    part = f["BODYSTRUCTURE"][1]
    assert lower(part[:2]) == [b"message", b"rfc822"]
    assert part[7][1] == b"inner one"  # the envelope of the inner message
    r.close()


def test_fetch_macros_uid_and_modseq(daemon):
    r = logged_in(daemon)
    uids = [append(r, "INBOX", message(f"fm{i}")) for i in range(3)]
    r.ok("SELECT INBOX")
    f = one(r, "FAST")
    assert set(f) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}
    f = one(r, "ALL")
    assert set(f) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE"}
    f = one(r, "FULL")
    assert set(f) == {"FLAGS", "INTERNALDATE", "RFC822.SIZE", "ENVELOPE", "BODY"}
    f = fetch_items(r.ok(f"UID FETCH {uids[1]}:* FLAGS").untagged)
    assert sorted(int(v["UID"]) for v in f.values()) == uids[1:]
    f = fetch_items(r.ok("FETCH 1:* (MODSEQ)").untagged)
    ms = [int(f[s]["MODSEQ"][0]) for s in (1, 2, 3)]
    assert all(m > 0 for m in ms)
    r.ok("STORE 2 +FLAGS.SILENT (\\Seen)")
    f = fetch_items(r.ok("FETCH 2 (MODSEQ)").untagged)
    assert int(f[2]["MODSEQ"][0]) > max(ms)
    # a UID past the end is no error, just no response
    rep = r.ok("UID FETCH 99999 FLAGS")
    assert not fetch_items(rep.untagged)
    r.close()


def test_smtp_delivered_byte_for_byte(daemon):
    msg = message("via-smtp", body="x" * 100 + "\r\n.dot line\r\nend\r\n")
    smtp_deliver(daemon, msg)
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    f = one(r, "(BODY.PEEK[] RFC822.SIZE BODY.PEEK[TEXT])")
    assert f["BODY[]"].endswith(msg)
    assert f["BODY[]"].startswith(b"Return-Path: <alice@example.org>\r\n")
    assert int(f["RFC822.SIZE"]) == len(f["BODY[]"])
    assert f["BODY[TEXT]"] == msg.split(b"\r\n\r\n", 1)[1]
    r.close()


def test_large_fetch_streams(daemon):
    """A FETCH of many large messages arrives complete and in order."""
    r = logged_in(daemon)
    big = message("big", body=("y" * 998 + "\r\n") * 1000)  # ~1 MB
    for _ in range(8):
        append(r, "INBOX", big)
    r.ok("SELECT INBOX")
    rep = r.ok("FETCH 1:* BODY.PEEK[]")
    f = fetch_items(rep.untagged)
    assert sorted(f) == list(range(1, 9))
    assert all(v["BODY[]"] == big for v in f.values())
    r.close()


def test_fetch_parse_of_literal_response_is_balanced(daemon):
    """Raw responses parse as one parenthesised list (no stray bytes)."""
    r, _ = open_multi(daemon)
    rep = r.ok("FETCH 1 (BODY.PEEK[] ENVELOPE BODYSTRUCTURE)")
    (raw,) = [x for x in rep.untagged if re.match(rb"\* 1 FETCH ", x)]
    items = parse_all(raw[len(b"* 1 FETCH "):])
    assert len(items) == 1 and isinstance(items[0], list)
    r.close()
