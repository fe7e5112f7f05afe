"""The rspamd fixture itself (tests/rspamd.py), without posthornd: its
proxy answers the milter protocol v6 (spoken here by a few lines of
Python, the MTA side), rejects GTUBE with rspamd's reply, adds its
headers to a clean message, and scores the test header as spam."""
import socket
import struct

import pytest

import rspamd as rspamd_mod
from rspamd import rspamd_server  # noqa: F401 (the fixture)



def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_packet(sock):
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        if not chunk:
            raise EOFError("milter closed")
        head += chunk
    n = struct.unpack(">I", head)[0]
    body = b""
    while len(body) < n:
        chunk = sock.recv(n - len(body))
        if not chunk:
            raise EOFError("milter closed")
        body += chunk
    return body[:1], body[1:]


def ask(sock, pkt, final=b"acdrtys"):
    """Send pkt, return the replies up to the final one."""
    sock.sendall(pkt)
    replies = []
    while True:
        cmd, data = read_packet(sock)
        replies.append((cmd, data))
        if cmd in [bytes([c]) for c in final]:
            return replies


# SMFIP_NR_* bit of each command: rspamd asks for no reply to all but the
# end of the message
NO_REPLY = {b"C": 0x1000, b"H": 0x2000, b"M": 0x4000, b"R": 0x8000,
            b"T": 0x10000, b"L": 0x80, b"N": 0x40000, b"B": 0x80000}


def scan(port, headers, body):
    """One message through the milter; the replies to end-of-message."""
    z = b"\0"
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        r = ask(s, packet(b"O", struct.pack(">III", 6, 0x1ff, 0x1ff7ff)),
                b"O")
        assert r[-1][0] == b"O"
        version, actions, proto = struct.unpack(">III", r[-1][1][:12])
        assert version == 6

        def step(cmd, data=b""):
            if proto & NO_REPLY.get(cmd, 0):
                s.sendall(packet(cmd, data))
                return
            assert ask(s, packet(cmd, data))[-1][0] == b"c"

        s.sendall(packet(b"D", b"C" + b"j" + z + b"mx.test" + z))
        step(b"C", b"client.test" + z + b"4" + struct.pack(">H", 4000) +
             b"192.0.2.9" + z)
        step(b"H", b"client.test" + z)
        s.sendall(packet(b"D", b"M" + b"i" + z + b"QID42" + z))
        step(b"M", b"<a@example.org>" + z)
        step(b"R", b"<b@example.net>" + z)
        for name, value in headers:
            step(b"L", name.encode() + z + value.encode() + z)
        step(b"N")
        step(b"B", body.encode())
        replies = ask(s, packet(b"E"))
        s.sendall(packet(b"Q"))
        return replies


HEADERS = [("From", "a@example.org"), ("To", "b@example.net"),
           ("Subject", "fixture"), ("Message-ID", "<f1@example.org>"),
           ("Date", "Mon, 07 Dec 2026 10:00:00 +0000")]


def added(replies):
    return {d.split(b"\0")[0].decode(): d.split(b"\0")[1].decode()
            for c, d in replies if c == b"h"}


def test_gtube_rejected(rspamd_server):
    replies = scan(rspamd_server.milter_port, HEADERS,
                   f"{rspamd_mod.GTUBE}\r\n")
    final = replies[-1]
    assert final[0] == b"y", replies
    assert final[1].startswith(b"554 5.7.1 "), final


def test_clean_message_gets_headers(rspamd_server):
    replies = scan(rspamd_server.milter_port, HEADERS, "just a note\r\n")
    assert replies[-1][0] in (b"a", b"c"), replies
    h = added(replies)
    assert "X-Spamd-Result" in h, replies
    assert h.get("X-Rspamd-Action", "").strip() == "no action", h


def test_test_header_scores_spam(rspamd_server):
    replies = scan(rspamd_server.milter_port,
                   HEADERS + [(rspamd_mod.SPAM_HEADER, "1")],
                   "buy now\r\n")
    assert replies[-1][0] in (b"a", b"c"), replies
    h = added(replies)
    assert "POSTHORN_TEST_SPAM" in h.get("X-Spamd-Result", ""), h
    assert h.get("X-Rspamd-Action", "").strip() == "add header", h
