"""Large messages through IMAP on both stores: APPEND parses the literal as
it arrives (MULTIAPPEND, lone LFs made CRLF, literal8), a literal cut off
by a disconnect leaves nothing behind, one above APPENDLIMIT is refused
before its bytes come; FETCH of the whole message (BODY[], RFC822,
BINARY[], BODY[TEXT], a part, a partial range), streamed from the blob by
slices, gives the stored bytes exactly, also through COMPRESS=DEFLATE over
TLS."""
import re
import socket
import time

import pytest

from conftest import Posthornd
from test_imap import Raw, fetch_items, logged_in
from test_imap_compress import connect as deflate_connect

LINE = b"%07d a line of a large message that is streamed by slices\r\n"
HEAD = (b"From: Alice <alice@example.org>\r\nTo: demo@localhost\r\n"
        b"Subject: large\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n"
        b"--b\r\nContent-Type: text/plain\r\n\r\n")
TAIL = b"\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--b--\r\n"


def big(lines, seed=0):
    return HEAD + b"".join(LINE % (i + seed) for i in range(lines)) + TAIL


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    dm = Posthornd(tmp_path_factory.mktemp("large")).start()
    yield dm
    assert dm.stop() == 0
    dm.assert_clean()


def fresh_mailbox(r, name):
    r.ok(f"CREATE {name}")
    return name


def fetch_one(r, seq, items):
    return fetch_items(r.ok(f"FETCH {seq} ({items})").untagged)[seq]


def test_append_large_byte_exact(d):
    """A 5 MB APPEND is stored as sent and its BODYSTRUCTURE is the one of
    the parse made as the literal arrived; then every whole-message item
    comes back byte-exact (each above the streaming threshold)."""
    msg = big(90_000)
    r = logged_in(d)
    box = fresh_mailbox(r, "Big1")
    r.ok(f"APPEND {box} {{}}", msg)
    r.ok(f"SELECT {box}")
    got = fetch_one(r, 1, "BODY.PEEK[] RFC822.SIZE BODYSTRUCTURE")
    assert got["BODY[]"] == msg
    assert got["RFC822.SIZE"] == str(len(msg))
    bs = got["BODYSTRUCTURE"]
    text = msg[len(HEAD):msg.index(TAIL)]
    assert bs[0][:2] == [b"text", b"plain"] and bs[0][6] == str(len(text))
    assert bs[0][7] == str(text.count(b"\n"))
    assert bs[1][:2] == [b"text", b"plain"] and bs[2] == b"mixed"
    got = fetch_one(r, 1, "BINARY.PEEK[] UID")
    assert got["BINARY[]"] == msg and got["UID"] == "1"
    got = fetch_one(r, 1, "BODY.PEEK[TEXT] BODY.PEEK[1] BODY.PEEK[1]<100.200000> FLAGS")
    body = msg[msg.index(b"\r\n\r\n") + 4:]
    assert got["BODY[TEXT]"] == body
    assert got["BODY[1]"] == text
    assert got["BODY[1]<100>"] == text[100:200_100]
    assert got["FLAGS"] == []
    # a FETCH that sets \Seen: its FLAGS go at the end of the streamed response
    got = fetch_one(r, 1, "RFC822.SIZE BODY[]")
    assert got["BODY[]"] == msg and "\\Seen" in got["FLAGS"]
    got = fetch_one(r, 1, "RFC822 UID")
    assert got["RFC822"] == msg and got["UID"] == "1"
    r.close()


