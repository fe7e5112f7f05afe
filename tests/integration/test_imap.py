"""IMAP against a real posthornd --dev with Python's imaplib and a raw
client (for what imaplib cannot say: IDLE, LITERAL+, ENABLE replies,
QRESYNC): capabilities, STARTTLS, LOGIN and AUTHENTICATE, NAMESPACE, LIST
and its extensions, mailbox management, STATUS, SELECT/EXAMINE, APPEND,
STORE, COPY/MOVE, EXPUNGE, CLOSE/UNSELECT, hostile input, curl, and the
issue's "done when" scenario. FETCH, SEARCH and several-session behaviour
are in test_imap_fetch.py, test_imap_search.py, test_imap_concurrency.py;
the helpers here are shared with them."""
import base64
import datetime
import hashlib
import hmac
import imaplib
import os
import re
import shutil
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import Posthornd

USER, PASSWORD = "demo@localhost", "demo"
SPECIAL_USE = {"Drafts": "\\Drafts", "Sent": "\\Sent", "Trash": "\\Trash",
               "Junk": "\\Junk", "Archive": "\\Archive"}
ISSUE_CAPS = ("IMAP4rev1", "IMAP4rev2", "IDLE", "UIDPLUS", "MOVE", "LITERAL+",
              "ENABLE", "NAMESPACE", "ID", "SPECIAL-USE", "UNSELECT", "CHILDREN",
              "LIST-EXTENDED", "LIST-STATUS", "ESEARCH", "STATUS=SIZE",
              "BINARY", "UTF8=ACCEPT", "CONDSTORE", "QRESYNC")


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def message(tag, body=None, subject=None, sender="alice@example.org"):
    """A small RFC 5322 message with CRLF line ends."""
    subject = subject or f"test message {tag}"
    body = body if body is not None else f"Body of {tag}.\r\nSecond line.\r\n"
    return (f"From: Alice <{sender}>\r\n"
            f"To: Demo <demo@localhost>\r\n"
            f"Subject: {subject}\r\n"
            f"Date: Sun, 22 Nov 2026 10:00:00 +0000\r\n"
            f"Message-ID: <{tag}@example.org>\r\n"
            f"\r\n{body}").encode()


def smtp_deliver(daemon, *messages, rcpt=USER):
    """Deliver messages to rcpt through the SMTP port, one session."""
    with smtplib.SMTP("127.0.0.1", daemon.port("smtp"), timeout=10) as s:
        for m in messages:
            s.sendmail("alice@example.org", [rcpt], m)


# ---------------------------------------------------------------- parsing

_ATOM_END = b" ()\r\n"


def parse(data, pos=0, depth=0):
    """Parse IMAP response data (literals inline, as Raw returns them) into
    nested lists: atoms as str, strings and literals as bytes, NIL as None.
    Returns (items, next position)."""
    items = []
    n = len(data)
    while pos < n:
        c = data[pos:pos + 1]
        if c == b" ":
            pos += 1
        elif c == b"(":
            sub, pos = parse(data, pos + 1, depth + 1)
            items.append(sub)
        elif c == b")":
            assert depth > 0, f"unbalanced ) in {data!r}"
            return items, pos + 1
        elif c == b'"':
            out = bytearray()
            pos += 1
            while data[pos:pos + 1] != b'"':
                if data[pos:pos + 1] == b"\\":
                    pos += 1
                out += data[pos:pos + 1]
                pos += 1
            items.append(bytes(out))
            pos += 1
        elif c in (b"{", b"~") and re.match(rb"~?\{\d+\}\r\n", data[pos:]):
            m = re.match(rb"~?\{(\d+)\}\r\n", data[pos:])
            start = pos + m.end()
            items.append(data[start:start + int(m.group(1))])
            pos = start + int(m.group(1))
        else:
            start = pos
            while pos < n and data[pos:pos + 1] not in (b" ", b"(", b")"):
                if data[pos:pos + 1] == b"[":  # BODY[HEADER.FIELDS (A B)]
                    pos = data.index(b"]", pos)
                pos += 1
            atom = data[start:pos].decode()
            items.append(None if atom.upper() == "NIL" else atom)
    assert depth == 0, f"unbalanced ( in {data!r}"
    return items, pos


def parse_all(data):
    return parse(data)[0]


def fetch_items(untagged):
    """{seq: {ITEM: value}} of the FETCH responses among untagged ones;
    several FETCH responses for one message are merged. FLAGS leave out
    \\Recent (session-specific, RFC 3501 only; tested with SEARCH RECENT)."""
    out = {}
    for resp in untagged:
        m = re.match(rb"\* (\d+) FETCH ", resp)
        if not m:
            continue
        (lst,) = parse_all(resp[m.end():])
        d = out.setdefault(int(m.group(1)), {})
        for k in range(0, len(lst), 2):
            key, value = lst[k].upper(), lst[k + 1]
            if key == "FLAGS":
                value = [f for f in value if f.lower() != "\\recent"]
            d[key] = value
    return out


def instant(internaldate):
    """An INTERNALDATE as an aware datetime: servers may keep the zone or
    convert to their own, the instant must stay."""
    if isinstance(internaldate, bytes):
        internaldate = internaldate.decode()
    return datetime.datetime.strptime(internaldate.strip(), "%d-%b-%Y %H:%M:%S %z")


def mutf7(name):
    """RFC 3501 5.1.3 modified UTF-7 of a mailbox name."""
    out, run = [], ""

    def flush():
        if run:
            b64 = base64.b64encode(run.encode("utf-16-be")).decode()
            out.append("&" + b64.rstrip("=").replace("/", ",") + "-")
    for ch in name:
        if 0x20 <= ord(ch) <= 0x7e:
            flush()
            run = ""
            out.append("&-" if ch == "&" else ch)
        else:
            run += ch
    flush()
    return "".join(out)


# ---------------------------------------------------------------- raw client

class Reply:
    def __init__(self, tag, tagged, untagged):
        self.tag = tag
        self.tagged = tagged            # the tagged line, bytes
        self.untagged = untagged        # untagged responses (literals inline)
        self.status = tagged.split(b" ", 2)[1].decode().upper()
        self.text = tagged.split(b" ", 2)[2].decode(errors="replace") \
            if tagged.count(b" ") >= 2 else ""

    @property
    def code(self):
        """The response code of the tagged line ("APPENDUID 1 5"), or ''."""
        m = re.match(r"\[([^\]]*)\]", self.text)
        return m.group(1) if m else ""

    def named(self, name):
        """Untagged responses "* NAME ..." (bytes after "* NAME ")."""
        pre = b"* " + name.encode() + b" "
        return [r[len(pre):] for r in self.untagged
                if r.upper().startswith(pre.upper()) or r.upper() == pre.strip().upper()]

    def __repr__(self):
        return f"<Reply {self.tagged!r} untagged={self.untagged!r}>"


