"""Outbound back-off per destination: a destination that fails at connection
level (refused, a 421 greeting, a failed TLS handshake where TLS is
required) is marked failing for the retry interval, and every message
waiting for it is deferred once, without a reconnect loop: the daemon stays
idle, its log stays short, and `queue flush` retries it at once. A held
entry that the runner had already picked is never sent."""
import calendar
import os
import re
import threading
import time
import urllib.request

from test_outbound import (BusyServer, Sink, fast_conf, message,
                           old_tls_context, queue_count, sender_daemon,
                           submit, wait_for)

N = 50
# Long enough that no retry falls in the watched seconds, short enough to
# be realistic (the default is 5 minutes).
RETRY = "2m"


def conf(route, queue="", extra=""):
    return fast_conf(f"[routes]\n{route}\n" + extra, retry_min=RETRY,
                     retry_max="10m", queue=queue)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    # utime and stime are fields 14 and 15 (1-based, pid is field 1)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def log_lines(daemon):
    return daemon.log().count("\n")


def metric(daemon, name):
    body = urllib.request.urlopen(f"http://127.0.0.1:{daemon.port('http')}/metrics",
                                  timeout=10).read().decode()
    m = re.search(rf"^{re.escape(name)} (\d+)$", body, re.M)
    return int(m.group(1)) if m else None


def entries(daemon):
    """{id: (state, attempts, next_try as unix time, text)} of `queue list`."""
    out = daemon.cli("queue", "list", check=True).stdout
    got = {}
    for block in re.split(r"\n(?=\d+ )", out):
        m = re.match(r"(\d+) (\S+) attempts=(\d+) next=(\S+ \S+)Z", block)
        if m:
            when = calendar.timegm(time.strptime(m.group(4), "%Y-%m-%d %H:%M:%S"))
            got[int(m.group(1))] = (m.group(2), int(m.group(3)), when, block)
    return got


def submit_many(daemon, n, domain="remote.test", tag="backoff"):
    for i in range(n):
        submit(daemon, [f"r{i}@{domain}"], message(f"{tag} {i}", f"r{i}@{domain}"))


def all_deferred_once(daemon, n):
    got = entries(daemon)
    return len(got) == n and all(e[1] == 1 for e in got.values()) and got


def watch_idle(daemon, seconds=10):
    """(CPU seconds, log lines, sessions started) of the daemon over seconds."""
    pid = daemon.proc.pid
    cpu0, lines0 = cpu_seconds(pid), log_lines(daemon)
    sessions0 = metric(daemon, "posthorn_outbound_sessions_total")
    time.sleep(seconds)
    return (cpu_seconds(pid) - cpu0, log_lines(daemon) - lines0,
            metric(daemon, "posthorn_outbound_sessions_total") - sessions0)


def assert_backed_off(daemon, n, error):
    """Every entry deferred once with its next try a retry interval away,
    then a quiet daemon."""
    got = wait_for(lambda: all_deferred_once(daemon, n), timeout=60)
    assert got, daemon.cli("queue", "list").stdout[-3000:]
    now = time.time()
    for state, attempts, next_try, text in got.values():
        assert state == "deferred" and attempts == 1, text
        assert now + 60 <= next_try <= now + 130, text
        assert error in text, text
    cpu, lines, sessions = watch_idle(daemon)
    print(f"idle 10 s: cpu {cpu:.2f} s, {lines} log lines, {sessions} sessions")
    assert cpu < 1.0, f"{cpu:.2f} s of CPU in 10 s"
    assert lines <= 5, f"{lines} log lines in 10 s"
    assert sessions == 0, f"{sessions} sessions in 10 s"
    assert all(e[1] == 1 for e in entries(daemon).values())
    assert metric(daemon, "posthorn_outbound_backoff_deferrals_total") >= 1


def test_closed_port_backs_off_then_flush_delivers_once(tmp_path):
    sink = Sink()	# not listening yet: its port refuses connections
    sender = sender_daemon(tmp_path, conf(f"remote.test = 127.0.0.1:{sink.port}"))
    try:
        submit_many(sender, N)
        assert_backed_off(sender, N, "refused")
        # one outcome line per message and a few per destination and
        # session, not one per reconnect
        runner = [l for l in sender.log().splitlines()
                  if "outbound:" in l or "smtp-out" in l]
        assert len(runner) <= 2 * N, "\n".join(runner[-40:])
        assert metric(sender, "posthorn_outbound_failing_peers") == 1

        sink.start()
        time.sleep(2)
        assert sink.messages == []	# the next try is minutes away
        r = sender.cli("queue", "flush", check=True)
        assert f"{N} messages due now" in r.stdout
        assert wait_for(lambda: len(sink.messages) >= N, timeout=30)
        assert wait_for(lambda: queue_count(sender) == 0)
        time.sleep(2)
        subjects = [re.search(rb"Subject: (backoff \d+)", m[2]).group(1)
                    for m in sink.messages]
        assert len(subjects) == N and len(set(subjects)) == N
        assert metric(sender, "posthorn_outbound_failing_peers") == 0
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_421_greeting_backs_off(tmp_path):
    port = Sink().port
    busy = BusyServer("127.0.0.1", port)
    sender = sender_daemon(tmp_path, conf(f"remote.test = 127.0.0.1:{port}"))
    try:
        submit_many(sender, N)
        assert_backed_off(sender, N, "421")
        greeted = busy.greeted
        assert greeted <= 10	# the first wave of sessions, no more
    finally:
        sender.stop()
        busy.stop()
    sender.assert_clean()


