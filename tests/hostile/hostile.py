"""Helpers of the hostile tests: a dev daemon with config keys set, line
clients that connect from a chosen 127.0.0.x source address (to play many
clients) over plain or TLS, many users with cheap password hashes, and the
daemon's CPU time."""
import os
import re
import socket
import ssl
import time
import warnings

from conftest import Posthornd

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt  # noqa: E402  (SHA-512-crypt for cheap test hashes)

PASSWORD = "demo"
USER = "demo@localhost"


def daemon_with(tmp_path, sections, args=()):
    """A started dev daemon whose config got the given keys: sections is
    {"server": {"key": "value"}, ...}; keys go into the section when the
    dev config has it, else a new section is appended."""
    d = Posthornd(tmp_path / "data", args=args).start()
    d.stop()
    with open(d.config_path) as fh:
        text = fh.read()
    for section, keys in sections.items():
        lines = "".join(f"{k} = {v}\n" for k, v in keys.items())
        header = f"[{section}]\n"
        if header in text:
            text = text.replace(header, header + lines, 1)
        else:
            text += "\n" + header + lines
    with open(d.config_path, "w") as fh:
        fh.write(text)
    return d.start()


def finish(d):
    status = d.stop()
    d.assert_clean()
    assert status == 0, d.log()


def tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


class Line:
    """A line client from a chosen source address; every read is bounded
    by the socket timeout."""

    def __init__(self, port, source="127.0.0.1", tls=False, timeout=10):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout,
                                             source_address=(source, 0))
        if tls:
            self.sock = tls_context().wrap_socket(self.sock)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data if isinstance(data, bytes) else data.encode())

    def line(self):
        """One line without its CRLF; EOFError when the server closed."""
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError(self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode(errors="replace")

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.line()

    def until(self, prefix):
        """Lines up to and including the first that starts with prefix."""
        lines = []
        while True:
            lines.append(self.line())
            if lines[-1].startswith(prefix):
                return lines

    def closed(self, timeout=5):
        """Whether the server closes within timeout (reading what comes)."""
        self.sock.settimeout(timeout)
        try:
            while self.sock.recv(65536):
                pass
            return True
        except (ConnectionResetError, ssl.SSLError, OSError) as e:
            return not isinstance(e, socket.timeout)

    def close(self):
        self.sock.close()


def imap_login(d, user=USER, password=PASSWORD, source="127.0.0.1", tag="a"):
    """An IMAP client logged in (its greeting and tagged OK checked)."""
    c = Line(d.port("imap"), source)
    assert c.line().startswith("* OK"), "no greeting"
    reply = c.cmd(f'{tag} LOGIN "{user}" "{password}"')
    while reply.startswith("*"):
        reply = c.line()
    assert reply.startswith(f"{tag} OK"), reply
    return c


def add_users(d, n, prefix="u", domain="localhost", password=PASSWORD):
    """n users (with their mailboxes) whose password hash is cheap to
    check (SHA-512-crypt, 1000 rounds): thousands of logins then take
    seconds, not minutes of yescrypt. Returns their addresses."""
    users = [f"{prefix}{i}@{domain}" for i in range(n)]
    for u in users:
        d.cli("user", "add", u, "--password-stdin", input=password + "\n",
              check=True)
    cheap = crypt.crypt(password, "$6$rounds=1000$hostiletest$")
    d.sql("UPDATE users SET password_hash = ? WHERE address IN (%s)"
          % ", ".join("?" * len(users)), [cheap] + users)
    return users


def cpu_seconds(pid):
    """User + system CPU time of a process so far."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(d, pattern):
    """The daemon's log lines matching the regular expression."""
    rx = re.compile(pattern)
    return [ln for ln in d.log().splitlines() if rx.search(ln)]


def wait_until(predicate, seconds, step=0.05):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()
