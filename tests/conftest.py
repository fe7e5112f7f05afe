"""Harness of tests/integration and tests/hostile: start a real posthornd
with its own data dir on free loopback ports, talk to it with real clients,
stop it, and fail the test when the daemon logged a sanitizer report or
exited badly. POSTHORN_TEST_STORE=pgsql runs every daemon on a PostgreSQL
database of its own, in one throwaway cluster for the session
(tests/pgsql.py); the default is sqlite."""
import atexit
import glob
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

TESTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(TESTS)
# The hostile/ group reuses the client helpers of integration/ (test_imap's
# append, test_outbound's Sink...).
sys.path.insert(0, os.path.join(TESTS, "integration"))
BUILD = os.environ.get("POSTHORN_BUILD_DIR", os.path.join(ROOT, "build"))
POSTHORND = os.path.join(BUILD, "src", "daemon", "posthornd")
POSTHORN = os.path.join(BUILD, "src", "cli", "posthorn")

# The ports of `posthornd --dev`, before --port-offset.
DEV_PORTS = {
    "smtp": 2525, "submission": 2587, "submissions": 2465, "lmtp": 2424,
    "imap": 2143, "imaps": 2993, "pop3": 2110, "pop3s": 2995, "http": 2080,
}

# The store driver every Posthornd gets: "sqlite" (DATA_DIR/posthorn.db) or
# "pgsql" (a fresh database in the session's cluster).
STORE = os.environ.get("POSTHORN_TEST_STORE", "sqlite")
if STORE not in ("sqlite", "pgsql"):
    raise RuntimeError(f"POSTHORN_TEST_STORE={STORE}: sqlite or pgsql")

_pg = None
# The daemons of the running test whose databases are dropped after it.
_pg_daemons = []


def pg_cluster():
    """The session's PostgreSQL cluster, started at first use and removed
    when the test process exits."""
    global _pg
    if _pg is None:
        from pgsql import PgCluster
        _pg = PgCluster().start()
        atexit.register(_pg.stop)
    return _pg


def require_sqlite(reason="reads the SQLite database file directly"):
    """Skip the calling test unless the daemons run on SQLite."""
    if STORE != "sqlite":
        pytest.skip(f"SQLite only: {reason}")


@pytest.fixture(autouse=True)
def _pg_drop_databases():
    """After each test, drop the databases of its daemons that have
    stopped (thousands of tests would fill the disk otherwise); a daemon
    still running (one a session fixture shares) keeps its own until the
    cluster goes."""
    yield
    while _pg_daemons:
        d = _pg_daemons.pop()
        if d.proc is not None and d.proc.poll() is None:
            continue
        try:
            _pg.psql(f"DROP DATABASE IF EXISTS {d.pg_database} WITH (FORCE)")
        except RuntimeError:
            pass


SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer",
                     "runtime error:", "SUMMARY: UndefinedBehaviorSanitizer")


def _pg_bind(query, params):
    """The query with each '?' outside a quoted string replaced by its
    parameter as a PostgreSQL literal."""
    from pgsql import literal
    params = list(params)
    out = []
    quote = None
    for ch in query:
        if quote is not None:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            assert params, f"too few parameters for {query!r}"
            out.append(literal(params.pop(0)))
            continue
        out.append(ch)
    assert not params, f"too many parameters for {query!r}"
    return "".join(out)


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port_offset():
    """An offset that puts every dev port on a free loopback port."""
    for _ in range(200):
        offset = random.randrange(10000, 60000 - max(DEV_PORTS.values()), 10)
        if all(port_free(p + offset) for p in DEV_PORTS.values()):
            return offset
    raise RuntimeError("no free port range on 127.0.0.1")


def sanitizer_env(log_dir, asan_options=""):
    env = dict(os.environ)
    prefix = os.path.join(log_dir, "sanitizer")
    env["ASAN_OPTIONS"] = f"log_path={prefix}:detect_leaks=1:abort_on_error=0{asan_options}"
    env["UBSAN_OPTIONS"] = f"log_path={prefix}:print_stacktrace=1:halt_on_error=1"
    env["LSAN_OPTIONS"] = f"log_path={prefix}"
    return env


def sanitizer_reports(log_dir, extra_texts=()):
    reports = []
    for path in glob.glob(os.path.join(log_dir, "sanitizer*")):
        with open(path, errors="replace") as fh:
            reports.append(f"{path}:\n{fh.read()}")
    for text in extra_texts:
        if any(m in text for m in SANITIZER_MARKERS):
            reports.append(text)
    return reports


