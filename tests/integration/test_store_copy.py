"""`posthorn store copy --to CONNINFO` (src/cli/cmd_store.c): a daemon on
SQLite gets mail over SMTP (local and queued for remote recipients), IMAP
flags, keywords, a folder, an APPEND with its zone, an expunge and a copy;
stopped, its store is copied into a database of a throwaway PostgreSQL
cluster (tests/pgsql.py), and every table reads the same through both
databases (sqlite3 and psql), the PostgreSQL sequences past the copied ids
and every message queued for the search index."""
import imaplib
import re
import smtplib
import socket
import sqlite3
import os

import pytest

from conftest import Posthornd, pg_cluster

# What each table holds, by column: i an integer, t text, b bytes; the
# primary key columns first (the rows are compared in their order).
TABLES = {
    "store_meta": ("key t", "value i"),
    "domains": ("id i", "name t"),
    "users": ("id i", "address t", "domain_id i", "password_hash t",
              "scram_sha256 t", "apop_secret t", "quota i", "disabled i"),
    "aliases": ("address t", "target t"),
    "mailboxes": ("id i", "user_id i", "name t", "uidvalidity i", "uidnext i",
                  "highestmodseq i", "special_use t", "subscribed i",
                  "messages i", "unseen i", "recent_uid i"),
    "subscriptions": ("user_id i", "name t"),
    "blobs": ("id i", "refcount i", "size i", "envelope b", "bodystructure b",
              "body b", "parts b"),
    "blob_data": ("id i", "data b"),
    "messages": ("mailbox_id i", "uid i", "blob_id i", "flags i", "keywords t",
                 "internal_date i", "size i", "modseq i", "internal_zone i"),
    "expunged": ("mailbox_id i", "uid i", "modseq i"),
    "queue": ("id i", "blob_id i", "sender t", "envid t", "ret t", "state t",
              "attempts i", "next_try i", "last_error t", "created i",
              "delay_notified i", "held i", "requiretls i", "tls_optional i",
              "retry_now i"),
    "queue_rcpts": ("queue_id i", "idx i", "address t", "orcpt t", "notify t",
                    "state t", "status t", "diagnostic t", "remote_mta t"),
}


def sqlite_rows(path, table):
    cols = [c.split() for c in TABLES[table]]
    # every value as text: integers in decimal, text and bytes as the hex
    # of their bytes (so a text column stored as bytes still compares)
    exprs = [f"CAST({n} AS TEXT)" if k == "i" else f"hex(CAST({n} AS BLOB))"
             for n, k in cols]
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        rows = con.execute(f"SELECT {', '.join(exprs)} FROM {table}").fetchall()
    return sorted([list(r) for r in rows], key=sort_key(table))


def pg_rows(pg, db, table):
    cols = [c.split() for c in TABLES[table]]
    exprs = [f"{n}::text" if k == "i" else
             f"upper(encode(convert_to({n}::text, 'UTF8'), 'hex'))" if k == "t"
             else f"upper(encode({n}, 'hex'))" for n, k in cols]
    rows = pg.rows(f"SELECT {', '.join(exprs)} FROM {table}", db)
    return sorted(rows, key=sort_key(table))


def sort_key(table):
    kinds = [c.split()[1] for c in TABLES[table]]
    return lambda row: [(int(v), "") if k == "i" else (0, v)
                        for v, k in zip(row, kinds)]


def message(subject, body=b"hello\r\n", to=b"<demo@localhost>", extra=b""):
    return (b"From: Ann <ann@example.org>\r\nTo: " + to + b"\r\n"
            b"Subject: " + subject + b"\r\n" + extra + b"\r\n" + body)