def test_failed_tls_handshake_where_required_backs_off(tmp_path):
    sink = Sink(tls_context=old_tls_context(tmp_path)).start()
    sender = sender_daemon(tmp_path, conf(
        f"remote.test = 127.0.0.1:{sink.port} tls=required"))
    try:
        submit_many(sender, N)
        assert_backed_off(sender, N, "EHLO")
        assert sink.messages == []
    finally:
        sender.stop()
        sink.stop()
    sender.assert_clean()


def test_many_domains_on_one_failing_host(tmp_path):
    """Forty domains routed to one closed port: one failing mark, every
    message deferred once, no session per domain and loop."""
    port = Sink().port
    routes = "\n".join(f"d{i}.test = 127.0.0.1:{port}" for i in range(40))
    sender = sender_daemon(tmp_path, conf(routes))
    try:
        for i in range(40):
            submit(sender, [f"x@d{i}.test"], message(f"domain {i}", f"x@d{i}.test"))
        assert_backed_off(sender, 40, "refused")
        assert metric(sender, "posthorn_outbound_failing_peers") == 1
    finally:
        sender.stop()
    sender.assert_clean()


class GatedServer(BusyServer):
    """A minimal SMTP server that accepts connections at once but greets
    only when the gate opens; records (rcpts, data) per message. With
    limit, a session beyond that many open at once gets a 421 greeting
    (as BusyServer greets every one)."""

    def __init__(self, limit=None):
        self.gate = threading.Event()
        self.limit = limit
        self.lock = threading.Lock()
        self.open = 0
        self.accepted = 0
        self.refused = 0
        self.messages = []
        super().__init__("127.0.0.1", 0)	# starts accepting
        self.port = self.sock.getsockname()[1]

    def serve(self, c):
        with self.lock:
            self.accepted += 1
            busy = self.limit is not None and self.open >= self.limit
            self.refused += busy
            self.open += not busy
        if busy:
            c.sendall(b"421 4.7.0 too many connections from you\r\n")
            c.close()
            return
        threading.Thread(target=self.session, args=(c,), daemon=True).start()

    def session(self, c):
        try:
            self.converse(c)
        finally:
            with self.lock:
                self.open -= 1

    def converse(self, c):
        f = c.makefile("rb")
        try:
            self.gate.wait(60)
            c.sendall(b"220 gated ESMTP\r\n")
            rcpts = []
            for line in f:
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    c.sendall(b"250 gated\r\n")
                elif verb == b"MAIL":
                    rcpts = []
                    c.sendall(b"250 ok\r\n")
                elif verb == b"RCPT":
                    rcpts.append(line[8:].strip().strip(b"<>").decode())
                    c.sendall(b"250 ok\r\n")
                elif verb == b"DATA":
                    c.sendall(b"354 go\r\n")
                    data = b""
                    for body in f:
                        if body == b".\r\n":
                            break
                        data += body
                    self.messages.append((rcpts, data))
                    c.sendall(b"250 queued\r\n")
                elif verb == b"QUIT":
                    c.sendall(b"221 bye\r\n")
                    return
                else:
                    c.sendall(b"250 ok\r\n")
        except OSError:
            pass
        finally:
            f.close()
            c.close()

    def stop(self):
        self.gate.set()
        super().stop()


def test_hold_of_an_entry_already_picked(tmp_path):
    """The runner has picked the entries and waits for a slow greeting;
    `queue hold` on one of them takes effect before it is sent."""
    server = GatedServer()
    sender = sender_daemon(tmp_path, conf(
        f"remote.test = 127.0.0.1:{server.port}",
        queue="max_per_destination = 1\n"))
    try:
        submit_many(sender, 3, tag="gated")
        assert wait_for(lambda: server.accepted == 1)
        time.sleep(1.5)	# a tick or more: all three picked and waiting
        held = sorted(entries(sender))[1]
        r = sender.cli("queue", "hold", str(held), check=True)
        assert f"queue entry {held} held" in r.stdout
        time.sleep(2.5)	# the runner notices on its next tick
        server.gate.set()
        assert wait_for(lambda: len(server.messages) >= 2, timeout=30)
        time.sleep(2)
        sent = sorted(re.search(rb"Subject: (gated \d)", d).group(1)
                      for _, d in server.messages)
        assert sent == [b"gated 0", b"gated 2"]
        assert wait_for(lambda: queue_count(sender) == 1, timeout=30)
        state, attempts, _, text = entries(sender)[held]
        assert state == "held" and attempts == 0, text
        assert f"outbound: id={held} held: not sent" in sender.log()
        # released, it goes out
        sender.cli("queue", "release", str(held), check=True)
        assert wait_for(lambda: queue_count(sender) == 0, timeout=30)
        assert len(server.messages) == 3
    finally:
        sender.stop()
        server.stop()
    sender.assert_clean()


def test_peer_limiting_our_sessions_is_not_marked_failing(tmp_path):
    """A peer that takes two sessions at once and greets the rest with 421:
    while ours are still on it a 421 is no sign of a dead peer. Everything
    goes out in the first round, with fewer sessions, no deferral."""
    server = GatedServer(limit=2)
    server.gate.set()
    sender = sender_daemon(tmp_path, conf(f"remote.test = 127.0.0.1:{server.port}"))
    try:
        submit_many(sender, 30, tag="limited")
        assert wait_for(lambda: queue_count(sender) == 0, timeout=60), \
            sender.cli("queue", "list").stdout[-2000:]
        assert len(server.messages) == 30
        print(f"{server.accepted} sessions, {server.refused} refused")
        assert server.accepted < 60
        assert metric(sender, "posthorn_outbound_backoff_deferrals_total") == 0
    finally:
        sender.stop()
        server.stop()
    sender.assert_clean()
