#!/usr/bin/python3
"""The engine of tests/session: parse a .dlg dialogue (the format is in
README.md), run it against a real posthornd and raise DialogueFailure
naming the file, the line and what the server sent instead.
Run directly (run_dialogues.py FILE...) it starts a daemon of its own."""
import os
import re
import smtplib
import socket
import ssl
import sys
import time
from collections import deque

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
for _p in (TESTS, os.path.join(TESTS, "hostile")):
    if _p not in sys.path:
        sys.path.insert(0, _p)

from conftest import DEV_PORTS, Posthornd, sanitizer_reports  # noqa: E402
from hostile import PASSWORD, add_users, tls_context  # noqa: E402

SERVICES = ("smtp", "submission", "submissions", "lmtp",
            "imap", "imaps", "pop3", "pop3s")
TLS_SERVICES = ("imaps", "pop3s", "submissions")
IMAP_SERVICES = ("imap", "imaps")
DEFAULT_TIMEOUT = 10.0
TRANSCRIPT_LINES = 24

LINE_RE = re.compile(r"^([CS])(\d*)([:~])(?: ?)(.*)$")
VAR_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
# The tokens of a C line; everything else is sent as it is written.
SEND_TOKEN = re.compile(r"\{(lit\+?):([^}]+)\}|\{crlf\}|\{x:([0-9A-Fa-f ]+)\}"
                        r"|\{repeat:(\d+):([^}]*)\}|\{\$(" + VAR_NAME + r")\}")
# The tokens of an S pattern.
MATCH_TOKEN = re.compile(r"\{\*\}|\{n\}|\{=(" + VAR_NAME + r")\}|\{\$(" + VAR_NAME
                         + r")\}|\{x:([0-9A-Fa-f ]+)\}")
SERVER_LITERAL = re.compile(rb"\{(\d+)\}$")
NOCRLF = "{nocrlf}"


class DialogueError(Exception):
    """The .dlg file itself is wrong (unknown directive, bad line)."""


class DialogueFailure(AssertionError):
    """The server did not answer as the dialogue says."""


class Step:
    """One step of a dialogue: kind is send, expect, group, closed,
    deliver, starttls or close; conn the connection number."""

    def __init__(self, kind, lineno, conn=1, **kw):
        self.kind = kind
        self.lineno = lineno
        self.conn = conn
        self.__dict__.update(kw)


class Dialogue:
    def __init__(self, path, name):
        self.path = path                # for message files and errors
        self.name = name                # what failures call the file
        self.service = None
        self.conn_services = {}         # connection number -> service
        self.users = []
        self.deliveries = []            # (user, [files]) before line 1
        self.config = []                # (section, key, value)
        self.timeout = DEFAULT_TIMEOUT
        self.steps = []

    def service_of(self, conn):
        return self.conn_services.get(conn, self.service)


def parse_file(path, name=None):
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    return parse(text, path, name or os.path.relpath(path, HERE))


def parse(text, path, name):
    """The Dialogue of a .dlg text; path locates its message files."""
    dlg = Dialogue(path, name)
    started = False
    group = None
    for lineno, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw
        if line.strip() == "" or line.lstrip().startswith("#"):
            continue                # (a comment does not end an S~ group)
        if line.startswith("@"):
            group = None
            started = directive(dlg, line, lineno, started)
            continue
        m = LINE_RE.match(line)
        if not m:
            raise DialogueError(f"{name}:{lineno}: neither a C/S line nor a "
                                f"directive: {line!r}")
        side, num, sep, body = m.groups()
        conn = int(num) if num else 1
        if conn < 1:
            raise DialogueError(f"{name}:{lineno}: connections count from 1")
        started = True
        if side == "C":
            if sep != ":":
                raise DialogueError(f"{name}:{lineno}: C lines have no ~ form")
            group = None
            dlg.steps.append(Step("send", lineno, conn, text=body))
        elif sep == "~":
            if group is None or group.conn != conn:
                group = Step("group", lineno, conn, patterns=[])
                dlg.steps.append(group)
            group.patterns.append((lineno, body))
        else:
            group = None
            if body == "<closed>":
                dlg.steps.append(Step("closed", lineno, conn))
            else:
                dlg.steps.append(Step("expect", lineno, conn, pattern=body))
    if dlg.service is None:
        raise DialogueError(f"{name}: no @service line")
    for conn in {s.conn for s in dlg.steps}:
        if dlg.service_of(conn) not in SERVICES:
            raise DialogueError(f"{name}: connection {conn} has no service")
    return dlg


