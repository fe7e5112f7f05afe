#!/usr/bin/python3
"""tests/corpus/make_corpus.py: a deterministic corpus of realistic mail.

The same seed gives the same bytes on any machine. The mix follows what a
mail server meets: plain text, multipart/alternative newsletters whose HTML
part is one long line (2 KB .. 900 KB), base64 attachments, 8bit UTF-8
bodies, RFC 2047 encoded words, folded headers, unfolded header lines up to
60 KB, nested multiparts and forwarded messages, messages close to Postfix's
default size limit (10 240 000 octets), and a few that are odd but legal
(no space after the colon, lowercase names, lines of "." and "From ",
group syntax, a header without a body, no final CRLF) or written with Unix
line ends. Every message is what Postfix + Dovecot accept: no NUL byte, no
line over 1 MiB, CRLF on the wire.

Each message carries "X-Corpus-Id: NNNNN" in its top header. Its wire form
(what an SMTP client sends after the 354, before dot-stuffing) is the file
itself, except that a file with Unix line ends goes with CRLF (every SMTP
client, Postfix's sendmail and smtplib included, converts them) and a file
without a final line end gets CRLF added by the client before the ".".

Usage:
  make_corpus.py OUTDIR [--count N] [--seed S]   one NNNNN.eml per message
                                                  and MANIFEST (id kind size
                                                  sha256-of-wire-form)
  make_corpus.py --pack FILE [--count N] [--seed S]
                                                  the wire forms for
                                                  bench/smtp/smtp_load: per
                                                  message "<octets>\\n" then
                                                  the octets
"""
import argparse
import base64
import hashlib
import os
import random
import sys

DEFAULT_COUNT = 3000
DEFAULT_SEED = 17
LINE_MAX = 1 << 20          # posthorn's default [smtp] max_line_length
NEAR_LIMIT = 9_500_000      # under Postfix's message_size_limit default

WORDS = ("the of and to in is for on that with as by this are from be at "
         "or an have not your all new more our can will about mail server "
         "message offer update account order report meeting team project "
         "week today please thanks regards invoice delivery shipping sale "
         "price free click here read view online subscribe newsletter").split()
UTF8_TEXT = ("Grüße aus München, schöne Äpfel und Öl. ", "Ça coûte très cher, à bientôt. ",
             "日本語のメールです。よろしくお願いします。", "Привет, как дела? ",
             "Emoji 😀🎉 and ✓ marks. ", "Ελληνικά γράμματα. ")
NAMES = ("Alice Example", "Bob Martin", "Carol O'Neil", "Dave Smith", "Eve Müller",
         "Frank Zhang", "Grace Hopper", "Heidi Klum", "Ivan Petrov", "Judy Garland")
DOMAINS = ("example.org", "example.com", "example.net", "mail.example.de",
           "news.example.co.uk", "lists.example.org")
TLD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
          "Nov", "Dec")

# kind -> weight (of every 1000 messages); near_limit is a fixed count
KINDS = (
    ("plain", 250), ("html_long", 200), ("attachment", 110), ("utf8", 100),
    ("encoded_words", 80), ("folded", 60), ("long_header", 40), ("nested", 70),
    ("odd", 60), ("no_final_crlf", 15), ("unix_lf", 15),
)
NEAR_LIMIT_COUNT = 3


