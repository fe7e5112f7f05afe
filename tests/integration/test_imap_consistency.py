"""Untagged updates stay consistent under load (issue 11 item 13): 20
clients on a few shared mailboxes send random commands (STORE of flags and
keywords, EXPUNGE, APPEND, COPY, MOVE, FETCH, NOOP, IDLE/DONE,
LOGOUT and reconnect); each client keeps its own model of the mailbox
(message count, UIDs by sequence number, the FLAGS announced) from the
untagged responses it reads and fails on any impossible update: an
EXPUNGE or FETCH above its message count, EXISTS going down, a keyword in
a FETCH that no FLAGS response announced, an EXPUNGE where RFC 3501 7.4.1
forbids it, UIDs out of order, \\Recent where IMAP4rev2 has none, a
message that is \\Recent in two read-write sessions, or an update before
IDLE's "+" (a client that takes the first line after IDLE for the "+"
lost those, and later met FETCHes and EXPUNGEs above its count: the likely
cause of the issue's finding). Seeded, bounded in commands and time."""
import random
import re
import socket
import threading
import time

from test_imap import Raw, append, logged_in, message

CLIENTS = 20
MAILBOXES = ("INBOX", "Shared1", "Shared2")
KEYWORDS = ("kw0", "kw1", "kw2", "kw3", "kw4", "kw5", "$Label1", "$Junk")
SYSTEM = ("\\Seen", "\\Answered", "\\Flagged", "\\Deleted", "\\Draft")
SECONDS = 20
MAX_COMMANDS = 400
SEED = 11013

FETCH_RE = re.compile(rb"\* (\d+) FETCH \((.*)\)$")
FLAGS_IN_FETCH_RE = re.compile(rb"FLAGS \(([^)]*)\)")
UID_IN_FETCH_RE = re.compile(rb"UID (\d+)")


class Impossible(AssertionError):
    pass


class Recents:
    """Which session saw which (mailbox, UID) as \\Recent, across every
    client: RFC 3501 2.3.2 gives each message to one session."""

    def __init__(self):
        self.lock = threading.Lock()
        self.owner = {}

    def saw(self, session, mailbox, uid):
        with self.lock:
            first = self.owner.setdefault((mailbox, uid), session)
        if first != session:
            raise Impossible(f"{mailbox} UID {uid} is \\Recent in sessions "
                             f"{first} and {session}")