def directive(dlg, line, lineno, started):
    """Apply one @ line; returns whether the dialogue has begun."""
    where = f"{dlg.name}:{lineno}"
    text = re.sub(r"\s+#.*$", "", line).strip()
    word, _, rest = text.partition(" ")
    args = rest.split()
    if word in ("@service", "@user", "@config", "@timeout") and started:
        raise DialogueError(f"{where}: {word} must come before the first C/S line")
    if word == "@service":
        if len(args) == 1 and args[0] in SERVICES:
            dlg.service = args[0]
        elif len(args) == 2 and args[0].isdigit() and args[1] in SERVICES:
            dlg.conn_services[int(args[0])] = args[1]
        else:
            raise DialogueError(f"{where}: @service [N] NAME, NAME one of "
                                f"{', '.join(SERVICES)}")
    elif word == "@user":
        for u in args:
            if not re.fullmatch(VAR_NAME, u) or u in dlg.users:
                raise DialogueError(f"{where}: bad or repeated user name {u!r}")
            dlg.users.append(u)
        if not args:
            raise DialogueError(f"{where}: @user NAME...")
    elif word == "@deliver":
        if len(args) < 2 or args[0] not in dlg.users:
            raise DialogueError(f"{where}: @deliver USER FILE..., USER from @user")
        for f in args[1:]:
            message_bytes(dlg, f, where)    # fail early on a missing file
        if started:
            dlg.steps.append(Step("deliver", lineno, user=args[0], files=args[1:]))
        else:
            dlg.deliveries.append((args[0], args[1:]))
    elif word == "@config":
        m = re.fullmatch(r"@config\s+(.+)\.([A-Za-z0-9_]+)\s*=\s*(.*)", text)
        if not m:
            raise DialogueError(f"{where}: @config SECTION.KEY = VALUE")
        dlg.config.append((m.group(1).strip(), m.group(2), m.group(3).strip()))
    elif word == "@timeout":
        try:
            dlg.timeout = float(args[0])
        except (IndexError, ValueError):
            raise DialogueError(f"{where}: @timeout SECONDS") from None
    elif word in ("@starttls", "@close"):
        if len(args) > 1 or (args and not args[0].isdigit()):
            raise DialogueError(f"{where}: {word} [N]")
        dlg.steps.append(Step(word[1:], lineno, int(args[0]) if args else 1))
        return True
    else:
        raise DialogueError(f"{where}: unknown directive {word}")
    return started


def message_bytes(dlg, name, where):
    """A message file's bytes as sent: relative to tests/session/ (or to
    the dialogue's directory); LF line ends become CRLF unless the file
    is a .bin, which goes byte for byte."""
    for base in (HERE, os.path.dirname(os.path.abspath(dlg.path))):
        path = os.path.join(base, name)
        if os.path.isfile(path):
            break
    else:
        raise DialogueError(f"{where}: no message file {name}")
    with open(path, "rb") as fh:
        data = fh.read()
    if not name.endswith(".bin"):
        data = re.sub(rb"(?<!\r)\n", b"\r\n", data)
    return data


# ---------------------------------------------------------------- matching

def compile_pattern(pattern, captures):
    """A bytes regex for one S pattern. {$name} of a name captured on an
    earlier line is its text; of one captured earlier on the same line a
    back-reference."""
    out, pos, local = [], 0, set()
    for m in MATCH_TOKEN.finditer(pattern):
        out.append(re.escape(pattern[pos:m.start()].encode()))
        tok = m.group(0)
        if tok == "{*}":
            out.append(b".*")
        elif tok == "{n}":
            out.append(b"[0-9]+")
        elif m.group(1):
            name = m.group(1)
            if name in local:
                out.append(b"(?P=" + name.encode() + b")")
            else:
                local.add(name)
                out.append(b"(?P<" + name.encode() + b">[^ \t\r\n]+?)")
        elif m.group(2):
            name = m.group(2)
            if name in local:
                out.append(b"(?P=" + name.encode() + b")")
            elif name in captures:
                out.append(re.escape(captures[name]))
            else:
                raise DialogueError(f"{{${name}}} before any {{={name}}}")
        else:
            out.append(re.escape(bytes.fromhex(m.group(3))))
        pos = m.end()
    out.append(re.escape(pattern[pos:].encode()))
    return re.compile(b"".join(out), re.S)