class Gen:
    def __init__(self, seed):
        self.r = random.Random(seed)

    def words(self, n):
        return " ".join(self.r.choice(WORDS) for _ in range(n))

    def sentence(self):
        s = self.words(self.r.randint(4, 16))
        return s[0].upper() + s[1:] + "."

    def paragraph_lines(self, n_lines, width=72):
        out, line = [], ""
        while len(out) < n_lines:
            w = self.sentence()
            if line and len(line) + 1 + len(w) > width:
                out.append(line)
                line = w
            else:
                line = (line + " " + w).strip()
        return out

    def addr(self, i=None):
        name = self.r.choice(NAMES)
        local = name.split()[0].lower().replace("'", "")
        if i is not None:
            local += str(i)
        return name, f"{local}@{self.r.choice(DOMAINS)}"

    def mailbox(self, i=None):
        name, a = self.addr(i)
        if "'" in name or self.r.random() < 0.3:
            return f'"{name}" <{a}>'
        return f"{name} <{a}>"

    def date(self):
        r = self.r
        return (f"{r.choice(TLD_DAYS)}, {r.randint(1, 28):02d} {r.choice(MONTHS)} "
                f"{r.randint(2019, 2026)} {r.randint(0, 23):02d}:{r.randint(0, 59):02d}:"
                f"{r.randint(0, 59):02d} {r.choice(('+0000', '+0100', '-0500', '+0900'))}")

    def msgid(self, n):
        return f"<{n}.{self.r.getrandbits(40):x}@{self.r.choice(DOMAINS)}>"

    def html_line(self, n):
        """n bytes of HTML without a line end (generated-mail style)."""
        r = self.r
        cells = []
        size = 0
        head = ('<!DOCTYPE html><html><head><meta charset="utf-8"><style>td{padding:0}'
                '</style></head><body style="margin:0"><table width="100%" cellpadding="0">')
        size = len(head)
        while size < n:
            c = (f'<tr><td class="c{r.randint(0, 99)}" style="color:#{r.getrandbits(24):06x};'
                 f'font-family:Arial,sans-serif"><a href="https://{r.choice(DOMAINS)}/t/'
                 f'{r.getrandbits(64):016x}">{self.words(r.randint(2, 9))}</a></td></tr>')
            cells.append(c)
            size += len(c)
        s = (head + "".join(cells))[:max(n - 22, 0)] + "</table></body></html>"
        return s[:n].encode()

    def b64(self, n):
        data = self.r.randbytes(n)
        enc = base64.b64encode(data).decode()
        return "\r\n".join(enc[i:i + 76] for i in range(0, len(enc), 76))


def header(g, n, subject=None, extra=(), sender=None, to=None):
    lines = [
        f"Received: from mx{n % 7}.{g.r.choice(DOMAINS)} (mx [192.0.2.{n % 250 + 1}])\r\n"
        f"\tby relay.example.net with ESMTPS id {g.r.getrandbits(48):012x}; {g.date()}",
        f"From: {sender or g.mailbox()}",
        f"To: {to or g.mailbox()}",
        f"Subject: {subject if subject is not None else g.sentence()}",
        f"Date: {g.date()}",
        f"Message-ID: {g.msgid(n)}",
        f"X-Corpus-Id: {n:05d}",
    ]
    lines += list(extra)
    return "\r\n".join(lines) + "\r\n"


def text_body(g, lo=3, hi=60):
    return "\r\n".join(g.paragraph_lines(g.r.randint(lo, hi))) + "\r\n"


def make_plain(g, n):
    return (header(g, n) + "\r\n" + text_body(g)).encode()


def long_html_size(g):
    x = g.r.random()
    if x < 0.05:
        return g.r.randint(100_000, 900_000)
    if x < 0.25:
        return g.r.choice((23_000, 23_000, 48_000, 64_000))
    return g.r.randint(1_200, 30_000)


def make_html_long(g, n):
    b = f"=_alt_{g.r.getrandbits(32):08x}"
    html = g.html_line(long_html_size(g))
    cte = g.r.choice(("8bit", "7bit", "", "8bit"))
    cte_line = f"Content-Transfer-Encoding: {cte}\r\n" if cte else ""
    h = header(g, n, extra=("MIME-Version: 1.0",
                            f'Content-Type: multipart/alternative; boundary="{b}"',
                            "List-Unsubscribe: <https://example.org/unsub>"))
    return (h + "\r\n" + f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + text_body(g, 2, 20) + f"\r\n--{b}\r\n"
            f"Content-Type: text/html; charset=utf-8\r\n{cte_line}\r\n").encode() + \
        html + f"\r\n--{b}--\r\n".encode()