class Posthornd:
    """One posthornd process in dev mode with a data dir of its own."""

    def __init__(self, data_dir, args=(), start_timeout=30, asan_options="",
                 store=None):
        self.data_dir = str(data_dir)
        self.log_dir = os.path.join(self.data_dir, "logs")
        os.makedirs(self.log_dir, exist_ok=True)
        self.offset = free_port_offset()
        self.log_path = os.path.join(self.log_dir, "posthornd.log")
        self.args = list(args)
        self.start_timeout = start_timeout
        self.asan_options = asan_options    # ":name=value..." added under ASan
        self.proc = None
        self.started_once = False
        self.store = store or STORE     # a test may ask for one
        self.conninfo = None    # pgsql: the libpq string of its database
        if self.store == "pgsql":
            self.conninfo = pg_cluster().new_database()
            self.pg_database = self.conninfo.rsplit("dbname=", 1)[1]
            _pg_daemons.append(self)

    @property
    def config_path(self):
        return os.path.join(self.data_dir, "posthorn.conf")

    def port(self, service):
        return DEV_PORTS[service] + self.offset

    def start(self):
        """Start the daemon and wait for it to be ready. Free ports are
        picked before the start, so another program may take one in
        between: a first start that finds a port in use picks a new
        offset and tries again (a restart keeps its ports)."""
        for attempt in range(5):
            try:
                return self._start_once()
            except RuntimeError as e:
                if self.started_once or attempt == 4 or "EADDRINUSE" not in str(e):
                    raise
                self.logfile.close()
                self.offset = free_port_offset()

    def _start_once(self):
        self.logfile = open(self.log_path, "ab")
        # The log may hold an earlier run's lines: wait for a new " ready".
        start_at = os.path.getsize(self.log_path)
        self.proc = subprocess.Popen(
            [POSTHORND, "--dev", "--data-dir", self.data_dir,
             "--port-offset", str(self.offset)] + self.store_args() + self.args,
            stdin=subprocess.DEVNULL, stdout=self.logfile, stderr=self.logfile,
            env=sanitizer_env(self.log_dir, self.asan_options))
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if " ready" in self.log()[start_at:]:
                self.started_once = True
                return self
            if self.proc.poll() is not None:
                raise RuntimeError(f"posthornd exited {self.proc.returncode}:\n"
                                   f"{self.log()[start_at:]}")
            time.sleep(0.05)
        raise RuntimeError(f"posthornd not ready in {self.start_timeout}s:\n{self.log()}")

    def store_args(self):
        """posthornd's options for the store: the dev config it writes on
        first start names the PostgreSQL database."""
        if self.conninfo is None:
            return []
        return ["--store-conninfo", self.conninfo]

    def psql(self, sql):
        """Run SQL in this daemon's PostgreSQL database (pgsql only)."""
        assert self.conninfo is not None, "not a pgsql daemon"
        return _pg.psql(sql, db=self.pg_database)

    def sql(self, query, params=()):
        """Run one SQL statement on this daemon's store, whichever it is,
        as the tests' look at (or change of) the state behind the daemon's
        back; returns the rows as tuples, typed as sqlite3 gives them
        (BLOB/BYTEA as bytes). Parameters are '?'. Keep the SQL to what
        both stores read alike."""
        reading = query.lstrip().upper().startswith(("SELECT", "WITH"))
        if self.store == "pgsql":
            if reading:
                return _pg.query(_pg_bind(query, params), db=self.pg_database)
            _pg.psql(_pg_bind(query, params), db=self.pg_database)
            return []
        path = os.path.join(self.data_dir, "posthorn.db")
        uri = f"file:{path}?mode=ro" if reading else f"file:{path}"
        con = sqlite3.connect(uri, uri=True, timeout=30)
        try:
            with con:
                rows = con.execute(query, params).fetchall()
        finally:
            con.close()
        return [tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                for r in rows]

    def inbox(self, address):
        """(uid, bytes) of the messages in a user's INBOX as the store
        holds them, in UID order."""
        return self.sql(
            "SELECT m.uid, b.data FROM messages m JOIN blob_data b ON b.id = m.blob_id"
            " JOIN mailboxes x ON x.id = m.mailbox_id"
            " JOIN users u ON u.id = x.user_id"
            " WHERE u.address = ? AND upper(x.name) = 'INBOX' ORDER BY m.uid",
            (address,))

    def log(self):
        with open(self.log_path, errors="replace") as fh:
            return fh.read()

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        """Stop the daemon; returns its exit status."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"posthornd did not stop in {timeout}s:\n{self.log()}")
        self.logfile.close()
        return self.proc.returncode

    def cli(self, *args, input=None, check=False):
        """Run the admin command against this daemon's config."""
        return run_cli(["-c", self.config_path] + list(args), input=input,
                       check=check, log_dir=self.log_dir)

    def assert_clean(self):
        reports = sanitizer_reports(self.log_dir, [self.log()])
        assert not reports, "sanitizer report:\n" + "\n".join(reports)


def run_cli(args, input=None, check=False, log_dir=None, env=None):
    environment = sanitizer_env(log_dir) if log_dir else dict(os.environ)
    if env:
        environment.update(env)
    result = subprocess.run([POSTHORN] + list(args), input=input, capture_output=True,
                            text=True, timeout=60, env=environment)
    reports = sanitizer_reports(log_dir or "/nonexistent", [result.stderr])
    assert not reports, "sanitizer report from posthorn:\n" + "\n".join(reports)
    if check:
        assert result.returncode == 0, f"posthorn {args} failed: {result.stderr}"
    return result


@pytest.fixture
def daemon(tmp_path):
    """A running posthornd --dev; stopped after the test, which fails when the
    daemon did not exit 0 or logged a sanitizer report."""
    d = Posthornd(tmp_path / "data").start()
    yield d
    status = d.stop()
    d.assert_clean()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"
