"""SIGTERM under load: SMTP sessions pipelining messages, IMAP sessions
APPENDing and STOREing, a POP3 QUIT with deleted messages and an outbound
delivery all wait on store writes when the signal comes. posthornd must exit
0 in time with no sanitizer report, and after a restart every message that
got its 250 (or tagged OK) is in its mailbox exactly once.

POSTHORN_SHUTDOWN_LOOPS=N repeats each case N times (default 1): the races
it looks for show only now and then, best under the -san build."""
import imaplib
import os
import poplib
import random
import re
import signal
import smtplib
import socket
import threading
import time

import pytest

from conftest import Posthornd
from test_outbound import Sink

LOOPS = int(os.environ.get("POSTHORN_SHUTDOWN_LOOPS", "1"))
SMTP_SESSIONS = 10
IMAP_SESSIONS = 3
POP3_MESSAGES = 20
POP3_USER = "popper@localhost"
POP3_PASSWORD = "pop secret"
# Seconds from SIGTERM to the exit: the shutdown timeout, the outbound stop
# and room for a slow sanitizer build.
EXIT_BOUND = 25


def body(token):
    return (f"From: load@example.test\r\nTo: demo@localhost\r\n"
            f"Subject: {token}\r\nMessage-ID: <{token}@example.test>\r\n"
            f"\r\nshutdown load {token}\r\n").encode()


class Lines:
    """Reply lines from a raw socket (bytes, CRLF stripped)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("closed")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """One SMTP reply (multi-line joined): (code, last line)."""
        while True:
            line = self.line()
            if line[3:4] != b"-":
                return int(line[:3]), line


def smtp_flood(port, n, accepted, stop, running):
    """Pipeline messages to demo@localhost as fast as the server answers:
    the end of each message goes out with the next MAIL, RCPT and DATA.
    Appends the token of each message that got its 250 to accepted; sets
    running after the first."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    except OSError:
        return
    r = Lines(sock)
    envelope = b"MAIL FROM:<load@example.test>\r\nRCPT TO:<demo@localhost>\r\nDATA\r\n"
    try:
        if r.reply()[0] != 220:
            return
        sock.sendall(b"EHLO load.example.test\r\n")
        r.reply()
        sock.sendall(envelope)
        for i in range(100000):
            if [r.reply()[0] for _ in range(3)] != [250, 250, 354]:
                return
            token = f"smtp-{n}-{i}"
            more = b"" if stop.is_set() else envelope
            sock.sendall(body(token) + b".\r\n" + more)
            code, _ = r.reply()
            if code == 250:
                accepted.append(token)
                running.set()
            if code != 250 or not more:
                return
    except (OSError, ConnectionError, ValueError):
        pass
    finally:
        running.set()
        sock.close()


def imap_load(port, n, appended, stop, running):
    """APPEND to Drafts and STORE flags on it in a loop; appended gets the
    token of every APPEND that was answered OK; running is set after the
    first."""
    try:
        m = imaplib.IMAP4("127.0.0.1", port, timeout=20)
        m.login("demo@localhost", "demo")
        m.select("Drafts")
        for i in range(100000):
            if stop.is_set():
                break
            token = f"imap-{n}-{i}"
            typ, _ = m.append("Drafts", None, None, body(token))
            if typ != "OK":
                break
            appended.append(token)
            running.set()
            flag = "+FLAGS" if i % 2 == 0 else "-FLAGS"
            typ, _ = m.store("1:*", flag, "(\\Flagged)")
            if typ != "OK":
                break
    except (OSError, imaplib.IMAP4.error, EOFError):
        pass
    finally:
        running.set()