class Client:
    """One client and its model of the selected mailbox."""

    def __init__(self, daemon, index, recents, sessions):
        self.daemon = daemon
        self.index = index
        self.rng = random.Random(SEED + index)
        self.recents = recents
        self.sessions = sessions
        self.rev2 = index % 5 == 4
        self.log = []
        self.r = None
        self.commands = 0

    # ---- the model ----

    def connect(self):
        self.r = logged_in(self.daemon)
        self.r.sock.settimeout(15)
        with self.sessions[1]:
            self.sessions[0] += 1
            self.session = self.sessions[0]
        if self.rev2:
            self.r.ok("ENABLE IMAP4rev2")
        self.mailbox = self.rng.choice(MAILBOXES)
        self.readonly = self.rng.random() < 0.15
        self.count = 0
        self.uids = []
        self.flags = None          # the last FLAGS response, a set
        self.run("EXAMINE" if self.readonly else "SELECT", self.mailbox)
        if self.flags is None:
            raise Impossible("no FLAGS in the SELECT response")

    def fail(self, what, line):
        raise Impossible(f"client {self.index} (session {self.session}, "
                         f"{self.mailbox}, count {self.count}): {what}: "
                         f"{line!r}\nlast lines:\n" +
                         "\n".join(repr(x) for x in self.log[-40:]))

    def untagged(self, line, command):
        """Apply one untagged response to the model; fail when it is
        impossible."""
        words = line.split(b" ")
        if len(words) >= 3 and words[1].isdigit():
            n, what = int(words[1]), words[2].upper()
            if what == b"EXISTS":
                if n < self.count:
                    self.fail("EXISTS went down", line)
                self.uids += [None] * (n - self.count)
                self.count = n
            elif what == b"RECENT":
                if self.rev2:
                    self.fail("RECENT in an IMAP4rev2 session", line)
                if n > self.count:
                    self.fail("RECENT above the message count", line)
            elif what == b"EXPUNGE":
                if command in ("FETCH", "STORE", "SEARCH"):
                    self.fail(f"EXPUNGE during {command} (RFC 3501 7.4.1)", line)
                if not 1 <= n <= self.count:
                    self.fail("EXPUNGE of a message the client does not have", line)
                del self.uids[n - 1]
                self.count -= 1
            elif what == b"FETCH":
                self.fetch(n, line)
            return
        if words[1].upper() == b"FLAGS":
            m = re.match(rb"\* FLAGS \(([^)]*)\)$", line)
            if not m:
                self.fail("malformed FLAGS", line)
            self.flags = {f.lower() for f in m.group(1).split()}
        elif words[1].upper() == b"VANISHED":
            self.fail("VANISHED without QRESYNC", line)

    def fetch(self, n, line):
        if not 1 <= n <= self.count:
            self.fail("FETCH of a message the client does not have", line)
        m = UID_IN_FETCH_RE.search(line)
        if m:
            uid = int(m.group(1))
            known = self.uids[n - 1]
            if known is not None and known != uid:
                self.fail(f"message {n} was UID {known}", line)
            lower = [u for u in self.uids[:n - 1] if u is not None]
            higher = [u for u in self.uids[n:] if u is not None]
            if (lower and lower[-1] >= uid) or (higher and higher[0] <= uid):
                self.fail("UIDs out of order", line)
            self.uids[n - 1] = uid
        m = FLAGS_IN_FETCH_RE.search(line)
        if m:
            for flag in m.group(1).split():
                low = flag.lower()
                if low == b"\\recent":
                    if self.rev2:
                        self.fail("\\Recent in an IMAP4rev2 session", line)
                    if self.uids[n - 1] is not None and not self.readonly:
                        self.recents.saw(self.session, self.mailbox,
                                         self.uids[n - 1])
                    continue
                if low not in self.flags:
                    self.fail(f"flag {flag!r} not announced in FLAGS", line)

    def run(self, name, args="", literal=None, idle=False):
        """Send a command, read to its tagged reply applying every
        untagged response. Returns the tagged line."""
        return self.pipeline([(name, args, literal)], idle)[0]

    def pipeline(self, commands, idle=False):
        """Send the commands (name, args, literal) at once, then read the
        replies in order, applying every untagged response to the model
        with the command it came during. Returns the tagged lines."""
        r = self.r
        data, tags = b"", []
        for name, args, literal in commands:
            tag = r.next_tag()
            text = f"{tag} {name} {args}".rstrip().encode()
            if literal is not None:
                text += b" {%d+}\r\n" % len(literal) + literal
            data += text + b"\r\n"
            tags.append(tag)
            self.commands += 1
            self.log.append(b"C: " + text[:200])
        r.send(data)
        replies = []
        for (name, _, _), tag in zip(commands, tags):
            replies.append(self.reply(name, tag, idle))
        return replies

    def reply(self, name, tag, idle):
        r = self.r
        words = name.upper().split()
        command = words[0] if words[0] != "UID" else "UID " + words[1]
        while True:
            line = r.response()
            self.log.append(line[:300])
            if line.startswith(b"+"):
                if not idle:
                    self.fail("unexpected continuation", line)
                idle = False
                time.sleep(self.rng.uniform(0.02, 0.3))
                r.send(b"DONE\r\n")
                continue
            if idle:
                # Ours sends the "+" first, in RFC 2177's order: a
                # client that takes the first line for it loses nothing.
                self.fail("an update before IDLE's continuation", line)
            if line.startswith(b"* "):
                self.untagged(line, command)
                continue
            if not line.startswith(tag.encode() + b" "):
                self.fail("unexpected line", line)
            status = line.split(b" ", 2)[1]
            if status == b"BAD":
                self.fail(f"{name} answered BAD", line)
            if status != b"OK" and command not in ("COPY", "MOVE"):
                self.fail(f"{name} failed", line)
            return line

    # ---- random commands ----

    def seqset(self):
        a = self.rng.randint(1, self.count)
        b = min(self.count, a + self.rng.randint(0, 4))
        return f"{a}" if a == b else f"{a}:{b}"

    def flag_list(self):
        pool = KEYWORDS + SYSTEM
        return " ".join(self.rng.sample(pool, self.rng.randint(1, 3)))

    def step(self):
        rng = self.rng
        choice = rng.random()
        if choice < 0.28 and self.count > 0 and not self.readonly:
            op = rng.choice(("+FLAGS", "-FLAGS", "+FLAGS.SILENT", "FLAGS"))
            if rng.random() < 0.3:
                self.run("UID STORE", f"1:* {op} ({self.flag_list()})")
            else:
                self.run("STORE", f"{self.seqset()} {op} ({self.flag_list()})")
        elif choice < 0.36 and not self.readonly:
            self.run("EXPUNGE")
        elif choice < 0.48:
            target = rng.choice(MAILBOXES)
            flags = " ".join(rng.sample(KEYWORDS + ("\\Seen",), rng.randint(0, 2)))
            self.run("APPEND", f'"{target}" ({flags})',
                     literal=message(f"c{self.index}-{self.commands}"))
        elif choice < 0.56 and self.count > 0:
            self.run("FETCH", f"1:* (UID FLAGS)")
        elif choice < 0.62 and self.count > 0:
            self.run("COPY" if self.readonly or rng.random() < 0.5 else "MOVE",
                     f"{self.seqset()} {rng.choice(MAILBOXES)}")
        elif choice < 0.75:
            self.run("NOOP")
        elif choice < 0.90:
            self.run("IDLE", idle=True)
        elif choice < 0.93 and self.count > 0:
            self.run("SEARCH", "UNSEEN" if self.rev2 else "RECENT")
        elif choice < 0.96 and self.count > 0 and not self.readonly:
            # Pipelined, as clients that delete do: the expunges of
            # others arrive among these replies too.
            burst = [("STORE", f"{self.seqset()} +FLAGS.SILENT (\\Deleted)", None),
                     ("UID EXPUNGE", "1:*", None) if rng.random() < 0.5
                     else ("EXPUNGE", "", None)]
            if rng.random() < 0.5:
                burst.append(("NOOP", "", None))
            self.pipeline(burst)
        elif choice < 0.97:
            self.run("CLOSE" if rng.random() < 0.5 else "UNSELECT")
            self.mailbox = rng.choice(MAILBOXES)
            self.count, self.uids, self.flags = 0, [], None
            self.run("SELECT", self.mailbox)
            self.readonly = False
        else:
            self.run("LOGOUT")
            self.r.close()
            self.connect()

    def main(self, deadline):
        self.connect()
        while time.monotonic() < deadline and self.commands < MAX_COMMANDS:
            self.step()
        self.run("LOGOUT")
        self.r.close()


def test_untagged_updates_consistent_under_load(daemon):
    setup = logged_in(daemon)
    for name in MAILBOXES[1:]:
        setup.ok(f"CREATE {name}")
    for name in MAILBOXES:
        for i in range(8):
            flags = " ".join(KEYWORDS[:i % 3])
            append(setup, name, message(f"seed-{name}-{i}"), flags=flags)
    setup.ok("LOGOUT")
    setup.close()

    recents = Recents()
    sessions = [0, threading.Lock()]
    clients = [Client(daemon, i, recents, sessions) for i in range(CLIENTS)]
    errors = []
    deadline = time.monotonic() + SECONDS

    def run(c):
        try:
            c.main(deadline)
        except Exception as e:          # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SECONDS + 60)
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert not errors, "\n\n".join(str(e) for e in errors[:3])
    assert sum(c.commands for c in clients) > CLIENTS * 10
