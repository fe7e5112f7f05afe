"""IMAP COMPRESS=DEFLATE (RFC 4978) against a real posthornd: a client that
speaks raw DEFLATE both ways after the tagged OK, over plain TCP and TLS."""
import base64
import imaplib
import os
import smtplib
import socket
import ssl
import time
import zlib

import pytest

from test_imap import anon_rss_kib, lean_daemon  # noqa: F401 (a fixture)

USER, PASSWORD = "demo@localhost", "demo"
# imaplib does not know the command; every state, so the server decides
imaplib.Commands.setdefault("COMPRESS", ("NONAUTH", "AUTH", "SELECTED"))


class DeflateIMAP(imaplib.IMAP4):
    """imaplib with COMPRESS=DEFLATE: after compress(), every byte read and
    written goes through zlib (raw DEFLATE, sync-flushed per write)."""

    def _create_socket(self, timeout):
        sock = socket.create_connection((self.host, self.port), timeout)
        if getattr(self, "use_tls", False):
            ctx = ssl.create_default_context()
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            sock = ctx.wrap_socket(sock)
        return sock

    def compress(self):
        typ, data = self._simple_command("COMPRESS", "DEFLATE")
        assert typ == "OK", data
        self.deflater = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.inflater = zlib.decompressobj(-15)
        self.wire_in = 0
        self.plain_in = 0
        self._pending = bytearray()

    def send(self, data):
        if hasattr(self, "deflater"):
            data = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise imaplib.IMAP4.abort("socket closed")
        self.wire_in += len(chunk)
        out = self.inflater.decompress(chunk)
        self.plain_in += len(out)
        self._pending += out

    def read(self, size):
        if not hasattr(self, "inflater"):
            return super().read(size)
        while len(self._pending) < size:
            self._fill()
        out = bytes(self._pending[:size])
        del self._pending[:size]
        return out

    def readline(self):
        if not hasattr(self, "inflater"):
            return super().readline()
        while b"\n" not in self._pending:
            self._fill()
        i = self._pending.index(b"\n") + 1
        out = bytes(self._pending[:i])
        del self._pending[:i]
        return out


def connect(daemon, tls=False):
    cls = type("C", (DeflateIMAP,), {"use_tls": tls})
    m = cls("127.0.0.1", daemon.port("imaps" if tls else "imap"), timeout=10)
    m.login(USER, PASSWORD)
    return m


def deliver(daemon, n, body):
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        for i in range(n):
            s.sendmail("a@example.org", ["demo@localhost"],
                       f"Subject: c{i}\r\n\r\n{body}\r\n".encode())


@pytest.mark.parametrize("tls", [False, True])
def test_compress_then_everything_works(daemon, tls):
    deliver(daemon, 20, "the same words again and again\r\n" * 200)
    m = connect(daemon, tls)
    assert "COMPRESS=DEFLATE" in m.capabilities
    m.compress()
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"20"]
    typ, data = m.fetch("1:*", "(BODY.PEEK[])")
    bodies = [d[1] for d in data if isinstance(d, tuple)]
    assert len(bodies) == 20 and all(b"again and again" in b for b in bodies)
    # the repetitive mailbox travelled compressed
    assert m.wire_in * 5 < m.plain_in, (m.wire_in, m.plain_in)
    # APPEND of a literal goes through the client's deflate stream
    msg = b"Subject: up\r\n\r\n" + b"z" * 500 + b"\r\n" + b"y" * 50000
    assert m.append("INBOX", None, None, msg)[0] == "OK"
    typ, data = m.fetch("21", "(BODY.PEEK[])")
    assert data[0][1] == msg
    typ, data = m._simple_command("COMPRESS", "DEFLATE")
    assert typ == "NO" and b"COMPRESSIONACTIVE" in data[0]
    assert m.noop()[0] == "OK"
    assert m.logout()[0] == "BYE"


def test_compress_idle_sees_new_mail(daemon):
    m = connect(daemon)
    m.compress()
    m.select("INBOX")
    tag = m._new_tag().decode()
    m.send(f"{tag} IDLE\r\n".encode())
    assert m.readline().startswith(b"+")
    deliver(daemon, 1, "hello")
    assert m.readline() == b"* 1 EXISTS\r\n"
    m.send(b"DONE\r\n")
    while not m.readline().startswith(tag.encode()):
        pass
    m.logout()


def test_compress_refusals(daemon):
    m = DeflateIMAP("127.0.0.1", daemon.port("imap"), timeout=10)
    # not before login
    with pytest.raises(imaplib.IMAP4.error, match="BAD|NO"):
        m._simple_command("COMPRESS", "DEFLATE")
    m.login(USER, PASSWORD)
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        m._simple_command("COMPRESS", "LZMA")
    assert m.noop()[0] == "OK"
    m.logout()


def test_compress_garbage_closes_the_connection(daemon):
    m = connect(daemon)
    m.compress()
    m.sock.sendall(b"this is not deflate data\r\n" * 4)
    m.sock.settimeout(10)
    try:
        while m.sock.recv(4096):
            pass
    except ConnectionResetError:
        pass  # closed with unread input: a reset is a close too
    # (a socket.timeout would fail the test: the server kept it open)
    # the daemon carries on
    assert connect(daemon).logout()[0] == "BYE"


def test_compressed_fetch_to_stalled_client_is_not_buffered(lean_daemon):
    """Flow control counts the compressed bytes waiting on the wire: a
    40 MB FETCH that the client does not read stays out of memory."""
    d = lean_daemon
    m = connect(d)
    m.compress()
    for i in range(40):
        noise = base64.encodebytes(os.urandom(750 * 1024)).replace(b"\n", b"\r\n")
        assert m.append("INBOX", None, None,
                        b"Subject: big\r\nContent-Type: application/octet-stream\r\n"
                        b"Content-Transfer-Encoding: base64\r\n\r\n" + noise)[0] == "OK"
    m.select("INBOX")
    m.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    before = anon_rss_kib(d)
    tag = m._new_tag().decode()
    m.send(f"{tag} FETCH 1:* BODY.PEEK[]\r\n".encode())
    time.sleep(3)
    grown = anon_rss_kib(d) - before
    assert grown < 20 * 1024, f"daemon grew {grown} KiB for a stalled 40 MB FETCH"
    fetched = 0
    while True:
        line = m.readline()
        if line.startswith(tag.encode()):
            assert b"OK" in line
            break
        if line.endswith(b"}\r\n"):
            size = int(line[line.rindex(b"{") + 1:-3])
            m.read(size)
            fetched += 1
    assert fetched == 40
    m.logout()
