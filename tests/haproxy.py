"""A TCP load balancer for the tests that run several posthornd nodes:
Debian's haproxy in TCP mode, round robin, one frontend per service on a
free loopback port in front of the nodes' ports, its config in a
temporary directory. Health checks drop a killed node within a second;
a connection that cannot reach its node is sent to another one
(redispatch). The stats socket tells how many sessions each node got."""
import os
import shutil
import socket
import subprocess
import tempfile
import time

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Haproxy:
    """haproxy in front of nodes: backends is {service: [port of node 0,
    port of node 1, ...]} (loopback)."""

    def __init__(self, backends):
        if not os.path.exists(HAPROXY):
            raise RuntimeError("haproxy is not installed: run scripts/install-deps")
        self.backends = {k: list(v) for k, v in backends.items()}
        self.ports = {k: free_port() for k in self.backends}
        self.dir = tempfile.mkdtemp(prefix="posthorn-haproxy-")
        self.config_path = os.path.join(self.dir, "haproxy.cfg")
        self.sock = os.path.join(self.dir, "stats.sock")
        self.log_path = os.path.join(self.dir, "haproxy.log")
        self.proc = None

    def config(self):
        lines = [
            "global",
            "    maxconn 4000",
            f"    stats socket {self.sock} mode 600 level admin",
            "defaults",
            "    mode tcp",
            "    timeout connect 2s",
            "    timeout client 120s",
            "    timeout server 120s",
            # a connect that fails goes to another node
            "    retries 3",
            "    option redispatch",
        ]
        for service, ports in self.backends.items():
            lines += [f"frontend f_{service}",
                      f"    bind 127.0.0.1:{self.ports[service]}",
                      f"    default_backend b_{service}",
                      f"backend b_{service}",
                      "    balance roundrobin"]
            for i, port in enumerate(ports):
                lines.append(f"    server node{i} 127.0.0.1:{port} "
                             "check inter 300ms fall 1 rise 2")
        return "\n".join(lines) + "\n"

    def start(self, timeout=10):
        with open(self.config_path, "w") as fh:
            fh.write(self.config())
        check = subprocess.run([HAPROXY, "-c", "-f", self.config_path],
                               capture_output=True, text=True, timeout=30)
        if check.returncode != 0:
            raise RuntimeError(f"haproxy config:\n{check.stdout}{check.stderr}")
        self.log = open(self.log_path, "ab")
        # -db: in the foreground, no daemon
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", self.config_path],
                                     stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"haproxy exited {self.proc.returncode}: "
                                   f"{open(self.log_path).read()}")
            if all(self._listening(p) for p in self.ports.values()):
                return self
            time.sleep(0.05)
        raise RuntimeError("haproxy not listening in time")

    @staticmethod
    def _listening(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return True
        except OSError:
            return False

    def port(self, service):
        return self.ports[service]

    def command(self, line):
        """One command on the admin socket; its answer."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(line.encode() + b"\n")
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        return out.decode()

    def sessions(self, service):
        """{node index: sessions the balancer sent it so far}."""
        out = {}
        lines = self.command("show stat").splitlines()
        head = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("pxname") == f"b_{service}" and row.get("svname", "").startswith("node"):
                out[int(row["svname"][4:])] = int(row["stot"] or 0)
        return out

    def up(self, service):
        """The indexes of the nodes the health checks see up."""
        up = []
        lines = self.command("show stat").splitlines()
        head = lines[0].lstrip("# ").split(",")
        for line in lines[1:]:
            row = dict(zip(head, line.split(",")))
            if row.get("pxname") == f"b_{service}" and row.get("svname", "").startswith("node"):
                if row.get("status", "").startswith("UP"):
                    up.append(int(row["svname"][4:]))
        return up

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc is not None:
            self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
