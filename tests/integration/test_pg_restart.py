"""A PostgreSQL restart under running nodes (PostgreSQL only): two
posthornd nodes on one database of a throwaway cluster of their own
(tests/pgsql.py), so the restart disturbs no other test. After
`pg_ctl restart -m fast` the nodes deliver and read again without a
restart of their own (the writer's and readers' connections reconnect);
while the server is down SMTP answers 4xx, IMAP NO and POP3 -ERR, and
each message refused then goes in on a retry once it is back; IMAP
sessions opened before go on. A change committed through node A while
node B's change listener is away is told to B's IDLE session once the
listener is back."""
import imaplib
import os
import poplib
import re
import smtplib
import time

import pytest

import conftest
from pgsql import PgCluster
from test_nodes import (PASSWORD, Node, RawImap, add_user, assert_stopped_clean,
                        first_start, msg)

pytestmark = pytest.mark.skipif(
    conftest.STORE != "pgsql",
    reason="PostgreSQL restarts: runs with POSTHORN_TEST_STORE=pgsql")


class Nodes:
    def __init__(self, tmp):
        self.pg = PgCluster().start()
        self.conninfo = self.pg.new_database()
        self.dbname = self.conninfo.rsplit("dbname=", 1)[1]
        self.nodes = []
        try:
            for name in ("a", "b"):
                node = Node(os.path.join(tmp, name), self.conninfo)
                first_start(node)
                self.nodes.append(node)
        except BaseException:
            self.close()
            raise

    def psql(self, sql, db="postgres"):
        return self.pg.psql(sql, db=db).stdout

    def close(self):
        statuses = [node.stop() for node in self.nodes]
        self.pg.stop()
        return statuses


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    c = Nodes(str(tmp_path_factory.mktemp("pgrestart")))
    yield c
    assert_stopped_clean(c.nodes, c.close())


def send(port, rcpt, data):
    """Send one message: None on a 250, else the (4xx or 5xx) code."""
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            s.sendmail("load@example.org", [rcpt], data)
        return None
    except smtplib.SMTPRecipientsRefused as e:
        return list(e.recipients.values())[0][0]
    except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as e:
        return e.smtp_code


def send_retrying(port, rcpt, data, limit=30):
    """Send until a 250, retrying on 4xx (as a sending MTA does): the
    codes met before it."""
    codes = []
    deadline = time.monotonic() + limit
    while True:
        code = send(port, rcpt, data)
        if code is None:
            return codes
        codes.append(code)
        assert 400 <= code < 500, f"{code}: a permanent refusal: {codes}"
        assert time.monotonic() < deadline, f"no 250 in {limit}s: {codes}"
        time.sleep(0.2)


def message_ids(m):
    """The Message-IDs of the selected mailbox, read through session m."""
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
    assert typ == "OK", data
    ids = []
    for item in data:
        if isinstance(item, tuple):
            found = re.search(rb"<([^>]+)>", item[1])
            ids.append(found.group(1).decode())
    return ids


