"""Long lines, as real senders write them (issue 17): an HTML part in one
23 000-byte line, a 1 MiB line, a header line of 50 000 bytes. Delivered
over SMTP (port 25), LMTP, submission and IMAP APPEND, read back byte for
byte over IMAP (BODY.PEEK[]) and POP3 (RETR), with ENVELOPE, BODYSTRUCTURE,
part and partial FETCH, BINARY, RFC822.SIZE and TOP checked on them; a line
over [smtp] max_line_length is refused with 552 5.3.4 and the session goes
on. Outbound: a peer offering CHUNKING and BINARYMIME (a second posthornd)
gets the bytes unchanged, an aiosmtpd peer (which refuses lines over 1001
octets) gets the long parts as quoted-printable that decode to the
original, and a DKIM-signed message is re-encoded before our signature,
never after any signature."""
import email
import email.policy
import smtplib
import socket

import dkim
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from conftest import Posthornd
from test_dkim import Signer
from test_imap import Raw, append, fetch_items, logged_in
from test_outbound import Sink, fast_conf, inbox, queue_count, sender_daemon, submit, wait_for
from test_smtp import Raw as SmtpRaw

USER, PASSWORD = "demo@localhost", "demo"
LINE_MAX = 1 << 20      # the default [smtp] max_line_length, CRLF included


def html_line(n, seed=0):
    """n bytes of one-line HTML (no CR, no LF), deterministic."""
    unit = b'<td class="c%d" style="padding:0;color:#333">cell %d</td>'
    out = bytearray(b"<html><body><table><tr>")
    i = seed
    while len(out) < n:
        out += unit % (i % 97, i)
        i += 1
    return bytes(out[:n - 1]) + b">"


PLAIN = b"The plain part.\r\nSecond line.\r\n"
HTML_23K = html_line(23000)


def alternative(tag, html, subject=None, extra=b"", sender=b"News <news@example.org>"):
    """multipart/alternative: a short text/plain part, then the HTML part
    written as one line (8bit, as newsletters send it)."""
    subject = subject if subject is not None else b"long line " + tag.encode()
    return (b"From: " + sender + b"\r\n"
            b"To: Demo <demo@localhost>\r\n"
            b"Subject: " + subject + b"\r\n"
            b"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <" + tag.encode() + b"@example.org>\r\n" + extra +
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: multipart/alternative; boundary=\"b1\"\r\n"
            b"\r\n"
            b"--b1\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"\r\n" + PLAIN +
            b"\r\n--b1\r\n"
            b"Content-Type: text/html; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n"
            b"\r\n" + html + b"\r\n"
            b"--b1--\r\n")


def big_header_message(tag):
    """A Subject line of 50 000 bytes and a To: line of about 50 000 bytes
    (1 400 addresses) in the same header: together past any 64 KiB header
    bound."""
    subject = b" ".join(b"word%05d" % i for i in range(5556))[:49999] + b"z"
    to = b", ".join(b"User %04d <user%04d@example.org>" % (i, i) for i in range(1400))
    msg = (b"From: Alice <alice@example.org>\r\n"
           b"To: " + to + b"\r\n"
           b"Subject: " + subject + b"\r\n"
           b"Message-ID: <" + tag.encode() + b"@example.org>\r\n"
           b"\r\nbody\r\n")
    return msg, subject, to


def mib_message(tag):
    """A text/plain body whose second line is as long as the default bound
    allows: LINE_MAX octets with its CRLF."""
    return (b"From: Alice <alice@example.org>\r\n"
            b"To: Demo <demo@localhost>\r\n"
            b"Subject: one MiB line " + tag.encode() + b"\r\n"
            b"\r\n"
            b"first line\r\n" + html_line(LINE_MAX - 2, 7) + b"\r\nlast line\r\n")


def messages(tag):
    big, _, _ = big_header_message(tag + "-hdr")
    return [alternative(tag + "-23k", HTML_23K), mib_message(tag + "-mib"), big]


# ---------------------------------------------------------------- readers