def test_multiappend_large_lf_and_literal8(d):
    """MULTIAPPEND of three large messages: one with CRLF, one with lone
    LFs (stored CRLF, parsed as stored), one literal8 with a binary part
    (stored as base64): each intact, each BODYSTRUCTURE right."""
    crlf = big(30_000, 1)
    lf = big(30_000, 2).replace(b"\r\n", b"\n")
    binary = (b"From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\n"
              b"Content-Type: application/octet-stream\r\n"
              b"Content-Transfer-Encoding: binary\r\n\r\n"
              + bytes(range(256)) * 4000)
    r = logged_in(d)
    box = fresh_mailbox(r, "Big2")
    tag = r.next_tag()
    r.send(f"{tag} APPEND {box} {{{len(crlf)}+}}\r\n".encode() + crlf +
           b" (\\Flagged) {%d+}\r\n" % len(lf) + lf +
           b" ~{%d+}\r\n" % len(binary) + binary + b"\r\n")
    reply = r.read_until_tag(tag)
    assert reply.status == "OK", reply
    r.ok(f"SELECT {box}")
    got = fetch_items(r.ok("FETCH 1:3 (BODY.PEEK[] BODYSTRUCTURE FLAGS)").untagged)
    assert got[1]["BODY[]"] == crlf
    assert got[2]["BODY[]"] == lf.replace(b"\n", b"\r\n")
    assert "\\Flagged" in got[2]["FLAGS"]
    stored_text = got[2]["BODY[]"][len(HEAD):got[2]["BODY[]"].index(TAIL)]
    assert got[2]["BODYSTRUCTURE"][0][6] == str(len(stored_text))
    assert got[3]["BODYSTRUCTURE"][5].upper() == b"BASE64"
    assert fetch_one(r, 3, "BINARY.PEEK[1]")["BINARY[1]"] == bytes(range(256)) * 4000
    r.close()


def test_fetch_large_through_deflate_and_tls(d):
    """BODY[] of a large message through COMPRESS=DEFLATE, over TLS and
    not: the stream of slices goes through the compressor intact."""
    msg = big(60_000, 3)
    r = logged_in(d)
    box = fresh_mailbox(r, "Big3")
    r.ok(f"APPEND {box} {{}}", msg)
    r.close()
    for tls in (False, True):
        m = deflate_connect(d, tls=tls)
        m.compress()
        m.select(box)
        typ, data = m.fetch("1", "(BODY.PEEK[] BODY.PEEK[TEXT])")
        assert typ == "OK"
        parts = {re.search(rb"(BODY\[[A-Z]*\])", lit[0]).group(1): lit[1]
                 for lit in data if isinstance(lit, tuple)}
        assert parts[b"BODY[]"] == msg
        assert parts[b"BODY[TEXT]"] == msg[msg.index(b"\r\n\r\n") + 4:]
        assert m.wire_in < len(msg) // 2    # it was compressed
        m.logout()


def test_literal_cut_off_then_disconnect(d):
    """A client gone halfway through a large APPEND literal (synchronizing
    and LITERAL+): nothing is stored, the daemon goes on, and (under ASan)
    nothing of the half-read literal or its parse leaks."""
    msg = big(60_000, 4)
    r = logged_in(d)
    box = fresh_mailbox(r, "Cut")
    r.close()
    for plus in (False, True):
        r = logged_in(d)
        if plus:
            r.send(b"t9 APPEND %s {%d+}\r\n" % (box.encode(), len(msg)))
        else:
            r.send(b"t9 APPEND %s {%d}\r\n" % (box.encode(), len(msg)))
            assert r.line().startswith(b"+")
        r.send(msg[:len(msg) // 2])
        time.sleep(0.3)
        r.sock.close()
    r = logged_in(d)
    status = r.ok(f"STATUS {box} (MESSAGES)").untagged[0]
    assert b"MESSAGES 0" in status
    r.ok(f"APPEND {box} {{}}", msg)
    r.ok(f"SELECT {box}")
    assert fetch_one(r, 1, "BODY.PEEK[]")["BODY[]"] == msg
    r.close()


def test_literal_over_limit_refused_before_bytes(d):
    """A literal above APPENDLIMIT: a synchronizing one gets NO [TOOBIG]
    with no continuation (the client sends nothing), a LITERAL+ one BAD
    and the connection closed (its bytes cannot be parsed)."""
    caps = logged_in(d).capabilities()
    limit = int([c for c in caps if c.startswith("APPENDLIMIT=")][0].split("=")[1])
    r = logged_in(d)
    r.send(b"t7 APPEND INBOX {%d}\r\n" % (limit + 1))
    assert r.line().startswith(b"t7 NO [TOOBIG]")
    r.ok("NOOP")
    r.send(b"t8 APPEND INBOX {%d+}\r\n" % (limit + 1) + b"x" * 65536)
    lines = []
    try:
        while True:
            lines.append(r.line())
    except (EOFError, ConnectionResetError, socket.timeout):
        pass
    assert any(l.startswith(b"t8 BAD") for l in lines), lines
