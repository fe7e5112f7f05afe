"""A throwaway PostgreSQL cluster for the tests: Debian's postgresql-15,
initdb into a temporary directory and pg_ctl on a unix socket there, as
an unprivileged user (PostgreSQL refuses to run as root: a test run as
root hands the cluster to nobody), trust authentication on the socket
only, no TCP. conninfo() is the libpq string of a database of its own."""
import glob
import json
import os
import pwd
import shutil
import subprocess
import tempfile

BIN_DIRS = sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)


def bin_dir():
    for d in BIN_DIRS:
        if os.path.exists(os.path.join(d, "initdb")):
            return d
    return None


# the line between the column description and the rows of query()
_ROWS = "--posthorn-rows--"


def _value(v, pg_type):
    """A JSON value of a column as sqlite3 would give it."""
    if v is None:
        return None
    if pg_type == "bytea":
        assert v.startswith("\\x"), v
        return bytes.fromhex(v[2:])
    if pg_type == "boolean":
        return int(v)
    return v


def literal(v):
    """A Python value as a PostgreSQL literal, for the tests' own
    parameters (psql has no binding from the command line)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return "'\\x" + bytes(v).hex() + "'::bytea"
    assert isinstance(v, str), type(v)
    assert "\0" not in v
    return "'" + v.replace("'", "''") + "'"


class PgCluster:
    def __init__(self):
        self.bin = bin_dir()
        if self.bin is None:
            raise RuntimeError("PostgreSQL is not installed: run scripts/install-deps")
        self.dir = tempfile.mkdtemp(prefix="posthorn-pg-")
        self.data = os.path.join(self.dir, "data")
        self.sock = self.dir
        self.port = 5432
        self.user = None
        self.n_dbs = 0
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("nobody")
            os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
            os.chmod(self.dir, 0o755)

    def _run(self, *args, check=True, input=None):
        cmd = [os.path.join(self.bin, args[0])] + list(args[1:])
        if self.user is not None:
            cmd = ["setpriv", f"--reuid={self.user.pw_uid}",
                   f"--regid={self.user.pw_gid}", "--clear-groups"] + cmd
        r = subprocess.run(cmd, capture_output=True, encoding="utf-8",
                           timeout=120, input=input, env=dict(os.environ, LC_ALL="C.UTF-8"))
        if check and r.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {r.stdout}{r.stderr}")
        return r

    def start(self, settings=None):
        """initdb and start; settings: more server settings
        ({name: value}, e.g. a benchmark's shared_buffers)."""
        self._run("initdb", "-D", self.data, "-U", "posthorn",
                  "--auth=trust", "-E", "UTF8", "--no-sync")
        conf = {"shared_buffers": "32MB", **(settings or {})}
        self.opts = (f"-c listen_addresses='' -c unix_socket_directories='{self.sock}' "
                     f"-c port={self.port} -c fsync=on -c max_connections=200 " +
                     " ".join(f"-c {k}={v}" for k, v in conf.items()))
        self.start_server()
        return self

    def start_server(self):
        """Start the server of the cluster (again, after stop_server)."""
        self._run("pg_ctl", "-D", self.data, "-o", self.opts, "-w", "-t", "60",
                  "-l", os.path.join(self.dir, "postgres.log"), "start")

    def stop_server(self, mode="fast"):
        """Stop the server and keep the cluster: every connection ends
        (fast: each backend is told to terminate, as a restart does)."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode="fast"):
        """pg_ctl restart: what an admin's restart or a failover does to
        the clients' connections."""
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60",
                  "-l", os.path.join(self.dir, "postgres.log"), "restart")

    def psql(self, sql, db="postgres"):
        return self._run("psql", "-h", self.sock, "-p", str(self.port),
                         "-U", "posthorn", "-d", db, "-v", "ON_ERROR_STOP=1",
                         "-c", sql)

    def rows(self, sql, db):
        """The rows of a query as lists of strings (columns split at
        '|': keep it out of the values)."""
        r = self._run("psql", "-h", self.sock, "-p", str(self.port),
                      "-U", "posthorn", "-d", db, "-v", "ON_ERROR_STOP=1",
                      "-A", "-t", "-F", "|", "-c", sql)
        return [line.split("|") for line in r.stdout.splitlines()]

    def query(self, sql, db):
        """The rows of a query as tuples of Python values, as sqlite3
        gives them: numbers as int (or float), text as str, BYTEA as bytes,
        NULL as None. psql describes the result's columns (\\gdesc) and
        then prints each row as one line of JSON, which keeps the values'
        types and their order (duplicate column names too)."""
        sql = sql.strip().rstrip(";")
        script = (f"{sql} \\gdesc\n\\echo {_ROWS}\n"
                  f"SELECT row_to_json(r) FROM ({sql}) r;\n")
        out = self._run("psql", "-h", self.sock, "-p", str(self.port),
                        "-U", "posthorn", "-d", db, "-v", "ON_ERROR_STOP=1",
                        "-X", "-q", "-A", "-t", "-F", "|", "-f", "-",
                        input=script).stdout
        desc, rows = out.split(_ROWS + "\n", 1)
        types = [line.rsplit("|", 1)[1] for line in desc.splitlines()]
        result = []
        for line in rows.splitlines():
            values = json.loads(line, object_pairs_hook=lambda pairs: [v for _, v in pairs])
            result.append(tuple(_value(v, t) for v, t in zip(values, types)))
        return result

    def new_database(self):
        """A fresh database; returns its libpq connection string."""
        self.n_dbs += 1
        name = f"t{self.n_dbs}"
        self.psql(f"CREATE DATABASE {name}")
        return self.conninfo(name)

    def conninfo(self, db="postgres"):
        return f"host={self.sock} port={self.port} user=posthorn dbname={db}"

    def stop(self):
        if os.path.exists(os.path.join(self.data, "postmaster.pid")):
            self._run("pg_ctl", "-D", self.data, "-m", "immediate", "-w",
                      "stop", check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
