"""The issue-17 corpus, whole: the 3 000 messages of tests/corpus/make_corpus.py
(plain, long-line HTML newsletters, base64 attachments, 8bit UTF-8,
encoded words, folded and 60 KB header lines, nested multiparts, three
near Postfix's 10 MB limit, odd but legal ones) sent to one mailbox over
three pipelining SMTP sessions. Every one must be accepted (250) and come
back over IMAP byte for byte after the trace fields on top, and POP3 must
list the same count and sizes. Bounded: each session has a deadline."""
import hashlib
import imaplib
import os
import re
import socket
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "corpus"))
import make_corpus  # noqa: E402

USER, PASSWORD = "demo@localhost", "demo"
SESSIONS = 3
DEADLINE = 600          # seconds for the whole send, under sanitizers too
ID_RE = re.compile(rb"^X-Corpus-Id: (\d+)\r$", re.M)


def dot_stuff(wire):
    out = re.sub(rb"(?m)^\.", b"..", wire)
    return out + b".\r\n"


class Sender:
    """One SMTP session: MAIL, RCPT and DATA sent as one pipelined group
    (RFC 2920), then the message; every reply checked."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.sock.makefile("rb")
        assert self.reply()[0] == 220
        self.sock.sendall(b"EHLO corpus.example.org\r\n")
        code, lines = self.reply()
        assert code == 250 and b"PIPELINING" in lines

    def reply(self):
        lines = b""
        while True:
            line = self.f.readline()
            assert line, "connection closed"
            lines += line
            if line[3:4] != b"-":
                return int(line[:3]), lines

    def send(self, wire):
        self.sock.sendall(b"MAIL FROM:<corpus@example.org> BODY=8BITMIME\r\n"
                          b"RCPT TO:<" + USER.encode() + b">\r\nDATA\r\n")
        got = [self.reply() for _ in range(3)]
        assert [c for c, _ in got] == [250, 250, 354], got
        self.sock.sendall(dot_stuff(wire))
        return self.reply()

    def close(self):
        self.sock.sendall(b"QUIT\r\n")
        self.reply()
        self.sock.close()


def test_corpus_accepted_whole_and_stored_byte_exact(daemon):
    wires = {n: wire for n, _kind, _data, wire in make_corpus.corpus()}
    assert len(wires) == make_corpus.DEFAULT_COUNT
    ids = sorted(wires)
    refused = []
    errors = []
    deadline = time.monotonic() + DEADLINE

    def run(share):
        try:
            s = Sender(daemon.port("smtp"))
            for n in share:
                if time.monotonic() > deadline:
                    errors.append("deadline")
                    return
                code, text = s.send(wires[n])
                if code != 250:
                    refused.append((n, text))
            s.close()
        except Exception as e:  # reported below, with the daemon's log
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(ids[k::SESSIONS],)) for k in range(SESSIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(DEADLINE + 60)
    assert not errors, errors
    assert not refused, refused[:5]

    m = imaplib.IMAP4("127.0.0.1", daemon.port("imap"), timeout=60)
    m.login(USER, PASSWORD)
    typ, data = m.select("INBOX", readonly=True)
    assert int(data[0]) == len(wires)
    seen = {}
    sizes = {}
    for first in range(1, len(wires) + 1, 100):
        typ, data = m.fetch(f"{first}:{min(first + 99, len(wires))}",
                            "(RFC822.SIZE BODY.PEEK[])")
        assert typ == "OK"
        for item in data:
            if not isinstance(item, tuple):
                continue
            meta, body = item
            seq = int(meta.split()[0])
            size = int(re.search(rb"RFC822\.SIZE (\d+)", meta).group(1))
            assert size == len(body)
            head_end = body.find(b"\r\n\r\n")
            found = ID_RE.search(body, 0, head_end + 2 if head_end >= 0 else len(body))
            assert found, body[:300]
            n = int(found.group(1))
            wire = wires[n]
            assert n not in seen, n
            # byte for byte after our trace fields
            assert hashlib.sha256(body[len(body) - len(wire):]).digest() == \
                hashlib.sha256(wire).digest(), n
            seen[n] = seq
            sizes[seq] = size
    m.logout()
    assert sorted(seen) == ids

    # POP3 lists the same messages with the same sizes
    s = socket.create_connection(("127.0.0.1", daemon.port("pop3")), timeout=60)
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    for cmd in (f"USER {USER}", f"PASS {PASSWORD}", "LIST"):
        s.sendall(cmd.encode() + b"\r\n")
        assert f.readline().startswith(b"+OK"), cmd
    listed = {}
    while (line := f.readline()) != b".\r\n":
        k, v = line.split()
        listed[int(k)] = int(v)
    s.sendall(b"QUIT\r\n")
    f.readline()
    s.close()
    assert listed == sizes