def match_line(pattern, line, captures):
    """The new captures when line matches pattern, else None. A captured
    name takes the shortest run that lets the whole line match."""
    m = compile_pattern(pattern, captures).fullmatch(line)
    return None if m is None else {k: v for k, v in m.groupdict().items()}


def match_group(patterns, lines, captures):
    """An assignment of lines to patterns (any order) that matches all;
    returns the merged captures or None. Backtracks: groups are short."""
    def solve(i, used, caps):
        if i == len(lines):
            return caps
        for j, (_, pat) in enumerate(patterns):
            if j in used:
                continue
            new = match_line(pat, lines[i], caps)
            if new is None:
                continue
            result = solve(i + 1, used | {j}, {**caps, **new})
            if result is not None:
                return result
        return None
    return solve(0, frozenset(), dict(captures))


# ---------------------------------------------------------------- connections

class Timeout(Exception):
    pass


class Closed(Exception):
    pass


class Connection:
    """One client connection: raw bytes in, logical lines out (an IMAP
    server literal is read by its count and split into lines)."""

    def __init__(self, number, service, port, source, log):
        self.number = number
        self.service = service
        self.imap = service in IMAP_SERVICES
        self.log = log
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind((source, 0))
        self.sock.settimeout(DEFAULT_TIMEOUT)
        self.sock.connect(("127.0.0.1", port))
        if service in TLS_SERVICES:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""
        self.lines = deque()
        self.eof = False
        self.pending = []           # literal chunks, each sent after a "+"

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.log(self.number, "C", data)
        self.sock.sendall(data)

    def starttls(self):
        if self.buf or self.lines:
            raise Closed("the server sent data after its STARTTLS answer: "
                         f"{self.buf or self.lines[0]!r}")
        self.sock = tls_context().wrap_socket(self.sock)

    def _recv(self, deadline):
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise Timeout()
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except (socket.timeout, TimeoutError):
            raise Timeout() from None
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def _raw_line(self, deadline):
        """One line without its CRLF; None at the end of the stream."""
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line, self.buf = self.buf[:i], self.buf[i + 1:]
                if not line.endswith(b"\r"):
                    raise Closed(f"the server ended a line with a bare LF: {line!r}")
                return line[:-1]
            if not self._recv(deadline):
                if self.buf:
                    raise Closed(f"the server closed in the middle of a line: "
                                 f"{self.buf!r}")
                return None

    def _exact(self, n, deadline):
        while len(self.buf) < n:
            if not self._recv(deadline):
                raise Closed(f"the server closed inside a literal of {n} bytes")
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def next_line(self, deadline):
        """The next logical line, None when the server has closed."""
        if not self.lines:
            line = self._raw_line(deadline)
            if line is None:
                return None
            self.log(self.number, "S", line)
            pieces, tail = [line], line
            while self.imap and (m := SERVER_LITERAL.search(tail)):
                literal = self._exact(int(m.group(1)), deadline)
                rest = self._raw_line(deadline)
                if rest is None:
                    raise Closed("the server closed after a literal")
                self.log(self.number, "S", literal + rest)
                parts = literal.split(b"\r\n")
                parts[-1] += rest
                pieces.extend(parts)
                tail = rest
            self.lines.extend(pieces)
        return self.lines.popleft()

    def leftover(self):
        """Bytes the server sent that no S line took (what is there now)."""
        if self.lines:
            return b"\r\n".join(self.lines)
        if not self.eof:
            try:
                self.sock.settimeout(0)
                data = self.sock.recv(65536)
                if data:
                    self.buf += data
                else:
                    self.eof = True
            except (BlockingIOError, socket.timeout, ssl.SSLWantReadError,
                    TimeoutError, OSError):
                pass
        return self.buf

    def read_greeting(self, deadline):
        """The greeting of a connection whose dialogue starts with a C
        line: any positive one (SMTP's may have several lines)."""
        line = self.next_line(deadline)
        if self.imap:
            ok = line is not None and (line.startswith(b"* OK") or
                                       line.startswith(b"* PREAUTH"))
        elif self.service.startswith("pop3"):
            ok = line is not None and line.startswith(b"+OK")
        else:
            while line is not None and line.startswith(b"220-"):
                line = self.next_line(deadline)
            ok = line is not None and (line == b"220" or line.startswith(b"220 "))
        if not ok:
            raise Closed(f"no positive greeting: {line!r}")


