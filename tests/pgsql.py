"""A throwaway PostgreSQL cluster for the tests: Debian's postgresql-15,
initdb into a temporary directory and pg_ctl on a unix socket there, as
an unprivileged user (PostgreSQL refuses to run as root: a test run as
root hands the cluster to nobody), trust authentication on the socket
only, no TCP. conninfo() is the libpq string of a database of its own."""
import glob
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

    def _run(self, *args, check=True):
        cmd = [os.path.join(self.bin, args[0])] + list(args[1:])
        if self.user is not None:
            cmd = ["setpriv", f"--reuid={self.user.pw_uid}",
                   f"--regid={self.user.pw_gid}", "--clear-groups"] + cmd
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, LC_ALL="C.UTF-8"))
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
