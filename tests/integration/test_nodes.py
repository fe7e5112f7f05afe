"""Several posthornd nodes on one PostgreSQL database, behind Debian's
haproxy (TCP mode, round robin, tests/haproxy.py): two nodes with the same
config apart from their ports and data dirs, on one database of a
throwaway cluster (tests/pgsql.py). SMTP delivery through the balancer,
IMAP IDLE on node B woken by a delivery to node A and told of a flag
stored through A, concurrent STORE and
APPEND from both nodes on one mailbox, the POP3 maildrop lock across
nodes, a kill -9 of one node under SMTP load (every message that got a
250 is stored exactly once and intact), and the shared outbound queue
(each message sent once; a killed node's claimed messages sent by the
other at once when it was killed, after their lease when it hangs).
Skips while the daemon cannot run on pgsql."""
import imaplib
import os
import poplib
import re
import select
import signal
import smtplib
import socket
import threading
import time

import pytest

from conftest import Posthornd
from haproxy import Haproxy
from pgsql import PgCluster
from test_outbound import Sink, wait_for

SERVICES = ("smtp", "submission", "imap", "pop3")
PASSWORD = "nodes pw"
# [queue] of both nodes: short retries and a short claim lease, so a
# killed node's claimed messages go to the other one within the test
QUEUE_LEASE = 20
NOT_AVAILABLE = "store driver pgsql not available"
# rounds of the concurrent STORE test
ROUNDS = 5


def node_conf(sink_port):
    return (f"[queue]\nretry_min = 1s\nretry_max = 2s\ndelay_notice = 0\n"
            f"claim_lease = {QUEUE_LEASE}s\n"
            "[delivery]\ntimeout_percent = 2\nconnect_timeout = 2s\n"
            f"[routes]\nremote.test = 127.0.0.1:{sink_port}\n")


class HoldSink(Sink):
    """The sink, holding the first try of a message with hold_subject
    until hold is set, then answering it 451 (without blocking the other
    sessions)."""

    def __init__(self):
        super().__init__()
        self.hold_subject = None
        self.hold = threading.Event()
        self.held = set()

    async def handle_DATA(self, server, session, envelope):
        import asyncio
        subject = self.hold_subject
        if (subject is not None and subject not in self.held and
                b"Subject: " + subject + b"\r\n" in envelope.original_content):
            self.held.add(subject)
            while not self.hold.is_set():
                await asyncio.sleep(0.05)
            return "451 4.3.0 try again"    # the stopped node never hears it
        return await super().handle_DATA(server, session, envelope)


class Node(Posthornd):
    """A posthornd --dev on the shared database (not one of its own)."""

    def __init__(self, data_dir, conninfo):
        super().__init__(data_dir, args=["--store-conninfo", conninfo])
        self.conninfo = None    # the harness's own pgsql database is not used

    def store_args(self):
        return []


def first_start(node):
    """Start a node for the first time; skip the module when this daemon
    cannot keep its store in PostgreSQL yet."""
    try:
        node.start()
    except RuntimeError as e:
        text = str(e)
        if ("not available" in text or "unrecognized option" in text or
                "store-conninfo" in text):
            why = [line for line in text.splitlines()
                   if "not available" in line or "unrecognized" in line]
            pytest.skip(f"{NOT_AVAILABLE} ({why[0].strip() if why else 'refused'})")
        raise


class Cluster:
    """The database, the nodes, the balancer and the sink they relay to."""

    def __init__(self, tmp):
        self.pg = PgCluster().start()
        self.conninfo = self.pg.new_database()
        self.sink = HoldSink().start()
        self.nodes = []
        self.lb = None
        try:
            for name in ("a", "b"):
                node = Node(os.path.join(tmp, name), self.conninfo)
                first_start(node)
                node.stop()
                with open(node.config_path, "a") as fh:
                    fh.write("\n" + node_conf(self.sink.port))
                node.start()
                self.nodes.append(node)
            self.lb = Haproxy({s: [n.port(s) for n in self.nodes]
                               for s in SERVICES}).start()
        except BaseException:
            self.close()
            raise

    def node_id(self, node):
        """The id the node logged at its start (it names its claims)."""
        m = re.findall(r"store: node (\d+)", node.log())
        return int(m[-1]) if m else None

    def psql(self, sql):
        r = self.pg.psql(sql, db=self.conninfo.rsplit("dbname=", 1)[1])
        return r.stdout

    def close(self):
        """Stop everything; the nodes' exit statuses."""
        if self.lb is not None:
            self.lb.stop()
        statuses = [node.stop() for node in self.nodes]
        self.sink.stop()
        self.pg.stop()
        return statuses