def test_restart_keeps_delivering_and_reading(nodes):
    a = nodes.nodes[0]
    add_user(nodes, "rs@localhost")
    sent = []
    for i in range(5):
        assert send(a.port("smtp"), "rs@localhost", msg(f"before-{i}", 800)) is None
        sent.append(f"before-{i}@nodes.test")
    m = imaplib.IMAP4("127.0.0.1", a.port("imap"), timeout=20)
    m.login("rs@localhost", PASSWORD)
    assert m.select("INBOX")[0] == "OK"
    assert sorted(message_ids(m)) == sorted(sent)

    # A restart between two requests: the connections the server closed
    # are opened again by the next request, which does not fail (unless
    # its connection met the restart itself, the queue runner's say, and
    # waits out its back-off of 0.1 s: a 451 and a retry).
    nodes.pg.restart("fast")
    refused = []
    for i in range(5):
        refused += send_retrying(a.port("smtp"), "rs@localhost", msg(f"after-{i}", 800))
        sent.append(f"after-{i}@nodes.test")
    assert len(refused) <= 2, refused
    typ, _ = m.noop()
    assert typ == "OK"
    assert sorted(message_ids(m)) == sorted(sent)

    # The server away: temporary failures only, and no session is closed.
    p = poplib.POP3("127.0.0.1", a.port("pop3"), timeout=20)
    nodes.pg.stop_server()
    try:
        code = send(a.port("smtp"), "rs@localhost", msg("during-0", 800))
        assert code is not None and 400 <= code < 500, code
        typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "NO" and data[0].startswith(b"[UNAVAILABLE]"), (typ, data)
        typ, data = m.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
        assert typ == "NO" and data[0].startswith(b"[UNAVAILABLE]"), (typ, data)
        # A FETCH that sets \Seen and the mailbox commands: the same.
        typ, data = m.uid("FETCH", "1", "(BODY[HEADER.FIELDS (MESSAGE-ID)])")
        assert typ == "NO" and data[0].startswith(b"[UNAVAILABLE]"), (typ, data)
        typ, data = m.create("Outage/Sub")
        assert typ == "NO" and data[0].startswith(b"[UNAVAILABLE]"), (typ, data)
        p.user("rs@localhost")
        with pytest.raises(poplib.error_proto) as e:
            p.pass_(PASSWORD)
        assert b"[SYS/TEMP]" in e.value.args[0], e.value
    finally:
        p.close()
        nodes.pg.start_server()
    assert "lost the PostgreSQL connection" in a.log()
    send_retrying(a.port("smtp"), "rs@localhost", msg("during-0", 800))
    sent.append("during-0@nodes.test")
    for i in range(3):
        send_retrying(a.port("smtp"), "rs@localhost", msg(f"later-{i}", 800))
        sent.append(f"later-{i}@nodes.test")

    # Every message that got a 250 is there once, read through the IMAP
    # session of before the restart and through node B.
    deadline = time.monotonic() + 15
    while True:
        typ, data = m.noop()
        if typ == "OK":
            break
        assert time.monotonic() < deadline, data
        time.sleep(0.2)
    assert sorted(message_ids(m)) == sorted(sent)
    typ, data = m.uid("STORE", "1", "+FLAGS", "(\\Flagged)")
    assert typ == "OK", data
    m.logout()
    b = imaplib.IMAP4("127.0.0.1", nodes.nodes[1].port("imap"), timeout=20)
    b.login("rs@localhost", PASSWORD)
    assert b.select("INBOX", readonly=True)[0] == "OK"
    assert sorted(message_ids(b)) == sorted(sent)
    b.logout()
    p = poplib.POP3("127.0.0.1", a.port("pop3"), timeout=20)
    p.user("rs@localhost")
    p.pass_(PASSWORD)
    assert p.stat()[0] == len(sent)
    p.quit()
    # one line for the outage, not one per failed request
    assert a.log().count("lost the PostgreSQL connection") <= 2, a.log()[-3000:]


def test_idle_hears_what_came_while_its_listener_was_away(nodes):
    a, b = nodes.nodes
    add_user(nodes, "gap@localhost")
    assert send(a.port("smtp"), "gap@localhost", msg("gap-0", 300, "gap@localhost")) is None
    listeners = ("SELECT count(pid) FROM pg_stat_activity WHERE query LIKE"
                 f" 'LISTEN %' AND datname = '{nodes.dbname}'")
    deadline = time.monotonic() + 15    # back from the test before
    while not re.search(r"^\s*2\s*$", nodes.psql(listeners), re.M):
        assert time.monotonic() < deadline, nodes.psql(listeners)
        time.sleep(0.2)
    r = RawImap(b.port("imap"), "gap@localhost")
    try:
        r.cmd("SELECT INBOX")
        r.n += 1
        r.sock.sendall(f"t{r.n} IDLE\r\n".encode())
        assert r.line().startswith(b"+")
        # B's listener (and A's) cut off, and kept from coming back until
        # A's delivery is committed: its notification goes to nobody.
        nodes.psql(f"ALTER DATABASE {nodes.dbname} ALLOW_CONNECTIONS false")
        try:
            out = nodes.psql("SELECT count(pg_terminate_backend(pid)) FROM"
                             " pg_stat_activity WHERE query LIKE 'LISTEN %'"
                             f" AND datname = '{nodes.dbname}'")
            assert re.search(r"^\s*2\s*$", out, re.M), out
            assert send(a.port("smtp"), "gap@localhost",
                        msg("gap-1", 300, "gap@localhost")) is None
            time.sleep(1.5)
        finally:
            nodes.psql(f"ALTER DATABASE {nodes.dbname} ALLOW_CONNECTIONS true")
        # B's listener back: the IDLE session is told within a few
        # seconds (the listener tries again each second).
        line, deadline = None, time.monotonic() + 8
        while time.monotonic() < deadline:
            line = r.line(timeout=deadline - time.monotonic())
            if line is not None and line.endswith(b" EXISTS"):
                break
        assert line == b"* 2 EXISTS", (line, b.log()[-2000:])
        r.sock.sendall(b"DONE\r\n")
        while not (line := r.line()).startswith(f"t{r.n} ".encode()):
            pass
        assert b" OK" in line
    finally:
        r.close()
