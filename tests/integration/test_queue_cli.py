"""`posthorn queue list|show|flush|retry|delete|hold|release` against a
running posthornd --dev whose outbound queue holds real entries, put there by
SMTP submission to remote addresses. The daemon's resolver is pointed at a
loopback port that never answers, so the entries stay in the queue (pending
or deferred) while the commands run."""
import re
import smtplib
import socket
import time

import pytest

from conftest import Posthornd

MESSAGE = (b"From: Demo <demo@localhost>\r\n"
           b"To: Bob <bob@remote.test>\r\n"
           b"Subject: queued for the CLI test\r\n"
           b"Message-ID: <queue-cli-1@localhost>\r\n"
           b"\r\n"
           b"This body is not shown by queue show.\r\n")


@pytest.fixture
def queue_daemon(tmp_path):
    """A dev daemon whose DNS upstream is a silent UDP socket."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    port = silent.getsockname()[1]
    d = Posthornd(tmp_path / "data").start()
    assert d.stop() == 0
    with open(d.config_path) as fh:
        conf = fh.read()
    if re.search(r"^\[dns\]", conf, re.M):
        conf = re.sub(r"^upstream\s*=.*\n", "", conf, flags=re.M)
        conf = re.sub(r"^\[dns\]\n", f"[dns]\nupstream = 127.0.0.1@{port}\n", conf,
                      flags=re.M)
    else:
        conf += f"\n[dns]\nupstream = 127.0.0.1@{port}\n"
    with open(d.config_path, "w") as fh:
        fh.write(conf)
    d.start()
    yield d
    status = d.stop()
    silent.close()
    d.assert_clean()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"


def submit(daemon, rcpts, message=MESSAGE):
    with smtplib.SMTP("127.0.0.1", daemon.port("submission"), timeout=30) as s:
        s.login("demo@localhost", "demo")
        s.sendmail("demo@localhost", rcpts, message)


def queue_rows(daemon):
    return daemon.sql("SELECT id, held, next_try, blob_id FROM queue ORDER BY id")


def listed(daemon):
    """{id: first line} of `queue list`."""
    r = daemon.cli("queue", "list", check=True)
    return {int(m.group(1)): m.group(0)
            for m in re.finditer(r"^(\d+) \S+ attempts=.*$", r.stdout, re.M)}


def test_list_and_show(queue_daemon):
    d = queue_daemon
    submit(d, ["bob@remote.test"])
    submit(d, ["carol@remote.test", "dan@other.test"])
    rows = queue_rows(d)
    assert len(rows) == 2
    first, second = rows[0][0], rows[1][0]

    r = d.cli("queue", "list", check=True)
    assert "2 messages in the queue" in r.stdout
    entries = listed(d)
    assert set(entries) == {first, second}
    assert "from=<demo@localhost>" in entries[first]
    assert re.search(r"attempts=\d+ next=\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ",
                     entries[first])
    assert "to=<bob@remote.test>" in r.stdout
    assert "to=<carol@remote.test>" in r.stdout
    assert "to=<dan@other.test>" in r.stdout

    r = d.cli("queue", "show", str(first), check=True)
    assert r.stdout.startswith(f"{first} ")
    assert "to=<bob@remote.test>" in r.stdout
    assert "arrived: " in r.stdout
    assert "Subject: queued for the CLI test" in r.stdout
    assert "Message-ID: <queue-cli-1@localhost>" in r.stdout
    assert "Return-Path: <demo@localhost>" in r.stdout
    assert "not shown by queue show" not in r.stdout


def test_hold_release_retry_flush(queue_daemon):
    d = queue_daemon
    submit(d, ["bob@remote.test"])
    submit(d, ["carol@remote.test"])
    (a, _, _, _), (b, _, _, _) = queue_rows(d)

    r = d.cli("queue", "hold", str(a))
    assert r.returncode == 0, r.stderr
    assert f"queue entry {a} held" in r.stdout
    assert re.match(rf"{a} held ", listed(d)[a])
    assert not listed(d)[b].startswith(f"{b} held")
    assert dict((row[0], row[1]) for row in queue_rows(d)) == {a: 1, b: 0}

    r = d.cli("queue", "release", str(a))
    assert r.returncode == 0, r.stderr
    assert not listed(d)[a].startswith(f"{a} held")
    assert all(row[1] == 0 for row in queue_rows(d))

    # retry makes an entry due now; flush does it for every entry.
    r = d.cli("queue", "retry", str(b))
    assert r.returncode == 0, r.stderr
    assert f"queue entry {b} due now" in r.stdout
    next_try = {row[0]: row[2] for row in queue_rows(d)}
    assert next_try[b] <= int(time.time())
    r = d.cli("queue", "flush")
    assert r.returncode == 0, r.stderr
    assert re.search(r"^\d+ messages? due now$", r.stdout, re.M)
    assert all(row[2] <= int(time.time()) for row in queue_rows(d))

    # A held entry is not flushed, and stays held.
    d.cli("queue", "hold", str(a), check=True)
    d.cli("queue", "flush", check=True)
    assert dict((row[0], row[1]) for row in queue_rows(d))[a] == 1


def test_delete(queue_daemon):
    d = queue_daemon
    submit(d, ["bob@remote.test"])
    submit(d, ["carol@remote.test"])
    (a, _, _, blob_a), (b, _, _, _) = queue_rows(d)

    r = d.cli("queue", "delete", str(a))
    assert r.returncode == 0, r.stderr
    assert f"queue entry {a} deleted" in r.stdout
    assert [row[0] for row in queue_rows(d)] == [b]
    assert set(listed(d)) == {b}
    # The message bytes went with the entry (no local copy held them).
    assert d.sql("SELECT count(*) FROM blobs WHERE id = ?", (blob_a,)) == [(0,)]
    r = d.cli("queue", "show", str(a))
    assert r.returncode == 1
    assert f"no queue entry {a}" in r.stderr
    r = d.cli("queue", "delete", str(a))
    assert r.returncode == 1


def test_errors(daemon, tmp_path):
    for args in (["queue", "show", "12345"], ["queue", "hold", "12345"],
                 ["queue", "release", "12345"], ["queue", "retry", "12345"],
                 ["queue", "delete", "12345"]):
        r = daemon.cli(*args)
        assert r.returncode == 1, (args, r.stderr)
        assert "no queue entry 12345" in r.stderr
    for args in (["queue", "show", "abc"], ["queue", "hold", "0"],
                 ["queue", "bogus"], ["queue", "list", "extra"], ["queue"]):
        r = daemon.cli(*args)
        assert r.returncode == 2, (args, r.stderr)
    r = daemon.cli("queue", "list", check=True)
    assert "0 messages in the queue" in r.stdout
    from conftest import run_cli
    r = run_cli(["-c", str(tmp_path / "missing.conf"), "queue", "list"])
    assert r.returncode == 3