def assert_stopped_clean(nodes, statuses):
    """Each node exited 0 without a sanitizer report."""
    for node, status in zip(nodes, statuses):
        node.assert_clean()
        assert status == 0, f"posthornd exited {status}:\n{node.log()[-3000:]}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(str(tmp_path_factory.mktemp("nodes")))
    yield c
    assert_stopped_clean(c.nodes, c.close())


def add_user(cluster, address):
    cluster.nodes[0].cli("user", "add", address, "--password-stdin",
                         input=PASSWORD + "\n", check=True)


def msg(tag, size=0, rcpt="x@localhost"):
    body = "".join(f"{tag} line {i:05d} of the body\r\n" for i in range(max(1, size // 32)))
    return (f"From: load@example.org\r\nTo: {rcpt}\r\nSubject: {tag}\r\n"
            f"Message-ID: <{tag}@nodes.test>\r\n\r\n{body}").encode()


def smtp_send(port, rcpt, data, timeout=20):
    with smtplib.SMTP("127.0.0.1", port, timeout=timeout) as s:
        s.sendmail("load@example.org", [rcpt], data)


def imap_login(port, user):
    m = imaplib.IMAP4("127.0.0.1", port, timeout=20)
    m.login(user, PASSWORD)
    return m


def mailbox_messages(port, user, mailbox="INBOX"):
    """[(uid, bytes)] of a mailbox, read through one node."""
    m = imap_login(port, user)
    try:
        typ, _ = m.select(mailbox, readonly=True)
        assert typ == "OK"
        typ, data = m.uid("FETCH", "1:*", "(UID BODY.PEEK[])")
        out = []
        for item in data:
            if isinstance(item, tuple):
                uid = int(re.search(rb"UID (\d+)", item[0]).group(1))
                out.append((uid, item[1]))
        return out
    finally:
        m.logout()


def by_message_id(messages):
    """{Message-ID: [bytes, ...]} of the messages."""
    out = {}
    for _, raw in messages:
        m = re.search(rb"Message-ID: <([^>]+)>", raw)
        out.setdefault(m.group(1).decode() if m else None, []).append(raw)
    return out


class RawImap:
    """Just enough IMAP over a socket for IDLE (imaplib has none)."""

    def __init__(self, port, user):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buf = b""
        self.n = 0
        self.line()
        self.cmd(f'LOGIN "{user}" "{PASSWORD}"')

    def line(self, timeout=10):
        deadline = time.monotonic() + timeout
        while b"\r\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.sock], [], [], left)[0]:
                return None
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def cmd(self, text):
        self.n += 1
        tag = f"t{self.n}"
        self.sock.sendall(f"{tag} {text}\r\n".encode())
        lines = []
        while True:
            line = self.line()
            assert line is not None, f"no answer to {text}: {lines}"
            if line.startswith(tag.encode() + b" "):
                assert line.split()[1] == b"OK", (text, line, lines)
                return lines
            lines.append(line)

    def close(self):
        self.sock.close()


def test_smtp_through_the_balancer(cluster):
    add_user(cluster, "lb@localhost")
    before = cluster.lb.sessions("smtp")
    sent = {}
    for i in range(8):
        data = msg(f"lb-{i}", size=2000, rcpt="lb@localhost")
        smtp_send(cluster.lb.port("smtp"), "lb@localhost", data)
        sent[f"lb-{i}@nodes.test"] = data
    after = cluster.lb.sessions("smtp")
    # round robin: both nodes took deliveries
    assert all(after[i] > before.get(i, 0) for i in (0, 1)), (before, after)
    for node in cluster.nodes:
        got = by_message_id(mailbox_messages(node.port("imap"), "lb@localhost"))
        assert sorted(got) == sorted(sent)
        for mid, data in sent.items():
            assert len(got[mid]) == 1
            assert got[mid][0].endswith(data.split(b"\r\n\r\n", 1)[1])


def test_idle_on_b_woken_by_a_delivery_to_a(cluster):
    add_user(cluster, "idle@localhost")
    a, b = cluster.nodes
    r = RawImap(b.port("imap"), "idle@localhost")
    try:
        r.cmd("SELECT INBOX")
        for i in range(3):
            r.sock.sendall(b"i1 IDLE\r\n")
            assert r.line().startswith(b"+ ")
            start = time.monotonic()
            smtp_send(a.port("smtp"), "idle@localhost", msg(f"idle-{i}"))
            delivered = time.monotonic()
            line = r.line(timeout=10)
            woke = time.monotonic()
            assert line == f"* {i + 1} EXISTS".encode(), line
            # the bound: within 1 s of the delivery's 250
            assert woke - delivered < 1.0, (delivered - start, woke - delivered)
            r.sock.sendall(b"DONE\r\n")
            while True:
                line = r.line()
                if line.startswith(b"i1 "):
                    assert b"OK" in line
                    break
        # a flag stored through node a reaches the IDLE session on b
        r.sock.sendall(b"i2 IDLE\r\n")
        assert r.line().startswith(b"+ ")
        m = imap_login(a.port("imap"), "idle@localhost")
        try:
            m.select("INBOX")
            typ, _ = m.store("2", "+FLAGS", "(\\Flagged $FromA)")
            assert typ == "OK"
            stored = time.monotonic()
        finally:
            m.logout()
        # (a new keyword's FLAGS and PERMANENTFLAGS come first)
        seen = []
        while not seen or not seen[-1].startswith(b"* 2 FETCH"):
            line = r.line(timeout=10)
            assert line is not None, seen
            seen.append(line)
        assert b"\\Flagged" in seen[-1] and b"$FromA" in seen[-1], seen
        assert time.monotonic() - stored < 1.0
        r.sock.sendall(b"DONE\r\n")
        while not (line := r.line()).startswith(b"i2 "):
            pass
    finally:
        r.close()


def test_concurrent_store_and_append_from_both_nodes(cluster):
    add_user(cluster, "flags@localhost")
    a, b = cluster.nodes
    n = 12
    for i in range(n):
        smtp_send(a.port("smtp"), "flags@localhost", msg(f"flags-{i}"))
    sides = [imap_login(node.port("imap"), "flags@localhost") for node in (a, b)]
    results = [[], []]
    errors = []

    def work(k):
        m = sides[k]
        try:
            typ, _ = m.enable("CONDSTORE")
            assert typ == "OK"
            typ, _ = m.select("INBOX")
            assert typ == "OK"
            for rnd in range(ROUNDS):
                for uid in range(1, n + 1):
                    # both sides change every message at about the same
                    # time: each adds a keyword of its own per round, and
                    # both \Flagged; a change lost to the other's would
                    # miss its keyword at the end
                    flag = f"$Side{'AB'[k]}{rnd}"
                    extra = " \\Flagged" if uid % 2 == rnd % 2 else ""
                    typ, data = m.uid("STORE", str(uid), "+FLAGS", f"({flag}{extra})")
                    assert typ == "OK", data
                    # the FETCH of the message stored (the answer may
                    # tell the other side's changes too, first)
                    got = None
                    for item in data:
                        text = item if isinstance(item, bytes) else (item or [b""])[0]
                        u = re.search(rb"UID (\d+)", text or b"")
                        q = re.search(rb"MODSEQ \((\d+)\)", text or b"")
                        if u and q and int(u.group(1)) == uid:
                            got = int(q.group(1))
                    if got is not None:
                        results[k].append(("store", uid, got))
                # and new messages, each side its own
                typ, data = m.append("INBOX", None, None, msg(f"append-{k}-{rnd}"))
                assert typ == "OK", data
                code = re.search(rb"APPENDUID \d+ (\d+)", data[0])
                results[k].append(("append", int(code.group(1)), None))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=work, args=(k,)) for k in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    for k in (0, 1):
        # each side's modseqs only grow, and the UIDs it got too
        modseqs = [r[2] for r in results[k] if r[0] == "store"]
        uids = [r[1] for r in results[k] if r[0] == "append"]
        assert modseqs and modseqs == sorted(modseqs), modseqs
        assert uids == sorted(uids) and len(set(uids)) == len(uids)
    # one modseq per change across nodes: never the same one twice for
    # different messages (a change of several is one modseq, but each
    # STORE here names one message)
    pairs = {}
    for k in (0, 1):
        for kind, uid, modseq in results[k]:
            if kind == "store":
                assert pairs.setdefault(modseq, uid) == uid, (modseq, uid, pairs[modseq])
    appended = [r[1] for k in (0, 1) for r in results[k] if r[0] == "append"]
    assert len(set(appended)) == len(appended) == 2 * ROUNDS
    assert min(appended) > n
    # each side sees the other's flags on every message
    for k, m in enumerate(sides):
        m.noop()
        typ, data = m.uid("FETCH", f"1:{n}", "(FLAGS MODSEQ)")
        assert typ == "OK"
        flags = {}
        for d in data:
            line = d if isinstance(d, bytes) else (d or [b""])[0]
            u = re.search(rb"UID (\d+)", line or b"")
            if u and b"FLAGS" in line:
                flags[int(u.group(1))] = line
        assert sorted(flags) == list(range(1, n + 1)), flags
        for line in flags.values():
            for rnd in range(ROUNDS):
                assert f"$SideA{rnd}".encode() in line and \
                    f"$SideB{rnd}".encode() in line, line
            assert b"\\Flagged" in line, line
        m.logout()
    # UIDs, modseqs of the mailbox in the database: no two messages share
    # a UID, and HIGHESTMODSEQ is the largest modseq
    out = cluster.psql("SELECT count(*), count(DISTINCT uid), max(m.modseq), "
                       "max(x.highestmodseq) FROM messages m JOIN mailboxes x ON "
                       "x.id = m.mailbox_id JOIN users u ON u.id = x.user_id "
                       "WHERE u.address = 'flags@localhost'")
    row = [v.strip() for v in out.splitlines()[2].split("|")]
    assert row[0] == row[1] == str(n + 2 * ROUNDS), out
    assert int(row[2]) <= int(row[3]), out


def test_pop3_lock_holds_across_nodes(cluster):
    add_user(cluster, "pop@localhost")
    a, b = cluster.nodes
    smtp_send(a.port("smtp"), "pop@localhost", msg("pop-1"))
    pa = poplib.POP3("127.0.0.1", a.port("pop3"), timeout=10)
    pa.user("pop@localhost")
    pa.pass_(PASSWORD)
    try:
        pb = poplib.POP3("127.0.0.1", b.port("pop3"), timeout=10)
        pb.user("pop@localhost")
        with pytest.raises(poplib.error_proto, match=r"IN-USE"):
            pb.pass_(PASSWORD)
        pb.close()
        # and the other way round through the same node
        pa2 = poplib.POP3("127.0.0.1", a.port("pop3"), timeout=10)
        pa2.user("pop@localhost")
        with pytest.raises(poplib.error_proto, match=r"IN-USE"):
            pa2.pass_(PASSWORD)
        pa2.close()
    finally:
        pa.quit()
    # released at QUIT: node b takes it now
    pb = poplib.POP3("127.0.0.1", b.port("pop3"), timeout=10)
    pb.user("pop@localhost")
    pb.pass_(PASSWORD)
    assert pb.stat()[0] == 1
    pb.quit()


def test_queue_shared_each_message_sent_once(cluster):
    # a slow receiver: each message stays in flight on one node while the
    # other node's queue runner looks for due entries
    cluster.sink.stall = 1.5
    before = len(cluster.sink.messages)
    mids = []
    for i in range(10):
        data = msg(f"out-{i}", rcpt="rcpt@remote.test")
        with smtplib.SMTP("127.0.0.1", cluster.lb.port("submission"), timeout=20) as s:
            s.login("demo@localhost", "demo")
            s.sendmail("demo@localhost", ["rcpt@remote.test"], data)
        mids.append(f"out-{i}@nodes.test")
    assert wait_for(lambda: len(cluster.sink.messages) - before >= 10, timeout=60)
    time.sleep(3)    # a second copy would come now
    cluster.sink.stall = 0
    got = {}
    for _, _, content, _ in cluster.sink.messages[before:]:
        mid = re.search(rb"Message-ID: <([^>]+)>", content).group(1).decode()
        got[mid] = got.get(mid, 0) + 1
    assert got == {mid: 1 for mid in mids}
    assert wait_for(lambda: cluster.psql("SELECT count(*) FROM queue").splitlines()[2].strip() == "0")


def test_kill_9_under_smtp_load_and_a_killed_nodes_claims(cluster):
    """Last: it kills node a (and starts it again at the end)."""
    add_user(cluster, "load@localhost")
    a, b = cluster.nodes
    accepted = {}    # Message-ID -> the message sent
    lock = threading.Lock()
    stop_at = time.monotonic() + 40
    kill_after = 30    # 250s before the kill

    def client(k):
        for i in range(60):
            if time.monotonic() > stop_at:
                return
            tag = f"load-{k}-{i}"
            data = msg(tag, size=1500 + 500 * (i % 7), rcpt="load@localhost")
            try:
                smtp_send(cluster.lb.port("smtp"), "load@localhost", data, timeout=10)
            except (OSError, smtplib.SMTPException):
                continue    # no 250: not counted
            with lock:
                accepted[f"{tag}@nodes.test"] = data

    threads = [threading.Thread(target=client, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(accepted) >= kill_after, timeout=30)
    a.proc.send_signal(signal.SIGKILL)
    a.proc.wait()
    for t in threads:
        t.join(60)
    got = by_message_id(mailbox_messages(b.port("imap"), "load@localhost"))
    assert len(accepted) > kill_after
    for mid, data in accepted.items():
        assert mid in got, f"{mid} got a 250 and is not stored"
        assert len(got[mid]) == 1, f"{mid} stored {len(got[mid])} times"
        # intact: the stored message ends with what was sent (after the
        # Received/Return-Path lines the node adds)
        assert got[mid][0].split(b"From: load@example.org", 1)[1] == \
            data.split(b"From: load@example.org", 1)[1], mid
    # nothing at all is stored twice
    assert all(len(v) == 1 for v in got.values())

    # a claimed message of a node that stops: the sink stalls its first
    # try; the node that claimed it is killed (its claims go to the other
    # node at once: its database session, and with it its node lock, is
    # gone) or frozen (still connected: its claim lasts until the lease)
    a.start()
    cluster.sink.stall = 0
    for how in ("kill", "stop"):
        claimed_elsewhere(cluster, how)


def claimed_elsewhere(cluster, how):
    subject = f"leased-{how}".encode()
    sink = cluster.sink
    hold = sink.hold = threading.Event()
    sink.hold_subject = subject

    def copies():
        return sum(b"Subject: " + subject + b"\r\n" in m[2] for m in sink.messages)

    owner = None
    try:
        with smtplib.SMTP("127.0.0.1", cluster.lb.port("submission"), timeout=20) as s:
            s.login("demo@localhost", "demo")
            s.sendmail("demo@localhost", ["rcpt@remote.test"],
                       msg(f"leased-{how}", rcpt="rcpt@remote.test"))
        assert wait_for(lambda: subject in sink.held, timeout=20)
        claim = int(cluster.psql("SELECT claim_node FROM queue").splitlines()[2])
        owners = [n for n in cluster.nodes if cluster.node_id(n) == claim]
        assert len(owners) == 1, (claim, [cluster.node_id(n) for n in cluster.nodes])
        owner = owners[0]
        other = cluster.nodes[1 - cluster.nodes.index(owner)]
        owner.proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGSTOP)
        if how == "kill":
            owner.proc.wait()
        stopped_at = time.monotonic()
        assert wait_for(lambda: copies() == 1, timeout=QUEUE_LEASE + 20)
        after = time.monotonic() - stopped_at
        if how == "kill":
            # not its lease: half of it is ample for the other's next tick
            assert after < QUEUE_LEASE / 2, f"a killed node's claim lasted {after:.1f}s"
        else:
            assert after >= QUEUE_LEASE - 1.5, f"sent {after:.1f}s after, before the lease ended"
        hold.set()
        if how == "stop":
            owner.proc.send_signal(signal.SIGCONT)
        time.sleep(2)
        assert copies() == 1
        assert other.proc.poll() is None
        assert wait_for(lambda: cluster.psql("SELECT count(*) FROM queue")
                        .splitlines()[2].strip() == "0")
    finally:
        hold.set()
        sink.hold_subject = None
        if owner is not None and owner.proc.poll() is None:
            owner.proc.send_signal(signal.SIGCONT)
        for node in cluster.nodes:
            if node.proc.poll() is not None:
                node.start()