def outbound_feed(port, stop, running):
    """Submit mail for the sink's domain until stop: the queue runner
    delivers it and records each result while the signal comes."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            s.login("demo@localhost", "demo")
            for i in range(100000):
                if stop.is_set():
                    break
                s.sendmail("demo@localhost", ["rcpt@remote.test"], body(f"out-{i}"))
                running.set()
    except (OSError, smtplib.SMTPException):
        pass
    finally:
        running.set()


def pop3_quit(port, outcome):
    """Log in, DELE every message, then QUIT; outcome["quit"] is the reply
    to QUIT (b"" when the connection went first)."""
    try:
        p = poplib.POP3("127.0.0.1", port, timeout=20)
        p.user(POP3_USER)
        p.pass_(POP3_PASSWORD)
        count, _ = p.stat()
        for i in range(1, count + 1):
            p.dele(i)
        outcome["deleted"] = count
        outcome["ready"].set()
        outcome["go"].wait(10)
        outcome["quit"] = p.quit()
    except (OSError, poplib.error_proto, EOFError) as e:
        outcome["quit"] = str(e).encode()
    finally:
        outcome["ready"].set()


def tokens(m, mailbox):
    """Subject tokens of the messages in mailbox, in UID order."""
    typ, _ = m.select(mailbox, readonly=True)
    assert typ == "OK"
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert typ == "OK"
    out = []
    for item in data:
        if isinstance(item, tuple):
            found = re.search(rb"Subject: (\S+)", item[1])
            if found:
                out.append(found.group(1).decode())
    return out


def shutdown_daemon(tmp_path, timeout, extra=""):
    """A dev daemon with the shutdown timeout given and the POP3 user."""
    d = Posthornd(tmp_path)
    d.start()
    d.cli("user", "add", POP3_USER, "--password-stdin", input=POP3_PASSWORD + "\n",
          check=True)
    d.stop()
    with open(d.config_path) as fh:
        conf = fh.read()
    conf = conf.replace("[server]\n", f"[server]\nshutdown_timeout = {timeout}\n", 1)
    with open(d.config_path, "w") as fh:
        fh.write(conf + "\n" + extra)
    return d.start()


def fill_pop3(d):
    with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=20) as s:
        for i in range(POP3_MESSAGES):
            s.sendmail("load@example.test", [POP3_USER], body(f"pop-{i}"))


def stop_under_load(d, sink=None):
    """Run the load, SIGTERM in the middle of it; returns what the clients
    saw acknowledged."""
    stop = threading.Event()
    accepted, appended = [], []
    pop = {"ready": threading.Event(), "go": threading.Event()}
    running = [threading.Event() for _ in range(SMTP_SESSIONS + IMAP_SESSIONS)]
    threads = [threading.Thread(target=smtp_flood,
                                args=(d.port("smtp"), n, accepted, stop, running[n]))
               for n in range(SMTP_SESSIONS)]
    threads += [threading.Thread(target=imap_load,
                                 args=(d.port("imap"), n, appended, stop,
                                       running[SMTP_SESSIONS + n]))
                for n in range(IMAP_SESSIONS)]
    threads.append(threading.Thread(target=pop3_quit, args=(d.port("pop3"), pop)))
    if sink is not None:
        running.append(threading.Event())
        threads.append(threading.Thread(target=outbound_feed,
                                        args=(d.port("submission"), stop, running[-1])))
    for t in threads:
        t.start()
    # every session under way (logins are slow under ASan), then QUIT and
    # SIGTERM together: the QUIT's write may be in flight or not yet made
    assert pop["ready"].wait(30)
    for ev in running:
        assert ev.wait(30)
    time.sleep(0.2)
    if sink is not None:
        # signal just as the sink accepts a message: the runner is about
        # to record that result
        seen = len(sink.messages)
        deadline = time.monotonic() + 30
        while len(sink.messages) == seen and time.monotonic() < deadline:
            time.sleep(0.001)
        assert len(sink.messages) > seen, "the queue runner delivered nothing"
    pop["go"].set()
    time.sleep(random.uniform(0, 0.01))
    d.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        d.proc.wait(EXIT_BOUND)
    except Exception:
        d.proc.kill()
        d.proc.wait()
        raise AssertionError(f"posthornd did not exit in {EXIT_BOUND}s:\n{d.log()}")
    stop.set()
    for t in threads:
        t.join(30)
        assert not t.is_alive()
    status = d.stop()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"
    d.assert_clean()
    assert time.monotonic() - started < EXIT_BOUND
    return accepted, appended, pop


def check_after_restart(d, accepted, appended, pop):
    d.start()
    try:
        m = imaplib.IMAP4("127.0.0.1", d.port("imap"), timeout=20)
        m.login("demo@localhost", "demo")
        inbox = [t for t in tokens(m, "INBOX") if t.startswith("smtp-")]
        drafts = [t for t in tokens(m, "Drafts") if t.startswith("imap-")]
        m.logout()
        assert len(inbox) == len(set(inbox)), "a message stored twice"
        assert len(drafts) == len(set(drafts)), "an APPEND stored twice"
        missing = set(accepted) - set(inbox)
        assert not missing, f"250 given but not stored: {sorted(missing)[:10]}"
        missing = set(appended) - set(drafts)
        assert not missing, f"APPEND OK but not stored: {sorted(missing)[:10]}"
        # the load ran: the signal came with writes in flight
        assert accepted and appended

        p = poplib.POP3("127.0.0.1", d.port("pop3"), timeout=20)
        p.user(POP3_USER)
        p.pass_(POP3_PASSWORD)
        left, _ = p.stat()
        p.quit()
        # the QUIT's deletions are one write: all made or none
        assert left in (0, POP3_MESSAGES), left
        if pop["quit"].startswith(b"+OK"):
            assert left == 0, pop["quit"]
    finally:
        status = d.stop()
    d.assert_clean()
    assert status == 0


@pytest.mark.parametrize("timeout", ["0s", "2s"])
def test_sigterm_with_writes_in_flight(tmp_path, timeout):
    """0s cuts every session at once, with its store writes in flight;
    2s lets the sessions finish the command they are in."""
    for loop in range(LOOPS):
        d = shutdown_daemon(tmp_path / f"run{loop}", timeout)
        fill_pop3(d)
        accepted, appended, pop = stop_under_load(d)
        check_after_restart(d, accepted, appended, pop)


def test_sigterm_with_outbound_results_in_flight(tmp_path):
    """The queue runner delivers to a sink while the signal comes: its
    QUEUE_RESULT writes are in flight with the sessions' writes."""
    sink = Sink().start()
    try:
        for loop in range(LOOPS):
            d = shutdown_daemon(
                tmp_path / f"run{loop}", "0s",
                "[queue]\nretry_min = 1s\nretry_max = 2s\n"
                f"[routes]\nremote.test = 127.0.0.1:{sink.port}\n")
            fill_pop3(d)
            accepted, appended, pop = stop_under_load(d, sink)
            check_after_restart(d, accepted, appended, pop)
    finally:
        sink.stop()