class Raw:
    """A raw IMAP client: sends commands, reads whole responses with their
    literals, bounded by a socket timeout."""

    def __init__(self, port, tls=False, timeout=10, greeting=True):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.n = 0
        self.greeting = self.response() if greeting else None

    def starttls(self):
        r = self.cmd("STARTTLS")
        assert r.status == "OK", r
        assert self.buf == b""
        self.sock = tls_context().wrap_socket(self.sock)
        return r

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise EOFError(f"connection closed; pending {self.buf[:200]!r}")
        self.buf += chunk

    def line(self):
        """One line without its CRLF."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def response(self):
        """One whole response; a literal {n} is kept inline with its CRLF
        and bytes, then the rest of the response follows."""
        out = b""
        while True:
            line = self.line()
            out += line
            m = re.search(rb"~?\{(\d+)\}$", line)
            if not m:
                return out
            size = int(m.group(1))
            while len(self.buf) < size:
                self._fill()
            out += b"\r\n" + self.buf[:size]
            self.buf = self.buf[size:]

    def next_tag(self):
        self.n += 1
        return f"t{self.n}"

    def read_until_tag(self, tag):
        untagged = []
        while True:
            resp = self.response()
            if resp.startswith(tag.encode() + b" "):
                return Reply(tag, resp, untagged)
            untagged.append(resp)

    def cmd(self, text, *literals, tag=None, plus=False):
        """Send "TAG text"; text may be bytes or str. Each literal is sent
        after a synchronizing {n} (or {n+} when plus) that the text ends
        with a placeholder "{}" for. Returns the Reply."""
        tag = tag or self.next_tag()
        parts = (text.encode() if isinstance(text, str) else text).split(b"{}")
        assert len(parts) == len(literals) + 1
        self.send(tag.encode() + b" " + parts[0])
        for lit, rest in zip(literals, parts[1:]):
            mark = b"{%d+}" % len(lit) if plus else b"{%d}" % len(lit)
            self.send(mark + b"\r\n")
            if not plus:
                cont = self.response()
                if not cont.startswith(b"+"):
                    # Refused before the literal: that was the reply.
                    untagged = []
                    while not cont.startswith(tag.encode() + b" "):
                        untagged.append(cont)
                        cont = self.response()
                    return Reply(tag, cont, untagged)
            self.send(lit + rest)
        self.send(b"\r\n")
        return self.read_until_tag(tag)

    def ok(self, text, *literals, **kw):
        r = self.cmd(text, *literals, **kw)
        assert r.status == "OK", r
        return r

    def login(self, user=USER, password=PASSWORD):
        return self.ok(f'LOGIN "{user}" "{password}"')

    def capabilities(self):
        r = self.ok("CAPABILITY")
        (caps,) = r.named("CAPABILITY")
        return caps.decode().split()

    def closed(self, timeout=5):
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except (ConnectionResetError, ssl.SSLError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def wait_for(r, want, seconds):
    """Read untagged responses until one equals want; False when seconds
    pass first. The Raw client keeps its normal timeout afterwards."""
    deadline = time.monotonic() + seconds
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            r.sock.settimeout(left)
            if r.response() == want:
                return True
    except socket.timeout:
        return False
    finally:
        r.sock.settimeout(10)


def logged_in(daemon, user=USER, password=PASSWORD):
    r = Raw(daemon.port("imap"))
    r.login(user, password)
    return r


def imap(daemon, user=USER, password=PASSWORD):
    """An imaplib client logged in over plaintext loopback."""
    m = imaplib.IMAP4("127.0.0.1", daemon.port("imap"), timeout=10)
    m.login(user, password)
    return m


def append(r, mailbox, msg, flags="", date=None):
    """APPEND through a Raw client; returns the UID from APPENDUID."""
    args = f'"{mailbox}"'
    if flags:
        args += f" ({flags})"
    if date:
        args += f' "{date}"'
    rep = r.ok(f"APPEND {args} {{}}", msg)
    m = re.match(r"APPENDUID (\d+) (\d+)$", rep.code)
    assert m, rep
    return int(m.group(2))


def list_names(reply):
    """{name: set(attributes)} of the LIST/LSUB responses of a Reply."""
    out = {}
    for resp in reply.untagged:
        m = re.match(rb"\* (LIST|LSUB) ", resp, re.I)
        if not m:
            continue
        attrs, delim, name = parse_all(resp[m.end():])[:3]
        if isinstance(name, bytes):
            name = name.decode()
        out[name] = {a.lower() for a in attrs}
    return out


def status_items(reply, mailbox=None):
    """{ITEM: int} of the STATUS response in a Reply."""
    for resp in reply.untagged:
        if resp.upper().startswith(b"* STATUS "):
            name, items = parse_all(resp[9:])
            if isinstance(name, bytes):
                name = name.decode()
            if mailbox is None or name == mailbox:
                return {items[k].upper(): int(items[k + 1]) for k in range(0, len(items), 2)}
    raise AssertionError(f"no STATUS for {mailbox} in {reply}")


def resp_code(reply, name):
    """The argument of an untagged "* OK [NAME arg]" in a Reply."""
    for resp in reply.untagged:
        m = re.match(rb"\* OK \[" + name.encode() + rb"(?: ([^\]]*))?\]", resp, re.I)
        if m:
            return (m.group(1) or b"").decode()
    return None


def exists(reply):
    vals = [int(m.group(1)) for r in reply.untagged
            for m in [re.match(rb"\* (\d+) EXISTS", r)] if m]
    return vals[-1] if vals else None


def scram_client(r, user, password, sasl_ir=True):
    """AUTHENTICATE SCRAM-SHA-256 (RFC 5802/7677) over Raw; returns the Reply."""
    nonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = f"n={user},r={nonce}"
    first = base64.b64encode(("n,," + first_bare).encode()).decode()
    tag = r.next_tag()
    if sasl_ir:
        r.send(f"{tag} AUTHENTICATE SCRAM-SHA-256 {first}\r\n".encode())
    else:
        r.send(f"{tag} AUTHENTICATE SCRAM-SHA-256\r\n".encode())
        assert r.response().startswith(b"+"), "no empty challenge"
        r.send(first.encode() + b"\r\n")
    cont = r.response()
    if not cont.startswith(b"+ "):
        return Reply(tag, cont, [])
    server_first = base64.b64decode(cont[2:]).decode()
    fields = dict(f.split("=", 1) for f in server_first.split(","))
    assert fields["r"].startswith(nonce)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(),
                                 base64.b64decode(fields["s"]), int(fields["i"]))
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    final_wo_proof = f"c=biws,r={fields['r']}"
    auth_msg = f"{first_bare},{server_first},{final_wo_proof}".encode()
    sig = hmac.new(stored_key, auth_msg, hashlib.sha256).digest()
    proof = base64.b64encode(bytes(a ^ b for a, b in zip(client_key, sig))).decode()
    r.send(base64.b64encode(f"{final_wo_proof},p={proof}".encode()) + b"\r\n")
    resp = r.response()
    if resp.startswith(b"+ "):
        server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()
        expect = base64.b64encode(hmac.new(server_key, auth_msg, hashlib.sha256)
                                  .digest()).decode()
        assert base64.b64decode(resp[2:]).decode() == "v=" + expect
        r.send(b"\r\n")
        return r.read_until_tag(tag)
    untagged = []
    while not resp.startswith(tag.encode() + b" "):
        untagged.append(resp)
        resp = r.response()
    rep = Reply(tag, resp, untagged)
    # RFC 9051 6.2.2: the server's final message may ride on the OK.
    return rep


# ---------------------------------------------------------------- tests

def test_greeting_and_capabilities_before_login(daemon):
    r = Raw(daemon.port("imap"))
    assert r.greeting.startswith(b"* OK"), r.greeting
    caps = r.capabilities()
    for c in ("IMAP4rev1", "IMAP4rev2", "STARTTLS", "AUTH=PLAIN",
              "AUTH=SCRAM-SHA-256", "SASL-IR", "LITERAL+", "ID", "ENABLE"):
        assert c in caps, (c, caps)
    assert "LOGINDISABLED" not in caps  # dev mode: plaintext on loopback
    assert r.ok("NOOP").status == "OK"
    assert r.cmd("SELECT INBOX").status in ("BAD", "NO")  # not logged in
    rep = r.ok("LOGOUT")
    assert rep.named("BYE")
    assert r.closed()


def test_capabilities_after_starttls_and_login(daemon):
    r = Raw(daemon.port("imap"))
    r.starttls()
    caps = r.capabilities()
    assert "STARTTLS" not in caps
    assert "AUTH=PLAIN" in caps and "IMAP4rev2" in caps
    assert r.cmd("STARTTLS").status in ("BAD", "NO")  # no second STARTTLS
    rep = r.login()
    caps = r.capabilities()
    for c in ISSUE_CAPS:
        assert c in caps, (c, caps)
    assert any(c.startswith("APPENDLIMIT") for c in caps), caps
    assert "STARTTLS" not in caps
    # The tagged OK of LOGIN may carry the new list (RFC 9051 6.2.3).
    m = re.match(r"CAPABILITY (.*)", rep.code)
    if m:
        assert "IDLE" in m.group(1).split()
    r.close()


def test_logindisabled_without_tls(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path) as fh:
        conf = fh.read().replace("allow_plaintext = loopback", "allow_plaintext = never")
    with open(d.config_path, "w") as fh:
        fh.write(conf)
    d.start()
    try:
        r = Raw(d.port("imap"))
        caps = r.capabilities()
        assert "LOGINDISABLED" in caps and "STARTTLS" in caps
        assert "AUTH=PLAIN" not in caps
        assert r.cmd(f'LOGIN "{USER}" "{PASSWORD}"').status == "NO"
        r.starttls()
        caps = r.capabilities()
        assert "LOGINDISABLED" not in caps and "AUTH=PLAIN" in caps
        r.login()
        assert r.ok("SELECT INBOX")
        r.close()
    finally:
        status = d.stop()
        d.assert_clean()
    assert status == 0


def test_imaps_implicit_tls(daemon):
    m = imaplib.IMAP4_SSL("127.0.0.1", daemon.port("imaps"),
                          ssl_context=tls_context(), timeout=10)
    assert "STARTTLS" not in m.capabilities
    m.login(USER, PASSWORD)
    typ, data = m.select("INBOX")
    assert typ == "OK"
    m.logout()


def test_imaplib_starttls_login(daemon):
    m = imaplib.IMAP4("127.0.0.1", daemon.port("imap"), timeout=10)
    m.starttls(ssl_context=tls_context())
    typ, _ = m.login(USER, PASSWORD)
    assert typ == "OK"
    assert m.state == "AUTH"
    m.logout()


def test_login_failures(daemon):
    m = imaplib.IMAP4("127.0.0.1", daemon.port("imap"), timeout=10)
    with pytest.raises(imaplib.IMAP4.error) as err:
        m.login(USER, "wrong")
    assert "AUTHENTICATIONFAILED" in str(err.value)
    with pytest.raises(imaplib.IMAP4.error):
        m.login("nobody@localhost", "demo")
    m.login(USER, PASSWORD)
    m.logout()


def test_failed_login_delays_next_answer(daemon):
    r = Raw(daemon.port("imap"))
    assert r.cmd(f'LOGIN "{USER}" "bad"').status == "NO"
    start = time.monotonic()
    r.login()
    # only a lower bound: a loaded machine may add to it, never take away
    assert time.monotonic() - start >= 0.9  # dev fail delay is 1 s
    r.close()


def test_authenticate_plain_with_and_without_sasl_ir(daemon):
    cred = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
    r = Raw(daemon.port("imap"))
    rep = r.cmd(f"AUTHENTICATE PLAIN {cred}")  # SASL-IR
    assert rep.status == "OK", rep
    assert r.ok("SELECT INBOX")
    r.close()
    r = Raw(daemon.port("imap"))
    tag = r.next_tag()
    r.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
    assert r.response().startswith(b"+")
    r.send(cred.encode() + b"\r\n")
    assert r.read_until_tag(tag).status == "OK"
    r.close()
    # A wrong password and a cancelled exchange.
    r = Raw(daemon.port("imap"))
    bad = base64.b64encode(f"\0{USER}\0nope".encode()).decode()
    rep = r.cmd(f"AUTHENTICATE PLAIN {bad}")
    assert rep.status == "NO" and "AUTHENTICATIONFAILED" in rep.text
    tag = r.next_tag()
    r.send(f"{tag} AUTHENTICATE PLAIN\r\n".encode())
    assert r.response().startswith(b"+")
    r.send(b"*\r\n")
    assert r.read_until_tag(tag).status == "BAD"
    assert r.cmd("AUTHENTICATE NOSUCHMECH").status in ("NO", "BAD")
    r.close()


def test_authenticate_scram_sha256(daemon):
    for sasl_ir in (True, False):
        r = Raw(daemon.port("imap"))
        rep = scram_client(r, USER, PASSWORD, sasl_ir=sasl_ir)
        assert rep.status == "OK", rep
        assert r.ok("SELECT INBOX")
        r.close()
    r = Raw(daemon.port("imap"))
    assert scram_client(r, USER, "wrong").status == "NO"
    r.close()


def test_enable_id_namespace(daemon):
    r = logged_in(daemon)
    rep = r.ok("ENABLE CONDSTORE X-UNKNOWN-EXT")
    (en,) = rep.named("ENABLED")
    assert en.decode().split() == ["CONDSTORE"]
    rep = r.ok("ENABLE UTF8=ACCEPT")
    assert rep.named("ENABLED")[0].decode().split() == ["UTF8=ACCEPT"]
    rep = r.ok('ID ("name" "pytest" "version" "1")')
    (idr,) = rep.named("ID")
    fields = parse_all(idr)[0]
    assert fields is None or (isinstance(fields, list) and len(fields) % 2 == 0)
    if fields:
        keys = [f.lower() for f in fields[0::2]]
        assert b"name" in keys
    assert r.ok("ID NIL").named("ID")
    rep = r.ok("NAMESPACE")
    (ns,) = rep.named("NAMESPACE")
    personal, other, shared = parse_all(ns)
    assert personal == [[b"", b"/"]]
    r.close()


def test_enable_before_login_refused(daemon):
    r = Raw(daemon.port("imap"))
    assert r.cmd("ENABLE CONDSTORE").status in ("BAD", "NO")
    r.close()


def test_list_special_use_and_children(daemon):
    r = logged_in(daemon)
    r.ok('CREATE "Projects/Alpha"')
    names = list_names(r.ok('LIST "" "*"'))
    for name, use in SPECIAL_USE.items():
        assert use.lower() in names[name], (name, names[name])
    assert "INBOX" in names
    assert "\\hasnochildren" in names["INBOX"]
    assert "\\haschildren" in names["Projects"]
    assert "\\hasnochildren" in names["Projects/Alpha"]
    # % stops at the delimiter
    top = list_names(r.ok('LIST "" "%"'))
    assert "Projects" in top and "Projects/Alpha" not in top
    # the delimiter query
    rep = r.ok('LIST "" ""')
    (lst,) = rep.named("LIST")
    attrs, delim, name = parse_all(lst)
    assert delim == b"/" and "\\noselect" in {a.lower() for a in attrs}
    # inbox is case-insensitive
    assert "INBOX" in list_names(r.ok('LIST "" "inbox"'))
    # LIST-EXTENDED: selection SPECIAL-USE, return SPECIAL-USE, patterns list
    sel = list_names(r.ok('LIST (SPECIAL-USE) "" "*"'))
    assert set(sel) == set(SPECIAL_USE), sel
    ret = list_names(r.ok('LIST "" ("INBOX" "Sent") RETURN (SPECIAL-USE CHILDREN)'))
    assert set(ret) == {"INBOX", "Sent"}
    assert "\\sent" in ret["Sent"]
    r.close()


def test_subscribe_lsub_and_list_subscribed(daemon):
    r = logged_in(daemon)
    r.ok('CREATE "Lists"')
    r.ok('CREATE "Lists/Sub"')
    r.ok('SUBSCRIBE "Lists/Sub"')
    lsub = list_names(r.ok('LSUB "" "*"'))
    assert "Lists/Sub" in lsub
    assert "Lists" not in lsub
    # RFC 3501 6.3.9: "%" shows a non-subscribed parent of a subscribed child.
    lsub = list_names(r.ok('LSUB "" "Lists/%"'))
    assert "Lists/Sub" in lsub
    sub = list_names(r.ok('LIST (SUBSCRIBED) "" "Lists*"'))
    assert set(sub) == {"Lists/Sub"}
    assert "\\subscribed" in sub["Lists/Sub"]
    ret = list_names(r.ok('LIST "" "Lists*" RETURN (SUBSCRIBED)'))
    assert "\\subscribed" in ret["Lists/Sub"] and "\\subscribed" not in ret["Lists"]
    # RECURSIVEMATCH: a parent whose child is subscribed
    rec = r.ok('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"')
    assert any(b'"Lists"' in x or b" Lists" in x for x in rec.untagged if b"CHILDINFO" in x), rec
    r.ok('UNSUBSCRIBE "Lists/Sub"')
    assert "Lists/Sub" not in list_names(r.ok('LSUB "" "*"'))
    r.close()


def test_list_status(daemon):
    r = logged_in(daemon)
    append(r, "INBOX", message("ls1"))
    append(r, "INBOX", message("ls2"), flags="\\Seen")
    rep = r.ok('LIST "" "*" RETURN (STATUS (MESSAGES UNSEEN SIZE))')
    st = status_items(rep, "INBOX")
    assert st["MESSAGES"] == 2 and st["UNSEEN"] == 1
    assert st["SIZE"] == len(message("ls1")) + len(message("ls2"))
    assert status_items(rep, "Trash")["MESSAGES"] == 0
    # each STATUS follows its LIST line
    order = [x.split(b" ", 2)[1].upper() for x in rep.untagged]
    assert order[0] == b"LIST" and order.count(b"STATUS") == order.count(b"LIST")
    r.close()


def test_create_delete_rename_hierarchy(daemon):
    r = logged_in(daemon)
    r.ok('CREATE "a/b/c"')
    names = list_names(r.ok('LIST "" "a*"'))
    assert {"a", "a/b", "a/b/c"} <= set(names)
    assert r.cmd('CREATE "a/b/c"').status == "NO"        # exists
    r.cmd('CREATE "a/b"')  # made on the way: exists, or now selectable
    assert r.cmd('CREATE "INBOX"').status == "NO"
    assert r.cmd('CREATE "inbox"').status == "NO"
    append(r, "a/b", message("in-ab"))
    r.ok('RENAME "a" "z"')
    names = list_names(r.ok('LIST "" "*"'))
    assert {"z", "z/b", "z/b/c"} <= set(names) and "a/b" not in names
    assert status_items(r.ok('STATUS "z/b" (MESSAGES)'))["MESSAGES"] == 1
    assert r.cmd('RENAME "nonexistent" "q"').status == "NO"
    assert r.cmd('RENAME "z" "Sent"').status == "NO"     # target exists
    # RFC 3501 6.3.4: a mailbox with children loses its messages and
    # becomes \Noselect; a \Noselect name with children cannot be deleted.
    r.ok('DELETE "z/b"')
    names = list_names(r.ok('LIST "" "z*"'))
    assert "\\noselect" in names["z/b"] and "z/b/c" in names
    assert r.cmd('SELECT "z/b"').status == "NO"
    assert r.cmd('DELETE "z/b"').status == "NO"
    r.ok('DELETE "z/b/c"')
    assert "z/b/c" not in list_names(r.ok('LIST "" "z*"'))
    assert r.cmd('DELETE "INBOX"').status == "NO"
    assert r.cmd('DELETE "never-made"').status == "NO"
    r.close()


def test_rename_inbox_moves_messages(daemon):
    r = logged_in(daemon)
    append(r, "INBOX", message("ri1"))
    append(r, "INBOX", message("ri2"))
    r.ok('RENAME "INBOX" "Old Inbox"')
    assert status_items(r.ok('STATUS "Old Inbox" (MESSAGES)'))["MESSAGES"] == 2
    assert status_items(r.ok('STATUS "INBOX" (MESSAGES)'))["MESSAGES"] == 0
    assert "INBOX" in list_names(r.ok('LIST "" "*"'))
    r.close()


def test_mutf7_and_utf8_accept_names(daemon):
    r = logged_in(daemon)
    assert mutf7("Entwürfe") == "Entw&APw-rfe"
    r.ok('CREATE "Entw&APw-rfe"')
    r.ok('CREATE "Tom &- Jerry"')
    names = list_names(r.ok('LIST "" "*"'))
    assert "Entw&APw-rfe" in names and "Tom &- Jerry" in names
    assert r.cmd('CREATE "bad&name"').status in ("NO", "BAD")  # invalid mUTF-7
    u = Raw(daemon.port("imap"))
    u.login()
    u.ok("ENABLE UTF8=ACCEPT")
    names = list_names(u.ok('LIST "" "*"'))
    assert "Entwürfe" in names and "Tom & Jerry" in names
    u.ok('CREATE {}', "Größe/Ärger".encode(), plus=True)
    assert status_items(u.ok('STATUS "Entwürfe" (MESSAGES)'))["MESSAGES"] == 0
    u.close()
    names = list_names(r.ok('LIST "" "*"'))
    assert mutf7("Größe") in names and mutf7("Größe/Ärger") in names
    assert r.ok(f'SELECT "{mutf7("Größe/Ärger")}"')
    r.close()


def test_status_all_items(daemon):
    r = logged_in(daemon)
    msgs = [message(f"st{i}") for i in range(3)]
    append(r, "INBOX", msgs[0], flags="\\Seen")
    append(r, "INBOX", msgs[1], flags="\\Deleted")
    uid = append(r, "INBOX", msgs[2])
    rep = r.ok("STATUS INBOX (MESSAGES RECENT UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ)")
    st = status_items(rep, "INBOX")
    assert st["MESSAGES"] == 3
    assert st["UNSEEN"] == 2
    assert st["DELETED"] == 1
    assert st["SIZE"] == sum(len(m) for m in msgs)
    assert st["UIDNEXT"] > uid
    assert st["UIDVALIDITY"] > 0
    assert 0 <= st["RECENT"] <= 3
    assert st["HIGHESTMODSEQ"] > 0
    r.ok("SELECT INBOX")
    r.ok("STORE 3 +FLAGS (\\Flagged)")
    r.ok("UNSELECT")
    st2 = status_items(r.ok("STATUS INBOX (HIGHESTMODSEQ UIDVALIDITY)"))
    assert st2["HIGHESTMODSEQ"] > st["HIGHESTMODSEQ"]
    assert st2["UIDVALIDITY"] == st["UIDVALIDITY"]
    assert r.cmd("STATUS nosuchbox (MESSAGES)").status == "NO"
    r.close()


def test_select_examine(daemon):
    r = logged_in(daemon)
    uids = [append(r, "INBOX", message(f"se{i}")) for i in range(3)]
    rep = r.ok("SELECT INBOX")
    assert "READ-WRITE" in rep.code
    assert exists(rep) == 3
    flags = rep.named("FLAGS")
    assert flags and "\\Seen" in flags[0].decode()
    assert resp_code(rep, "UIDVALIDITY")
    assert int(resp_code(rep, "UIDNEXT")) > uids[-1]
    assert "\\*" in resp_code(rep, "PERMANENTFLAGS")
    rep = r.ok("EXAMINE INBOX")
    assert "READ-ONLY" in rep.code
    r.cmd("STORE 1 +FLAGS (\\Flagged)")  # refused or ignored: nothing changes
    assert "\\Flagged" not in fetch_items(r.ok("FETCH 1 FLAGS").untagged)[1]["FLAGS"]
    f = fetch_items(r.ok("FETCH 1 (BODY[] FLAGS)").untagged)
    assert f[1]["BODY[]"] == message("se0")
    r.ok("SELECT INBOX")
    f = fetch_items(r.ok("FETCH 1 FLAGS").untagged)
    assert "\\Seen" not in f[1]["FLAGS"]  # EXAMINE set no \Seen
    assert r.cmd('SELECT "no such"').status == "NO"
    # A failed SELECT leaves no mailbox selected.
    assert r.cmd("FETCH 1 FLAGS").status == "BAD"
    r.close()


def test_select_condstore_and_qresync(daemon):
    r = logged_in(daemon)
    uids = [append(r, "INBOX", message(f"q{i}")) for i in range(4)]
    rep = r.ok("SELECT INBOX (CONDSTORE)")
    hms = int(resp_code(rep, "HIGHESTMODSEQ"))
    validity = int(resp_code(rep, "UIDVALIDITY"))
    r.ok(f"UID STORE {uids[1]} +FLAGS.SILENT (\\Flagged)")
    r.ok(f"UID STORE {uids[3]} +FLAGS.SILENT (\\Deleted)")
    r.ok(f"UID EXPUNGE {uids[3]}")
    f = fetch_items(r.ok(f"FETCH 1:* (FLAGS) (CHANGEDSINCE {hms})").untagged)
    assert list(f) == [2], f
    assert "\\Flagged" in f[2]["FLAGS"] and int(f[2]["MODSEQ"][0]) > hms
    r.ok("UNSELECT")
    q = Raw(daemon.port("imap"))
    q.login()
    q.ok("ENABLE QRESYNC")
    rep = q.ok(f"SELECT INBOX (QRESYNC ({validity} {hms}))")
    vanished = [x for x in rep.untagged if x.upper().startswith(b"* VANISHED (EARLIER) ")]
    assert vanished and vanished[0].split()[-1] == str(uids[3]).encode()
    f = fetch_items(rep.untagged)
    assert len(f) == 1 and int(f[2]["UID"]) == uids[1]
    # After ENABLE QRESYNC an expunge is told as VANISHED, not EXPUNGE.
    q.ok(f"UID STORE {uids[0]} +FLAGS.SILENT (\\Deleted)")
    rep = q.ok("EXPUNGE")
    assert rep.named("VANISHED") == [str(uids[0]).encode()]
    assert not [x for x in rep.untagged if x.endswith(b" EXPUNGE")]
    # UID FETCH with VANISHED
    rep = q.ok(f"UID FETCH 1:* (FLAGS) (CHANGEDSINCE {hms} VANISHED)")
    v = [x for x in rep.untagged if x.upper().startswith(b"* VANISHED (EARLIER) ")]
    got = set()
    for x in v:
        for part in x.split()[-1].decode().split(","):
            a, _, b = part.partition(":")
            got |= set(range(int(a), int(b or a) + 1))
    assert got == {uids[0], uids[3]}
    q.close()
    r.close()


def test_append_flags_date_uid_and_limits(daemon):
    r = logged_in(daemon)
    msg = message("ap1")
    rep = r.ok('APPEND INBOX (\\Seen \\Flagged $Label1) "05-Mar-2026 14:03:00 +0100" {}', msg)
    m = re.match(r"APPENDUID (\d+) (\d+)$", rep.code)
    assert m, rep
    uid = int(m.group(2))
    r.ok("SELECT INBOX")
    f = fetch_items(r.ok(f"UID FETCH {uid} (FLAGS INTERNALDATE RFC822.SIZE BODY.PEEK[])").untagged)
    (item,) = f.values()
    assert set(item["FLAGS"]) >= {"\\Seen", "\\Flagged", "$Label1"}
    assert instant(item["INTERNALDATE"]) == instant("05-Mar-2026 14:03:00 +0100")
    assert int(item["RFC822.SIZE"]) == len(msg)
    assert item["BODY[]"] == msg
    # APPEND to a mailbox that does not exist
    rep = r.cmd('APPEND "Nope" {}', msg)
    assert rep.status == "NO" and "TRYCREATE" in rep.code
    # Over APPENDLIMIT: refused before the continuation, connection usable.
    caps = r.capabilities()
    limit = int([c for c in caps if c.startswith("APPENDLIMIT=")][0].split("=")[1])
    tag = r.next_tag()
    r.send(f"{tag} APPEND INBOX {{{limit + 1}}}\r\n".encode())
    resp = r.response()
    assert resp.startswith(tag.encode() + b" NO [TOOBIG]"), resp
    assert r.ok("NOOP")
    r.close()


def test_multiappend_literal_plus(daemon):
    r = logged_in(daemon)
    m1, m2, m3 = message("ma1"), message("ma2"), message("ma3")
    rep = r.cmd("APPEND INBOX (\\Seen) {} (\\Answered) {} {}", m1, m2, m3, plus=True)
    assert rep.status == "OK", rep
    m = re.match(r"APPENDUID (\d+) (\d+):(\d+)$", rep.code)
    assert m, rep
    lo, hi = int(m.group(2)), int(m.group(3))
    assert hi - lo == 2
    r.ok("SELECT INBOX")
    f = fetch_items(r.ok(f"UID FETCH {lo}:{hi} (UID FLAGS BODY.PEEK[])").untagged)
    byuid = {int(v["UID"]): v for v in f.values()}
    assert byuid[lo]["BODY[]"] == m1 and "\\Seen" in byuid[lo]["FLAGS"]
    assert byuid[lo + 1]["BODY[]"] == m2 and "\\Answered" in byuid[lo + 1]["FLAGS"]
    assert byuid[hi]["BODY[]"] == m3 and byuid[hi]["FLAGS"] == []
    # A MULTIAPPEND that fails appends nothing (RFC 3502).
    bad = r.cmd('APPEND INBOX {} (\\Seen) "99-Foo-2026 00:00:00 +0000" {}', m1, m2)
    assert bad.status in ("NO", "BAD")
    assert exists(r.ok("NOOP")) in (None, 3)
    assert status_items(r.ok("STATUS INBOX (MESSAGES)"))["MESSAGES"] == 3
    r.close()


def test_store_variants_and_unchangedsince(daemon):
    r = logged_in(daemon)
    for i in range(3):
        append(r, "INBOX", message(f"sto{i}"))
    r.ok("SELECT INBOX")
    f = fetch_items(r.ok("STORE 1 +FLAGS (\\Seen $Todo)").untagged)
    assert set(f[1]["FLAGS"]) == {"\\Seen", "$Todo"}
    f = fetch_items(r.ok("STORE 1 -FLAGS ($Todo)").untagged)
    assert f[1]["FLAGS"] == ["\\Seen"]
    f = fetch_items(r.ok("STORE 1:2 FLAGS (\\Answered)").untagged)
    assert f[1]["FLAGS"] == ["\\Answered"] and f[2]["FLAGS"] == ["\\Answered"]
    rep = r.ok("STORE 3 +FLAGS.SILENT (\\Draft)")
    assert not fetch_items(rep.untagged)
    f = fetch_items(r.ok("FETCH 3 FLAGS").untagged)
    assert f[3]["FLAGS"] == ["\\Draft"]
    f = fetch_items(r.ok("UID STORE 1:* -FLAGS (\\Answered)").untagged)
    assert all("UID" in v for v in f.values())
    assert r.cmd("STORE 1 +FLAGS (\\Recent)").status in ("BAD", "NO")
    assert r.cmd("STORE 9 +FLAGS (\\Seen)").status in ("BAD", "NO")
    # CONDSTORE: UNCHANGEDSINCE
    f = fetch_items(r.ok("FETCH 1:3 (MODSEQ)").untagged)
    ms = {s: int(v["MODSEQ"][0]) for s, v in f.items()}
    r.ok("STORE 2 +FLAGS.SILENT (\\Flagged)")
    rep = r.ok(f"STORE 1:3 (UNCHANGEDSINCE {ms[1]}) +FLAGS ($Checked)")
    assert rep.code == "MODIFIED 2" or rep.code.startswith("MODIFIED 2"), rep
    f = fetch_items(r.ok("FETCH 1:3 (FLAGS MODSEQ)").untagged)
    assert "$Checked" in f[1]["FLAGS"] and "$Checked" not in f[2]["FLAGS"]
    assert int(f[1]["MODSEQ"][0]) > ms[1]
    r.close()


def test_copy_move_with_copyuid(daemon):
    r = logged_in(daemon)
    msgs = [message(f"cm{i}") for i in range(4)]
    uids = [append(r, "INBOX", m) for m in msgs]
    r.ok('CREATE "Dest"')
    rep = r.ok("SELECT INBOX")
    rep = r.ok(f"UID COPY {uids[0]}:{uids[1]} Dest")
    m = re.match(r"COPYUID (\d+) (\S+) (\S+)$", rep.code)
    assert m, rep
    dest_validity = int(m.group(1))
    assert status_items(r.ok("STATUS Dest (MESSAGES)"))["MESSAGES"] == 2
    assert exists(r.ok("NOOP")) in (None, 4)
    rep = r.ok("MOVE 3 Dest")  # uids[2]
    copyuid = [x for x in rep.untagged if b"[COPYUID " in x]
    assert copyuid, rep
    cu = re.search(rb"\[COPYUID (\d+) (\S+) (\S+)\]", copyuid[0])
    assert int(cu.group(1)) == dest_validity and int(cu.group(2)) == uids[2]
    assert [x for x in rep.untagged if x == b"* 3 EXPUNGE"]
    # the COPYUID comes before the EXPUNGE (RFC 6851 4.3)
    assert rep.untagged.index(copyuid[0]) < rep.untagged.index(b"* 3 EXPUNGE")
    moved_uid = int(cu.group(3))
    r.ok("SELECT Dest")
    f = fetch_items(r.ok(f"UID FETCH {moved_uid} BODY.PEEK[]").untagged)
    assert list(f.values())[0]["BODY[]"] == msgs[2]
    assert status_items(r.ok("STATUS INBOX (MESSAGES)"))["MESSAGES"] == 3
    rep = r.cmd("COPY 1 Nowhere")
    assert rep.status == "NO" and "TRYCREATE" in rep.code
    r.close()


def _apply_expunges(seq_uids, untagged):
    for x in untagged:
        m = re.match(rb"\* (\d+) EXPUNGE$", x)
        if m:
            del seq_uids[int(m.group(1)) - 1]
    return seq_uids


def test_expunge_and_uid_expunge(daemon):
    r = logged_in(daemon)
    uids = [append(r, "INBOX", message(f"ex{i}")) for i in range(6)]
    r.ok("SELECT INBOX")
    r.ok("STORE 2,4 +FLAGS.SILENT (\\Deleted)")
    rep = r.ok("EXPUNGE")
    left = _apply_expunges(list(uids), rep.untagged)
    assert left == [uids[0], uids[2], uids[4], uids[5]]
    r.ok("STORE 1:* +FLAGS.SILENT (\\Deleted)")
    rep = r.ok(f"UID EXPUNGE {uids[4]}:{uids[5]}")
    left = _apply_expunges(left, rep.untagged)
    assert left == [uids[0], uids[2]]
    f = fetch_items(r.ok("FETCH 1:* UID").untagged)
    assert [int(f[s]["UID"]) for s in sorted(f)] == left
    r.close()


def test_close_expunges_unselect_does_not(daemon):
    r = logged_in(daemon)
    for i in range(3):
        append(r, "INBOX", message(f"cl{i}"))
    r.ok("SELECT INBOX")
    r.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    rep = r.ok("UNSELECT")
    assert not [x for x in rep.untagged if x.endswith(b"EXPUNGE")]
    assert r.cmd("FETCH 1 FLAGS").status == "BAD"
    assert status_items(r.ok("STATUS INBOX (MESSAGES)"))["MESSAGES"] == 3
    r.ok("SELECT INBOX")
    rep = r.ok("CLOSE")
    assert not [x for x in rep.untagged if x.endswith(b"EXPUNGE")]
    assert status_items(r.ok("STATUS INBOX (MESSAGES)"))["MESSAGES"] == 2
    # CLOSE after EXAMINE expunges nothing.
    r.ok("SELECT INBOX")
    r.ok("STORE 1 +FLAGS.SILENT (\\Deleted)")
    r.ok("EXAMINE INBOX")
    r.ok("CLOSE")
    assert status_items(r.ok("STATUS INBOX (MESSAGES)"))["MESSAGES"] == 2
    assert r.cmd("CLOSE").status == "BAD"  # nothing selected
    r.ok("SELECT INBOX")
    assert r.ok("CHECK")
    r.close()


def test_imaplib_session_roundtrip(daemon):
    """The ordinary client path: imaplib commands end to end."""
    m = imap(daemon)
    typ, _ = m.append("INBOX", "(\\Seen)", imaplib.Time2Internaldate(time.time()),
                      message("lib1"))
    assert typ == "OK"
    smtp_deliver(daemon, message("lib2"))
    typ, data = m.select("INBOX")
    assert typ == "OK" and int(data[0]) == 2
    typ, data = m.search(None, "UNSEEN")
    assert data[0].split() == [b"2"]
    typ, data = m.fetch("2", "(RFC822)")
    assert data[0][1].endswith(message("lib2"))
    typ, data = m.fetch("2", "(FLAGS)")
    assert b"\\Seen" in data[0]  # RFC822 sets \Seen
    m.create("Saved")
    typ, data = m.copy("1:2", "Saved")
    assert typ == "OK"
    typ, data = m.status("Saved", "(MESSAGES)")
    assert b"MESSAGES 2" in data[0]
    m.store("1", "+FLAGS", "\\Deleted")
    m.expunge()
    typ, data = m.select("INBOX")
    assert int(data[0]) == 1
    m.rename("Saved", "Kept")
    typ, data = m.list()
    assert any(b'"Kept"' in x or x.endswith(b" Kept") for x in data)
    m.delete("Kept")
    m.close()
    m.logout()


def test_bad_input(daemon):
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    assert r.cmd("\x01\x02 zzz").status == "BAD"
    assert r.cmd("FETCH 1 (FLAGS").status == "BAD"                  # unbalanced
    assert r.cmd("FETCH 1 FLAGS)").status == "BAD"
    deep = "(" * 200 + "ALL" + ")" * 200
    assert r.cmd("SEARCH " + deep).status in ("BAD", "NO")         # too deep
    assert r.cmd("FETCH 0 FLAGS").status == "BAD"                   # seq 0
    assert r.cmd("FETCH 1:* NOSUCHITEM").status == "BAD"
    assert r.cmd("NOSUCHCOMMAND").status == "BAD"
    # A synchronizing literal beyond the command limit: NO [TOOBIG] at
    # once, no continuation; the connection goes on.
    tag = r.next_tag()
    r.send(f"{tag} SEARCH TEXT {{1000000000}}\r\n".encode())
    resp = r.response()
    assert resp.startswith(tag.encode() + b" NO [TOOBIG]") or \
        resp.startswith(tag.encode() + b" BAD [TOOBIG]"), resp
    assert r.ok("NOOP")
    # An overlong line
    rep = None
    r.send(b"t-long NOOP " + b"x" * 200000 + b"\r\n")
    try:
        rep = r.response()
        while not (rep.startswith(b"t-long ") or rep.startswith(b"* BYE")):
            rep = r.response()
    except (EOFError, ConnectionResetError):
        rep = b"closed"
    assert rep.startswith(b"t-long BAD") or rep.startswith(b"* BYE") or rep == b"closed"
    r.close()


def test_too_many_bad_commands_bye(daemon):
    r = Raw(daemon.port("imap"))
    got_bye = False
    for i in range(40):
        try:
            r.send(f"b{i} BOGUS\r\n".encode())
            resp = r.response()
            while not resp.startswith(f"b{i} ".encode()):
                if resp.startswith(b"* BYE"):
                    got_bye = True
                    break
                resp = r.response()
        except (EOFError, ConnectionResetError, BrokenPipeError):
            break
        if got_bye:
            break
    assert got_bye, "no BYE after 40 bad commands"
    assert r.closed()
    assert i <= 25


def test_logout_after_literal_in_login(daemon):
    r = Raw(daemon.port("imap"))
    r.ok("LOGIN {} {}", USER.encode(), PASSWORD.encode())
    assert r.ok("SELECT INBOX")
    r.close()


def test_curl_list_and_fetch(daemon):
    curl = shutil.which("curl")
    assert curl, "curl is not installed: run scripts/install-deps"
    msg = message("curl-fetch")
    smtp_deliver(daemon, msg)
    base = f"imap://127.0.0.1:{daemon.port('imap')}"
    auth = ["--user", f"{USER}:{PASSWORD}"]
    out = subprocess.run([curl, "-sS", "--fail"] + auth + [base + "/"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    listing = out.stdout.decode()
    for name in ["INBOX"] + list(SPECIAL_USE):
        assert re.search(rf'\* LIST \([^)]*\) "/" "?{name}"?\r?$', listing, re.M), listing
    out = subprocess.run([curl, "-sS", "--fail"] + auth + [base + "/INBOX;UID=1"],
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.endswith(msg)
    # curl with STARTTLS required
    out = subprocess.run([curl, "-sS", "--fail", "--ssl-reqd", "-k"] + auth +
                         [base + "/INBOX;UID=1"], capture_output=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.endswith(msg)


def test_done_when_scenario(daemon):
    """Issue 4: imaplib logs in as demo@localhost, sees INBOX and the
    special-use folders, reads a message sent through SMTP, and is told of
    a second one while in IDLE."""
    m = imap(daemon)
    typ, data = m.list()
    assert typ == "OK"
    listed = b"\n".join(data)
    for name, use in SPECIAL_USE.items():
        assert re.search(rb"\([^)]*" + re.escape(use.encode()) + rb"[^)]*\) \"/\" \"?"
                         + name.encode(), listed), listed
    assert b"INBOX" in listed
    first = message("done-1")
    smtp_deliver(daemon, first)
    typ, data = m.select("INBOX")
    assert int(data[0]) == 1
    typ, data = m.fetch("1", "(BODY[])")
    assert data[0][1].endswith(first)
    m.logout()
    r = logged_in(daemon)
    r.ok("SELECT INBOX")
    tag = r.next_tag()
    r.send(f"{tag} IDLE\r\n".encode())
    assert r.response().startswith(b"+")
    smtp_deliver(daemon, message("done-2"))
    sent = time.monotonic()
    assert wait_for(r, b"* 2 EXISTS", 1.0), "IDLE not woken within 1 s"
    assert time.monotonic() - sent < 1.0
    r.send(b"DONE\r\n")
    assert r.read_until_tag(tag).status == "OK"
    r.close()


def test_imap4rev2_mode(daemon):
    """After ENABLE IMAP4rev2: no RECENT, SEARCH answers with ESEARCH."""
    r = logged_in(daemon)
    append(r, "INBOX", message("rev2-1"))
    append(r, "INBOX", message("rev2-2"), flags="\\Seen")
    rep = r.ok("ENABLE IMAP4rev2")
    assert rep.named("ENABLED")[0].decode().split() == ["IMAP4rev2"]
    rep = r.ok("SELECT INBOX")
    assert exists(rep) == 2
    assert not [x for x in rep.untagged if x.endswith(b" RECENT")]
    rep = r.ok("SEARCH UNSEEN")
    assert not rep.named("SEARCH")
    (es,) = rep.named("ESEARCH")
    assert es == f'(TAG "{rep.tag}") ALL 1'.encode()
    rep = r.ok("UID SEARCH SEEN")
    (es,) = rep.named("ESEARCH")
    assert re.match(rb'\(TAG "' + rep.tag.encode() + rb'"\) UID ALL \d+$', es)
    st = status_items(r.ok("STATUS INBOX (MESSAGES DELETED SIZE)"))
    assert st["MESSAGES"] == 2 and st["DELETED"] == 0
    r.close()


def test_starttls_plaintext_injection_discarded(daemon):
    """Commands pipelined behind STARTTLS in the clear are never run
    (the STARTTLS command-injection class, RFC 9051 11.1)."""
    r = Raw(daemon.port("imap"))
    r.send(b"t1 STARTTLS\r\nt2 LOGIN demo@localhost demo\r\n")
    try:
        first = r.response()
    except (EOFError, ConnectionResetError):
        return  # the server closed the connection: fine
    assert first.startswith(b"t1 "), first
    assert not r.buf.startswith(b"t2 ")
    if not first.startswith(b"t1 OK"):
        return  # refused STARTTLS: t2 must not run either
    try:
        r.sock = tls_context().wrap_socket(r.sock)
    except (ssl.SSLError, ConnectionResetError, OSError):
        return  # the server closed the connection: fine
    r.buf = b""
    try:
        rep = r.cmd("NOOP")
    except (EOFError, ConnectionResetError, ssl.SSLError):
        return
    assert not [x for x in rep.untagged if x.startswith(b"t2 ")]
    assert r.cmd("SELECT INBOX").status in ("BAD", "NO")  # not logged in
    r.close()


def test_login_timeout_only_before_login(tmp_path):
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path, "a") as fh:
        fh.write("\n[imap]\nlogin_timeout = 1s\n")
    d.start()
    try:
        start = time.monotonic()
        idle = Raw(d.port("imap"))
        active = logged_in(d)
        assert idle.closed(timeout=5)
        assert 0.8 <= time.monotonic() - start < 4
        assert b"* BYE" in idle.buf or idle.buf == b""
        time.sleep(1.5)
        assert active.ok("NOOP")  # logged in: the long idle timeout applies
        active.close()
    finally:
        status = d.stop()
        d.assert_clean()
    assert status == 0


def anon_rss_kib(daemon):
    """Private memory only: the readers map the database file, and pages of
    it touched by a FETCH count in VmRSS without being buffered anywhere."""
    with open(f"/proc/{daemon.proc.pid}/status") as fh:
        return int([l for l in fh if l.startswith("RssAnon:")][0].split()[1])


@pytest.fixture
def lean_daemon(tmp_path):
    """A daemon whose ASan keeps no freed blocks in quarantine, so that its
    private memory shows what is live, as in a release build."""
    d = Posthornd(tmp_path / "data", asan_options=":quarantine_size_mb=0").start()
    yield d
    assert d.stop() == 0
    d.assert_clean()


def test_large_fetch_to_stalled_client_bounded_memory(lean_daemon):
    """A 40 MB FETCH to a client that reads nothing is not buffered whole."""
    r = logged_in(lean_daemon)
    big = message("huge", body=("z" * 1022 + "\r\n") * 1024)  # 1 MB
    for _ in range(40):
        r.cmd("APPEND INBOX {}", big, plus=True)
    r.ok("SELECT INBOX")
    r.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    before = anon_rss_kib(lean_daemon)
    r.send(b"big FETCH 1:* BODY.PEEK[]\r\n")
    time.sleep(3)
    grown = anon_rss_kib(lean_daemon) - before
    assert grown < 20 * 1024, f"daemon grew {grown} KiB for a stalled 40 MB FETCH"
    rep = r.read_until_tag("big")
    assert rep.status == "OK"
    assert len(fetch_items(rep.untagged)) == 40
    r.close()