def imap_all(daemon):
    """{uid: (BODY[], RFC822.SIZE)} of the INBOX."""
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    f = fetch_items(r.ok("UID FETCH 1:* (UID RFC822.SIZE BODY.PEEK[])").untagged)
    r.close()
    return {int(v["UID"]): (v["BODY[]"], int(v["RFC822.SIZE"])) for v in f.values()}


class Pop3:
    """A raw POP3 client (poplib refuses lines over 2048 octets)."""

    def __init__(self, daemon):
        self.sock = socket.create_connection(("127.0.0.1", daemon.port("pop3")), timeout=20)
        self.buf = b""
        assert self.line().startswith(b"+OK")
        self.cmd("USER " + USER)
        self.cmd("PASS " + PASSWORD)

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(1 << 20)
            assert chunk, "pop3 connection closed"
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
        line = self.line()
        assert line.startswith(b"+OK"), (text, line)
        return line

    def multi(self, text):
        """The un-dot-stuffed body of a multi-line answer."""
        self.cmd(text)
        while b"\r\n.\r\n" not in self.buf and not self.buf.startswith(b".\r\n"):
            chunk = self.sock.recv(1 << 20)
            assert chunk, "pop3 connection closed"
            self.buf += chunk
        if self.buf.startswith(b".\r\n"):
            body, self.buf = b"", self.buf[3:]
            return body
        body, self.buf = self.buf.split(b"\r\n.\r\n", 1)
        lines = body.split(b"\r\n")
        return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n" for l in lines)

    def close(self):
        self.cmd("QUIT")
        self.sock.close()


def check_stored(daemon, sent, exact=False):
    """Every message sent is in the INBOX byte for byte (after the trace
    fields the server puts on top, unless exact), over IMAP and POP3."""
    stored = imap_all(daemon)
    bodies = [stored[uid] for uid in sorted(stored)]
    assert len(bodies) == len(sent)
    for (body, size), msg in zip(bodies, sent):
        assert size == len(body)
        if exact:
            assert body == msg
        else:
            assert body.endswith(msg), (len(body), len(msg))
            # only trace fields (and the inbound checks' verdicts) above
            # the message
            top = body[:len(body) - len(msg)]
            assert all(l.split(b":")[0] in (b"Received", b"Return-Path", b"Delivered-To",
                                            b"Authentication-Results")
                       or l[:1] in (b" ", b"\t")
                       for l in top.split(b"\r\n")[:-1]), top
    p = Pop3(daemon)
    for i, (body, _) in enumerate(bodies, 1):
        assert p.multi(f"RETR {i}") == body
    p.close()
    return bodies


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize("service", ["smtp", "lmtp", "submission"])
def test_long_lines_stored_byte_exact(daemon, service):
    """Port 25, LMTP and submission (to a local user: nothing is signed)."""
    sent = messages(service)
    client = smtplib.LMTP if service == "lmtp" else smtplib.SMTP
    sender = USER if service == "submission" else "news@example.org"
    with client("127.0.0.1", daemon.port(service), timeout=30) as s:
        if service == "submission":
            s.login(USER, PASSWORD)
        for m in sent:
            assert s.sendmail(sender, [USER], m) == {}
    check_stored(daemon, sent)


def test_bdat_long_lines_stored_byte_exact(daemon):
    sent = messages("bdat")
    r = SmtpRaw(daemon.port("smtp"))
    r.reply()
    r.cmd("EHLO c")
    for m in sent:
        assert r.cmd("MAIL FROM:<news@example.org> BODY=BINARYMIME")[0] == 250
        assert r.cmd(f"RCPT TO:<{USER}>")[0] == 250
        r.send(b"BDAT %d LAST\r\n" % len(m) + m)
        assert r.reply()[0] == 250
    r.close()
    check_stored(daemon, sent)