@pytest.fixture
def daemon_with_mail(tmp_path):
    """A SQLite daemon whose DNS upstream never answers (remote mail stays
    queued), with mail, folders, flags and queue entries in its store."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    d = Posthornd(tmp_path / "data", store="sqlite").start()
    assert d.stop() == 0
    with open(d.config_path, "a") as fh:
        fh.write(f"\n[dns]\nupstream = 127.0.0.1@{silent.getsockname()[1]}\n")
    d.start()
    d.cli("domain", "add", "example.net", check=True)
    d.cli("user", "add", "bob@example.net", "--password-stdin", input="pw-bob\n",
          check=True)
    d.cli("alias", "add", "team@example.net", "bob@example.net",
          "demo@localhost", check=True)
    with smtplib.SMTP("127.0.0.1", d.port("smtp"), timeout=30) as s:
        s.sendmail("ann@example.org", ["demo@localhost"], message(b"one"))
        # raw 8-bit header bytes that are not UTF-8 (latin-1): the
        # envelope keeps them as they came
        s.sendmail("ann@example.org", ["demo@localhost"],
                   message(b"caf\xe9 cr\xe8me", extra=b"X-Note: \xff\r\n"))
        s.sendmail("ann@example.org", ["team@example.net"],
                   message(b"to the team", body=(b"y" * 998 + b"\r\n") * 300,
                           to=b"<team@example.net>"))
    with smtplib.SMTP("127.0.0.1", d.port("submission"), timeout=30) as s:
        s.login("demo@localhost", "demo")
        s.sendmail("demo@localhost", ["bob@remote.test", "demo@localhost"],
                   message(b"queued and kept"))
        s.sendmail("demo@localhost", ["carol@remote.test"],
                   message(b"queued then deleted"))
        s.sendmail("demo@localhost", ["dan@remote.test"], message(b"queued"))
    listed = d.cli("queue", "list", check=True).stdout
    ids = sorted(int(m) for m in re.findall(r"^(\d+) queued", listed, re.M))
    assert len(ids) == 3, listed
    # the highest id goes: PostgreSQL must not hand it out again either
    d.cli("queue", "delete", str(ids[-1]), check=True)
    imap = imaplib.IMAP4("127.0.0.1", d.port("imap"))
    imap.login("demo@localhost", "demo")
    imap.create("Archive")
    imap.subscribe("Archive")
    imap.append("Archive", r"(\Seen $Label1)", '"01-Feb-2024 10:00:00 +0200"',
                message(b"appended"))
    imap.select("INBOX")
    imap.store("1", "+FLAGS", r"(\Flagged $Work)")
    imap.store("2", "+FLAGS", r"(\Deleted)")
    imap.expunge()
    imap.copy("1", "Archive")
    imap.logout()
    yield d
    d.stop()
    silent.close()
    d.assert_clean()


def test_store_copy_to_postgresql(daemon_with_mail):
    d = daemon_with_mail
    pg = pg_cluster()
    conninfo = pg.new_database()
    db = conninfo.rsplit("dbname=", 1)[1]
    r = d.cli("store", "copy", "--to", conninfo)
    assert r.returncode == 1 and "stop it first" in r.stderr, r.stderr
    assert d.stop() == 0

    r = d.cli("store", "copy", "--to", conninfo)
    assert r.returncode == 0, r.stderr + r.stdout
    assert "messages" in r.stdout and "Now set [store] driver = pgsql" in r.stdout

    path = os.path.join(d.data_dir, "posthorn.db")
    for table in TABLES:
        lite = sqlite_rows(path, table)
        assert lite or table in ("expunged", "store_meta"), table
        assert pg_rows(pg, db, table) == lite, table
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as con:
        uidvalidity = con.execute("SELECT uidvalidity FROM mailboxes WHERE"
                                  " name = 'INBOX'").fetchone()[0]
        expunged = con.execute("SELECT count(*) FROM expunged").fetchone()[0]
        zones = {z for (z,) in con.execute("SELECT internal_zone FROM messages")}
        next_queue = con.execute("SELECT seq FROM sqlite_sequence"
                                 " WHERE name = 'queue'").fetchone()[0] + 1
        ids = {t: con.execute(f"SELECT max(id) FROM {t}").fetchone()[0]
               for t in ("domains", "users", "mailboxes", "blobs")}
        msg_blobs = sorted(str(b) for (b,) in con.execute(
            "SELECT DISTINCT blob_id FROM messages"))
    assert uidvalidity > 0 and expunged == 1 and 120 in zones
    # the next ids PostgreSQL hands out come after the copied ones (the
    # deleted queue entry's id too)
    assert pg.rows("SELECT nextval('queue_id_seq')", db) == [[str(next_queue)]]
    for table, top in ids.items():
        assert pg.rows(f"SELECT nextval('{table}_id_seq')", db) == [[str(top + 1)]]
    # the search index is rebuilt from every stored message
    pending = sorted(r[0] for r in pg.rows("SELECT blob_id FROM search_pending", db))
    assert pending == msg_blobs
    # NOCASE stays: the address finds its user in any case
    assert pg.rows("SELECT id FROM users WHERE address = 'BOB@Example.NET'", db)

    # a second copy into a store that has users is refused, nothing written
    r = d.cli("store", "copy", "--to", conninfo)
    assert r.returncode == 1 and "not empty" in r.stderr, r.stderr
    assert pg_rows(pg, db, "users") == sqlite_rows(path, "users")


def test_store_copy_refusals(tmp_path):
    d = Posthornd(tmp_path / "data", store="sqlite").start()
    assert d.stop() == 0
    assert d.cli("store", "copy").returncode == 2
    r = d.cli("store", "copy", "--to", "host=/nonexistent dbname=x")
    assert r.returncode == 4 and "connect to PostgreSQL" in r.stderr, r.stderr
    d.assert_clean()