def make_attachment(g, n, size=None):
    b = f"----=_Part_{g.r.getrandbits(40)}"
    size = size or int(g.r.choice((1_000, 5_000, 20_000, 60_000, 150_000, 400_000))
                       * g.r.uniform(0.5, 1.0))
    kind, name = g.r.choice((("application/pdf", "report.pdf"), ("image/png", "photo.png"),
                             ("application/zip", "files.zip"),
                             ("application/octet-stream", "data.bin")))
    h = header(g, n, extra=("MIME-Version: 1.0",
                            f'Content-Type: multipart/mixed; boundary="{b}"'))
    return (h + "\r\nThis is a multi-part message in MIME format.\r\n\r\n"
            f"--{b}\r\nContent-Type: text/plain; charset=us-ascii\r\n"
            "Content-Transfer-Encoding: 7bit\r\n\r\n" + text_body(g, 2, 15) +
            f"\r\n--{b}\r\nContent-Type: {kind}; name=\"{name}\"\r\n"
            "Content-Transfer-Encoding: base64\r\n"
            f"Content-Disposition: attachment; filename=\"{name}\"\r\n\r\n" +
            g.b64(size) + f"\r\n--{b}--\r\n").encode()


def make_utf8(g, n):
    lines = []
    for _ in range(g.r.randint(3, 40)):
        lines.append("".join(g.r.choice(UTF8_TEXT) for _ in range(g.r.randint(1, 3))).strip())
    h = header(g, n, extra=("MIME-Version: 1.0", "Content-Type: text/plain; charset=utf-8",
                            "Content-Transfer-Encoding: 8bit"))
    return (h + "\r\n" + "\r\n".join(lines) + "\r\n").encode()


def enc_word(g, text):
    raw = text.encode()
    if g.r.random() < 0.5:
        return "=?UTF-8?B?" + base64.b64encode(raw).decode() + "?="
    q = "".join(chr(c) if (48 <= c <= 57 or 65 <= c <= 90 or 97 <= c <= 122) else
                "_" if c == 32 else f"={c:02X}" for c in raw)
    return "=?utf-8?q?" + q + "?="


def make_encoded_words(g, n):
    subj = enc_word(g, g.r.choice(UTF8_TEXT).strip()[:20]) + " " + g.words(3)
    sender = enc_word(g, "Jörg Müller") + f" <joerg@{g.r.choice(DOMAINS)}>"
    to = f'"{g.r.choice(NAMES)}" <x@example.org>, ' + enc_word(g, "Zoë") + " <zoe@example.net>"
    h = header(g, n, subject=subj, sender=sender, to=to,
               extra=("MIME-Version: 1.0", "Content-Type: text/plain; charset=ISO-8859-1",
                      "Content-Transfer-Encoding: quoted-printable"))
    body = "Gr=FC=DFe aus K=F6ln,\r\nsch=F6ne Gr=FC=DFe =3D viele.\r\n" + text_body(g, 1, 10)
    return (h + "\r\n" + body).encode()


def make_folded(g, n):
    to = ",\r\n ".join(g.mailbox(i) for i in range(g.r.randint(3, 40)))
    refs = "\r\n\t".join(g.msgid(n * 100 + i) for i in range(g.r.randint(2, 30)))
    subj = g.sentence() + "\r\n " + g.sentence()
    h = header(g, n, subject=subj, to=to, extra=(f"References: {refs}",
                                                 f"In-Reply-To: {g.msgid(n + 1)}",
                                                 "Cc: " + ",\r\n\t".join(g.mailbox(i) for i in range(5))))
    return (h + "\r\n" + text_body(g)).encode()


def make_long_header(g, n):
    k = g.r.choice((60, 300, 1000, 1700))
    to = ", ".join(f"User {i} <user{i}@{g.r.choice(DOMAINS)}>" for i in range(k))
    refs = " ".join(g.msgid(n * 1000 + i) for i in range(g.r.randint(20, 300)))
    extra = [f"References: {refs}", "X-Long-Token: " + "a1b2c3d4" * g.r.randint(200, 2000)]
    return (header(g, n, to=to, extra=extra) + "\r\n" + text_body(g, 2, 10)).encode()