def test_append_long_lines_byte_exact_and_structure(daemon):
    alt = alternative("app-23k", HTML_23K)
    mib = mib_message("app-mib")
    big, subject, to = big_header_message("app-hdr")
    r = logged_in(daemon)
    for m in (alt, mib, big):
        append(r, "INBOX", m)
    r.close()
    check_stored(daemon, [alt, mib, big], exact=True)

    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    f = fetch_items(r.ok("FETCH 1 (ENVELOPE BODYSTRUCTURE BODY.PEEK[2] BODY.PEEK[2]<0.100> "
                         "BODY.PEEK[2]<22950.100> BODY.PEEK[2.MIME] BINARY.PEEK[2] "
                         "BINARY.SIZE[2] BODY.PEEK[1])").untagged)[1]
    assert f["ENVELOPE"][1] == b"long line app-23k"
    alt_struct, sub = f["BODYSTRUCTURE"][:2], f["BODYSTRUCTURE"][2]
    assert sub == b"alternative"
    html_part = alt_struct[1]
    # ("text" "html" params id desc enc size lines ...)
    assert [x.lower() for x in html_part[:2]] == [b"text", b"html"]
    assert html_part[5].lower() == b"8bit"
    assert int(html_part[6]) == len(HTML_23K) and int(html_part[7]) == 1
    assert int(alt_struct[0][6]) == len(PLAIN) and int(alt_struct[0][7]) == 2
    assert f["BODY[2]"] == HTML_23K
    assert f["BODY[2]<0>"] == HTML_23K[:100]
    assert f["BODY[2]<22950>"] == HTML_23K[22950:]
    assert f["BODY[2.MIME]"] == (b"Content-Type: text/html; charset=utf-8\r\n"
                                 b"Content-Transfer-Encoding: 8bit\r\n\r\n")
    assert f["BINARY[2]"] == HTML_23K
    assert int(f["BINARY.SIZE[2]"]) == len(HTML_23K)
    assert f["BODY[1]"] == PLAIN

    line = html_line(LINE_MAX - 2, 7)
    f = fetch_items(r.ok(f"FETCH 2 (BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[1]<12.64> "
                         f"BODY.PEEK[TEXT]<{12 + LINE_MAX - 10}.30>)").untagged)[2]
    st = f["BODYSTRUCTURE"]
    assert int(st[6]) == len(mib) - mib.index(b"\r\n\r\n") - 4 and int(st[7]) == 3
    assert f["BODY[1]"] == b"first line\r\n" + line + b"\r\nlast line\r\n"
    assert f["BODY[1]<12>"] == line[:64]
    assert f[f"BODY[TEXT]<{12 + LINE_MAX - 10}>"] == (line + b"\r\nlast line\r\n")[LINE_MAX - 10:][:30]

    f = fetch_items(r.ok("FETCH 3 (ENVELOPE BODY.PEEK[HEADER.FIELDS (SUBJECT)])").untagged)[3]
    env = f["ENVELOPE"]
    assert env[1] == subject
    assert len(env[5]) == 1400
    assert env[5][0] == [b"User 0000", None, b"user0000", b"example.org"]
    assert env[5][-1] == [b"User 1399", None, b"user1399", b"example.org"]
    assert env[9] == b"<app-hdr@example.org>"
    (k,) = [k for k in f if k.startswith("BODY[HEADER.FIELDS")]
    assert f[k] == b"Subject: " + subject + b"\r\n\r\n"
    r.close()


def test_pop3_top_counts_long_lines(daemon):
    alt = alternative("top-23k", HTML_23K)
    mib = mib_message("top-mib")
    r = logged_in(daemon)
    append(r, "INBOX", alt)
    append(r, "INBOX", mib)
    r.close()
    p = Pop3(daemon)
    head_end = mib.index(b"\r\n\r\n") + 4
    assert p.multi("TOP 2 0") == mib[:head_end]
    assert p.multi("TOP 2 1") == mib[:head_end] + b"first line\r\n"
    assert p.multi("TOP 2 2") == mib[:head_end + 12 + LINE_MAX]
    assert p.multi("TOP 2 3") == mib
    assert p.multi("TOP 2 99") == mib
    # the HTML line is the 11th line of the body
    body = alt[alt.index(b"\r\n\r\n") + 4:]
    eleven = b"".join(l + b"\r\n" for l in body.split(b"\r\n")[:11])
    assert eleven.endswith(HTML_23K + b"\r\n")
    assert p.multi("TOP 1 11") == alt[:alt.index(b"\r\n\r\n") + 4] + eleven
    sizes = p.multi("LIST")
    assert sizes == b"1 %d\r\n2 %d\r\n" % (len(alt), len(mib))
    p.close()