# ---------------------------------------------------------------- running

class Daemon:
    """A posthornd for dialogues: its users, a source address per
    dialogue (so per-address limits and login throttles of one dialogue
    do not reach the next)."""

    def __init__(self, data_dir, config=()):
        self.d = Posthornd(data_dir)
        self.d.start()
        if config:
            self.d.stop()
            configure(self.d.config_path, config)
            self.d.start()
        self.users = 0
        self.dialogues = 0

    def new_users(self, names):
        addresses = {}
        for name in names:
            self.users += 1
            prefix = f"dlg{self.users}{name.lower()}"
            addresses[name] = add_users(self.d, 1, prefix=prefix)[0]
        return addresses

    def new_source(self):
        self.dialogues += 1
        k = self.dialogues
        return f"127.0.{1 + (k // 250) % 250}.{2 + k % 250}"

    def stop(self):
        """Stop; raise when the daemon exited badly or left a sanitizer
        report."""
        status = self.d.stop()
        self.d.assert_clean()
        assert status == 0, f"posthornd exited {status}:\n{self.d.log()[-4000:]}"


def configure(path, settings):
    """Set SECTION.KEY = VALUE in a config file: a key the file has is
    replaced (the reader refuses a key set twice), a new one goes at the
    head of its section, a section the file lacks is appended."""
    with open(path) as fh:
        lines = fh.read().split("\n")
    for section, key, value in settings:
        header = f"[{section}]"
        try:
            start = next(i for i, ln in enumerate(lines) if ln.strip() == header)
        except StopIteration:
            lines += ["", header, f"{key} = {value}"]
            continue
        end = next((i for i in range(start + 1, len(lines))
                    if lines[i].lstrip().startswith("[")), len(lines))
        for i in range(start + 1, end):
            if re.match(rf"\s*{re.escape(key)}\s*=", lines[i]):
                lines[i] = f"{key} = {value}"
                break
        else:
            lines.insert(start + 1, f"{key} = {value}")
    with open(path, "w") as fh:
        fh.write("\n".join(lines))