def make_nested(g, n):
    outer = f"outer-{g.r.getrandbits(32):x}"
    alt = f"alt-{g.r.getrandbits(32):x}"
    rel = f"rel-{g.r.getrandbits(32):x}"
    html = g.html_line(g.r.randint(3_000, 40_000))
    inner_msg = (b"From: " + g.mailbox().encode() + b"\r\nTo: someone@example.org\r\n"
                 b"Subject: Fwd: " + g.sentence().encode() + b"\r\nMIME-Version: 1.0\r\n"
                 b"Content-Type: text/html; charset=utf-8\r\n\r\n" + g.html_line(g.r.randint(1_500, 25_000)) +
                 b"\r\n")
    h = header(g, n, extra=("MIME-Version: 1.0",
                            f"Content-Type: multipart/mixed; boundary={outer}"))
    parts = (h + "\r\n" + f"--{outer}\r\nContent-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n"
             f"--{alt}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + text_body(g, 2, 8) +
             f"\r\n--{alt}\r\nContent-Type: multipart/related; boundary=\"{rel}\"; type=\"text/html\"\r\n\r\n"
             f"--{rel}\r\nContent-Type: text/html; charset=utf-8\r\n\r\n").encode() + html + \
        (f"\r\n--{rel}\r\nContent-Type: image/gif\r\nContent-ID: <logo@example.org>\r\n"
         "Content-Transfer-Encoding: base64\r\nContent-Disposition: inline\r\n\r\n" + g.b64(2_000) +
         f"\r\n--{rel}--\r\n\r\n--{alt}--\r\n\r\n--{outer}\r\nContent-Type: message/rfc822\r\n"
         "Content-Disposition: attachment\r\n\r\n").encode() + inner_msg + \
        f"\r\n--{outer}--\r\nepilogue text\r\n".encode()
    return parts