def test_line_over_the_bound_refused_session_goes_on(daemon):
    over = (b"Subject: over\r\n\r\n" + b"x" * (LINE_MAX - 1) + b"\r\n")
    ok = alternative("after-over", HTML_23K)
    r = SmtpRaw(daemon.port("smtp"))
    r.reply()
    r.cmd("EHLO c")
    assert r.cmd("MAIL FROM:<news@example.org>")[0] == 250
    assert r.cmd(f"RCPT TO:<{USER}>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(over + b".\r\n")
    code, text = r.reply()
    assert code == 552 and text.startswith("5.3.4"), (code, text)
    assert r.cmd("NOOP")[0] == 250
    assert r.cmd("MAIL FROM:<news@example.org>")[0] == 250
    assert r.cmd(f"RCPT TO:<{USER}>")[0] == 250
    assert r.cmd("DATA")[0] == 354
    r.send(ok.replace(b"\r\n.", b"\r\n..") + b".\r\n")
    assert r.reply()[0] == 250
    r.close()
    check_stored(daemon, [ok])


def test_configured_line_bound(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path) as fh:
        conf = fh.read()
    with open(d.config_path, "w") as fh:
        fh.write(conf.replace("[smtp]\n", "[smtp]\nmax_line_length = 64K\n", 1)
                 if "[smtp]\n" in conf else conf + "\n[smtp]\nmax_line_length = 64K\n")
    d.start()
    try:
        fits = b"Subject: fits\r\n\r\n" + b"y" * (65536 - 2) + b"\r\n"
        over = b"Subject: over\r\n\r\n" + b"y" * (65536 - 1) + b"\r\n"
        with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=30) as s:
            assert s.sendmail("a@example.org", [USER], fits) == {}
            try:
                s.sendmail("a@example.org", [USER], over)
                raise AssertionError("accepted a line over max_line_length")
            except smtplib.SMTPDataError as e:
                assert e.smtp_code == 552
            assert s.noop()[0] == 250
        check_stored(d, [fits])
    finally:
        status = d.stop()
    d.assert_clean()
    assert status == 0, d.log()


# ---------------------------------------------------------------- outbound