class Run:
    """One run of a dialogue against a daemon."""

    def __init__(self, dlg, daemon):
        self.dlg = dlg
        self.daemon = daemon
        self.conns = {}
        self.captures = {}
        self.transcript = deque(maxlen=TRANSCRIPT_LINES)
        self.source = daemon.new_source()
        self.vars = {}
        self.var_re = None

    # -- helpers
    def log(self, conn, side, data):
        tag = f"{side}{conn if conn > 1 else ''}"
        if data.endswith(b"\r\n"):
            data = data[:-2]
        for ln in data.split(b"\r\n"):
            self.transcript.append(f"{tag}: {ln.decode('utf-8', 'backslashreplace')}")

    def fail(self, lineno, what, sent=None):
        msg = [f"{self.dlg.name}:{lineno}: {what}"]
        if sent is not None:
            msg.append(f"  the server sent: {show(sent)}")
        msg.append("  transcript (last lines):")
        msg += ["    " + t for t in self.transcript]
        reports = sanitizer_reports(self.daemon.d.log_dir)
        if reports:
            msg.append("  sanitizer report:\n" + "\n".join(reports)[:6000])
        elif self.daemon.d.proc.poll() is not None:
            msg.append(f"  posthornd exited {self.daemon.d.proc.returncode}:\n"
                       + self.daemon.d.log()[-3000:])
        raise DialogueFailure("\n".join(msg))

    def substitute_vars(self, text):
        if not self.vars:
            return text
        return self.var_re.sub(lambda m: self.vars[m.group(1)], text)

    def deadline(self):
        return time.monotonic() + self.dlg.timeout

    def connection(self, step, index):
        conn = self.conns.get(step.conn)
        if conn is not None:
            return conn
        service = self.dlg.service_of(step.conn)
        try:
            conn = Connection(step.conn, service, self.daemon.d.port(service),
                              self.source, self.log)
        except OSError as e:
            self.fail(step.lineno, f"cannot connect to {service}: {e}")
        self.conns[step.conn] = conn
        first = next((s for s in self.dlg.steps[index:] if s.conn == step.conn
                      and s.kind in ("send", "expect", "group", "closed")), None)
        if first is not None and first.kind == "send":
            try:
                conn.read_greeting(self.deadline())
            except Timeout:
                self.fail(step.lineno, f"no greeting on {service} in "
                          f"{self.dlg.timeout:g} s")
            except Closed as e:
                self.fail(step.lineno, str(e))
        return conn

    # -- the steps
    def run(self):
        addresses = self.daemon.new_users(self.dlg.users)
        for name, address in addresses.items():
            self.vars[name] = address
            self.vars[name + "_PASS"] = PASSWORD
        names = sorted(self.vars, key=len, reverse=True)
        self.var_re = re.compile(r"\$(" + "|".join(map(re.escape, names))
                                 + r")(?![A-Za-z0-9_])") if names else None
        try:
            for user, files in self.dlg.deliveries:
                self.deliver(0, user, files)
            for index, step in enumerate(self.dlg.steps):
                getattr(self, "step_" + step.kind)(step, index)
            for number, conn in sorted(self.conns.items()):
                extra = conn.leftover()
                if extra:
                    self.fail(self.dlg.steps[-1].lineno,
                              f"the dialogue ended, but connection {number} "
                              "got more", extra)
            reports = sanitizer_reports(self.daemon.d.log_dir)
            if reports:
                self.fail(self.dlg.steps[-1].lineno if self.dlg.steps else 0,
                          "the daemon wrote a sanitizer report")
        finally:
            for conn in self.conns.values():
                conn.close()

    def deliver(self, lineno, user, files):
        port = self.daemon.d.port("lmtp")
        try:
            with smtplib.LMTP("127.0.0.1", port, source_address=(self.source, 0),
                              timeout=self.dlg.timeout) as lmtp:
                for f in files:
                    data = message_bytes(self.dlg, f, self.dlg.name)
                    lmtp.sendmail("dialogue@localhost", [self.vars[user]], data)
        except (smtplib.SMTPException, OSError) as e:
            self.fail(lineno, f"@deliver {user} over LMTP failed: {e}")

    def step_deliver(self, step, index):
        self.deliver(step.lineno, step.user, step.files)

    def step_close(self, step, index):
        conn = self.conns.pop(step.conn, None)
        if conn is not None:
            conn.close()

    def step_starttls(self, step, index):
        conn = self.connection(step, index)
        try:
            conn.starttls()
        except Closed as e:
            self.fail(step.lineno, str(e))
        except (OSError, ssl.SSLError) as e:
            self.fail(step.lineno, f"the TLS handshake failed: {e}")

    def step_send(self, step, index):
        conn = self.connection(step, index)
        conn.pending = []           # a literal the server refused
        chunks = self.send_chunks(step)
        try:
            conn.send(chunks[0])
        except OSError as e:
            self.fail(step.lineno, f"cannot send: {e}")
        conn.pending = chunks[1:]

    def send_chunks(self, step):
        """The bytes of a C line, cut after each synchronizing literal's
        {N} CRLF: the first chunk goes now, each next one after a '+'."""
        text = step.text
        crlf = True
        if text.endswith(NOCRLF):
            text, crlf = text[:-len(NOCRLF)], False
        chunks, cur, pos = [], b"", 0
        for m in SEND_TOKEN.finditer(text):
            cur += self.substitute_vars(text[pos:m.start()]).encode()
            pos = m.end()
            if m.group(1):
                try:
                    data = message_bytes(self.dlg, m.group(2), self.dlg.name)
                except DialogueError as e:
                    self.fail(step.lineno, str(e))
                if m.group(1) == "lit+":
                    cur += b"{%d+}\r\n" % len(data) + data
                else:
                    chunks.append(cur + b"{%d}\r\n" % len(data))
                    cur = data
            elif m.group(0) == "{crlf}":
                cur += b"\r\n"
            elif m.group(3):
                cur += bytes.fromhex(m.group(3))
            elif m.group(4):
                cur += m.group(5).encode() * int(m.group(4))
            else:
                name = m.group(6)
                if name not in self.captures:
                    self.fail(step.lineno, f"{{${name}}} was not captured")
                cur += self.captures[name]
        cur += self.substitute_vars(text[pos:]).encode()
        if crlf:
            cur += b"\r\n"
        chunks.append(cur)
        return chunks

    def read(self, step, conn, what):
        try:
            return conn.next_line(self.deadline())
        except Timeout:
            self.fail(step.lineno, f"no line from the server in "
                      f"{self.dlg.timeout:g} s; expected {what}")
        except Closed as e:
            self.fail(step.lineno, str(e))

    def pattern(self, step, text):
        return self.substitute_vars(text)

    def step_expect(self, step, index):
        conn = self.connection(step, index)
        pattern = self.pattern(step, step.pattern)
        line = self.read(step, conn, f"S: {pattern}")
        if line is None:
            self.fail(step.lineno, f"the server closed the connection; "
                      f"expected S: {pattern}")
        try:
            new = match_line(pattern, line, self.captures)
        except DialogueError as e:
            self.fail(step.lineno, str(e))
        if new is None:
            self.fail(step.lineno, f"expected S: {pattern}", line)
        self.captures.update(new)
        if line.startswith(b"+") and conn.pending:
            try:
                conn.send(conn.pending.pop(0))
            except OSError as e:
                self.fail(step.lineno, f"cannot send the literal: {e}")

    def step_group(self, step, index):
        conn = self.connection(step, index)
        patterns = [(ln, self.pattern(step, p)) for ln, p in step.patterns]
        lines = []
        for _ in patterns:
            line = self.read(step, conn, f"{len(patterns)} lines in any order")
            if line is None:
                self.fail(step.lineno, "the server closed inside an unordered "
                          f"group (after {len(lines)} of {len(patterns)} lines)")
            try:
                if not any(match_line(p, line, self.captures) is not None
                           for _, p in patterns):
                    self.fail(step.lineno, f"a line that no S~ line of lines "
                              f"{patterns[0][0]}-{patterns[-1][0]} matches", line)
            except DialogueError as e:
                self.fail(step.lineno, str(e))
            lines.append(line)
        caps = match_group(patterns, lines, self.captures)
        if caps is None:
            self.fail(step.lineno, f"the lines do not match the S~ lines "
                      f"{patterns[0][0]}-{patterns[-1][0]} one to one",
                      b"\n    ".join(lines))
        self.captures = caps

    def step_closed(self, step, index):
        conn = self.connection(step, index)
        line = self.read(step, conn, "the server to close")
        if line is not None:
            self.fail(step.lineno, "expected the server to close", line)
        conn.close()
        del self.conns[step.conn]


def show(data):
    return data.decode("utf-8", "backslashreplace") if isinstance(data, bytes) else str(data)


def run(dlg, daemon):
    """Run one parsed dialogue; raises DialogueFailure."""
    Run(dlg, daemon).run()


def main(argv):
    import tempfile
    if not argv:
        print("usage: run_dialogues.py FILE.dlg...", file=sys.stderr)
        return 2
    failed = 0
    with tempfile.TemporaryDirectory(prefix="dialogues-") as tmp:
        shared = None
        for n, path in enumerate(argv):
            dlg = parse_file(path, path)
            if dlg.config:
                daemon = Daemon(os.path.join(tmp, f"own{n}"), dlg.config)
            else:
                shared = shared or Daemon(os.path.join(tmp, "shared"))
                daemon = shared
            try:
                run(dlg, daemon)
                print(f"ok    {path}")
            except DialogueFailure as e:
                failed += 1
                print(f"FAIL  {e}")
            if daemon is not shared:
                daemon.stop()
        if shared:
            shared.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