ODD = (
    # no space after the colon, lowercase and odd-case names
    lambda g, n: (f"from:{g.mailbox()}\r\nTO:{g.mailbox()}\r\nsubject:\r\ndate: {g.date()}\r\n"
                  f"message-id: {g.msgid(n)}\r\nX-Corpus-Id: {n:05d}\r\n\r\n" + text_body(g, 1, 5)).encode(),
    # lines of ".", "..", ".dot" and "From " in the body
    lambda g, n: (header(g, n) + "\r\n.\r\n..\r\n.dot first\r\nFrom the start\r\n>From quoted\r\n"
                  "end\r\n.\r\n").encode(),
    # group syntax and comments
    lambda g, n: (header(g, n, to="undisclosed-recipients:;",
                         sender=f"(the boss) boss@example.org (Boss Man)",
                         extra=(f'Cc: Team: a@example.org, "B \\"Q\\" C" <b@example.org>;',)) +
                  "\r\n" + text_body(g, 1, 5)).encode(),
    # a header section and no body at all
    lambda g, n: header(g, n).encode(),
    # a header, a blank line, nothing else
    lambda g, n: (header(g, n) + "\r\n").encode(),
    # quoted boundary with specials, a preamble and an epilogue, upper-case CTE
    lambda g, n: (header(g, n, extra=("MIME-Version: 1.0",
                                      'Content-Type: MULTIPART/MIXED; BOUNDARY="=_?:()+,./ x"'))
                  + "\r\npreamble\r\n--=_?:()+,./ x\r\nContent-Type: TEXT/PLAIN\r\n"
                  "Content-Transfer-Encoding: BASE64\r\n\r\n" + g.b64(300) +
                  "\r\n--=_?:()+,./ x--\r\n\r\nepilogue\r\n").encode(),
    # 200 Received fields, trailing spaces and tabs, blank-looking lines
    lambda g, n: ("".join(f"Received: from h{i}.example.org by h{i + 1}.example.org; {g.date()}\r\n"
                          for i in range(200)) + header(g, n) +
                  "\r\nline with trailing spaces   \r\n \r\n\t\r\nend\t\r\n").encode(),
    # raw UTF-8 in the header (RFC 6532), an obsolete date form
    lambda g, n: (f"From: Jörg <j@example.de>\r\nTo: Zoë <z@example.org>\r\n"
                  f"Subject: Grüße {n}\r\nDate: 1 Jan 99 00:00 GMT\r\nMessage-ID: {g.msgid(n)}\r\n"
                  f"X-Corpus-Id: {n:05d}\r\nMIME-Version: 1.0\r\n"
                  "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                  + "".join(g.r.choice(UTF8_TEXT) for _ in range(5)) + "\r\n").encode(),
    # a long text line in a plain message, without MIME
    lambda g, n: (header(g, n) + "\r\n" + g.words(g.r.randint(500, 3000)) + "\r\n").encode(),
)


def make_odd(g, n):
    return g.r.choice(ODD)(g, n)


def make_no_final_crlf(g, n):
    return make_plain(g, n).rstrip(b"\r\n")


def make_unix_lf(g, n):
    return make_plain(g, n).replace(b"\r\n", b"\n")


def make_near_limit(g, n):
    # base64 grows 4/3 and adds line ends: pick the raw size to land near
    return make_attachment(g, n, size=int(NEAR_LIMIT * 3 / 4 * 76 / 78) - 4000)


MAKERS = {
    "plain": make_plain, "html_long": make_html_long, "attachment": make_attachment,
    "utf8": make_utf8, "encoded_words": make_encoded_words, "folded": make_folded,
    "long_header": make_long_header, "nested": make_nested, "odd": make_odd,
    "no_final_crlf": make_no_final_crlf, "unix_lf": make_unix_lf,
    "near_limit": make_near_limit,
}


def wire_form(data):
    """What an SMTP client sends (before dot-stuffing): CRLF line ends,
    and a final CRLF."""
    if b"\r\n" not in data and b"\n" in data:
        data = data.replace(b"\n", b"\r\n")
    if not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def corpus(count=DEFAULT_COUNT, seed=DEFAULT_SEED):
    """Yields (id, kind, file bytes, wire bytes) for count messages."""
    g = Gen(seed)
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    # the near-limit messages at fixed, spread-out places
    near = {count * (i + 1) // (NEAR_LIMIT_COUNT + 1) for i in range(NEAR_LIMIT_COUNT)} \
        if count >= 100 else set()
    for n in range(1, count + 1):
        kind = "near_limit" if n in near else g.r.choices(kinds, weights)[0]
        data = MAKERS[kind](g, n)
        check(n, kind, data)
        yield n, kind, data, wire_form(data)


def check(n, kind, data):
    """What Postfix + Dovecot take: no NUL, no line over 1 MiB, under the
    size limit, one kind of line end."""
    assert b"\0" not in data, (n, kind)
    assert max(len(l) for l in data.split(b"\n")) < LINE_MAX - 2, (n, kind)
    assert len(data) < 10_240_000 - 10_000, (n, kind)
    assert (b"\r\n" in data) != (kind == "unix_lf"), (n, kind)
    assert data.count(b"\r") == data.count(b"\r\n"), (n, kind)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("outdir", nargs="?")
    ap.add_argument("--count", type=int, default=DEFAULT_COUNT)
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    ap.add_argument("--pack", help="write the wire forms to this file instead")
    args = ap.parse_args()
    if (args.outdir is None) == (args.pack is None):
        ap.error("give OUTDIR or --pack FILE")
    total = 0
    if args.pack:
        with open(args.pack, "wb") as fh:
            for _n, _kind, _data, wire in corpus(args.count, args.seed):
                fh.write(b"%d\n" % len(wire) + wire)
                total += len(wire)
    else:
        os.makedirs(args.outdir, exist_ok=True)
        with open(os.path.join(args.outdir, "MANIFEST"), "w") as man:
            for n, kind, data, wire in corpus(args.count, args.seed):
                with open(os.path.join(args.outdir, f"{n:05d}.eml"), "wb") as fh:
                    fh.write(data)
                man.write(f"{n:05d} {kind} {len(data)} {hashlib.sha256(wire).hexdigest()}\n")
                total += len(wire)
    print(f"{args.count} messages, {total} octets", file=sys.stderr)


if __name__ == "__main__":
    main()