def sink_parts(raw):
    """{content type: decoded payload bytes} of a received message."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    return {p.get_content_type(): p.get_payload(decode=True)
            for p in msg.walk() if not p.is_multipart()}


def longest(raw):
    return max(len(l) for l in raw.split(b"\r\n"))


class LenientSMTP(SMTP):
    line_length_limit = 4 << 20


class LenientController(Controller):
    def factory(self):
        return LenientSMTP(self.handler, **self.SMTP_kwargs)


def lenient_sink():
    """A Sink (no CHUNKING, no BINARYMIME) that takes lines of any length,
    as most servers do."""
    sink = Sink()
    sink.controller = LenientController(sink, hostname="127.0.0.1", port=sink.port)
    return sink.start()


def test_outbound_binarymime_unchanged_else_quoted_printable(tmp_path):
    receiver = Posthornd(tmp_path / "receiver").start()
    sink = Sink().start()
    try:
        receiver.cli("domain", "add", "bin.test", check=True)
        receiver.cli("user", "add", "bob@bin.test", "--password-stdin",
                     input="secret\n", check=True)
        sender = sender_daemon(tmp_path, fast_conf(
            f"[routes]\nbin.test = 127.0.0.1:{receiver.port('smtp')}\n"
            f"remote.test = 127.0.0.1:{sink.port}\n"))
        try:
            alt = alternative("out-23k", HTML_23K, sender=b"Demo <demo@localhost>")
            mib = mib_message("out-mib").replace(b"From: Alice <alice@example.org>",
                                                  b"From: demo@localhost")
            for m in (alt, mib):
                submit(sender, ["bob@bin.test", "rcpt@remote.test"], m)
            got = wait_for(lambda: len(inbox(receiver, "bob@bin.test")) == 2 and
                           inbox(receiver, "bob@bin.test"))
            assert got, sender.log()
            # CHUNKING + BINARYMIME: byte for byte
            assert got[0].endswith(alt) and got[1].endswith(mib)
            assert wait_for(lambda: len(sink.messages) == 2), sender.log()
            assert wait_for(lambda: queue_count(sender) == 0)
            raws = [m[2] for m in sink.messages]
            # no BINARYMIME: every line fits, the long parts decode back
            for raw in raws:
                assert longest(raw) <= 998, longest(raw)
            a = next(r for r in raws if b"out-23k" in r)
            parts = sink_parts(a)
            assert parts["text/html"] == HTML_23K + b"\r\n" or parts["text/html"] == HTML_23K
            assert parts["text/plain"] == PLAIN
            # only the HTML part changed: the plain part is as it was
            assert b"\r\n\r\n" + PLAIN + b"\r\n--b1\r\n" in a
            assert a.count(b"Content-Transfer-Encoding: quoted-printable") == 1
            assert b"Content-Transfer-Encoding: 8bit" not in a
            b = next(r for r in raws if b"one MiB line" in r)
            body = mib[mib.index(b"\r\n\r\n") + 4:]
            assert sink_parts(b)["text/plain"] == body
            assert b"MIME-Version: 1.0\r\n" in b
            assert "re-encoded as quoted-printable" in sender.log()
        finally:
            sender.stop()
            sender.assert_clean()
    finally:
        sink.stop()
        receiver.stop()
        receiver.assert_clean()


def test_signed_submission_reencoded_before_signing(tmp_path):
    signer = Signer(tmp_path, "rsa")
    try:
        alt = alternative("signed-23k", HTML_23K, sender=b"Demo <demo@localhost>")
        submit(signer.d, ["rcpt@remote.test", "demo@localhost"], alt)
        raw = signer.received()
        # the strict sink took it: no line over 998, and the signature
        # made after the re-encoding holds
        assert longest(raw) <= 998
        assert raw.startswith(b"DKIM-Signature:")
        assert dkim.verify(raw, dnsfunc=signer.dnsfunc)
        assert sink_parts(raw)["text/html"] in (HTML_23K, HTML_23K + b"\r\n")
        # the local copy is the same signed blob
        local = wait_for(lambda: inbox(signer.d, "demo@localhost"))
        assert dkim.verify(local[0], dnsfunc=signer.dnsfunc)
        assert "re-encoded as quoted-printable before signing" in signer.d.log()
    finally:
        signer.close()


def test_foreign_signed_message_goes_unchanged(tmp_path):
    sink = lenient_sink()
    try:
        d = sender_daemon(tmp_path, fast_conf(f"[routes]\nremote.test = 127.0.0.1:{sink.port}\n"))
        try:
            # a signature someone else made (a list manager submitting):
            # re-encoding would break it, so the bytes go as they are
            sig = (b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=example.org;\r\n"
                   b" s=sel; h=from:subject; bh=AAAA; b=BBBB\r\n")
            alt = sig + alternative("foreign-signed", HTML_23K, sender=b"Demo <demo@localhost>")
            submit(d, ["rcpt@remote.test"], alt)
            assert wait_for(lambda: len(sink.messages) == 1), d.log()
            raw = sink.messages[0][2]
            assert raw.endswith(alt)
            assert "the message is signed, so it goes unchanged" in d.log()
        finally:
            d.stop()
            d.assert_clean()
    finally:
        sink.stop()
