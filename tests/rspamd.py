"""A real rspamd for the milter tests: Debian's rspamd 3.4 started as the
test's own process with a temporary config in a temp dir: a rspamd_proxy
worker in milter mode (self_scan) and a normal worker on free loopback
ports, no controller, no redis, no network rules (DNS points at a dead
loopback port, the stock rules are loaded but score 0), GTUBE and its
add-header variant recognised, a test rule that scores a header, and
milter_headers adding X-Spamd-Result, X-Spam-Status, X-Rspamd-Action and
friends. Starts in a second or two: hyperscan is off and the URL suffix
list is a six-line file instead of the Public Suffix List (compiling that
alone takes over ten seconds)."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

RSPAMD = shutil.which("rspamd") or "/usr/bin/rspamd"
RULES = "/usr/share/rspamd/rules/rspamd.lua"
PLUGINS = "/usr/share/rspamd/plugins"

# The GTUBE strings rspamd knows (enable_test_patterns): reject, and
# add header (a spam score without a reject).
GTUBE = "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"
GTUBE_ADD_HEADER = ("YJS*C4JDBQADN1.NSBN3*2IDNEN*"
                    "GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")
# A header our test rule scores 8 (add_header is 6, reject 15).
SPAM_HEADER = "X-Posthorn-Test-Spam"


def available():
    """None when rspamd can run here, else why not (for pytest.skip)."""
    if not os.path.exists(RSPAMD):
        return "rspamd is not installed: run scripts/install-deps"
    if not os.path.exists(RULES):
        return f"rspamd's rules are missing ({RULES})"
    return None


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CONFIG = """\
options {{
  pidfile = "{dir}/rspamd.pid";
  filters = "";
  # no network: lookups go to a loopback port nobody answers on
  dns {{ nameserver = ["127.0.0.1:9"]; timeout = 0.2s; retransmits = 0; }}
  disable_hyperscan = true;
  enable_test_patterns = true;
  task_timeout = 8s;
  tempdir = "{dir}";
  hs_cache_dir = "{dir}";
  cache_file = "{dir}/symbols.cache";
  url_tld = "{dir}/tld.dat";
  local_addrs = [];
}}
logging {{ type = "file"; filename = "{dir}/rspamd.log"; level = "info"; }}
actions {{ reject = 15; add_header = 6; greylist = 4; }}
lua = "{rules}";
lua = "{dir}/posthorn_test.lua";
# lua plugins run only when configured: here milter_headers alone
modules {{ path = "{plugins}"; }}
milter_headers {{
  use = ["x-spamd-result", "x-rspamd-queue-id", "x-spam-level",
         "x-spam-status", "x-rspamd-action", "x-rspamd-server"];
  extended_spam_headers = true;
  # our loopback test clients are "local": add the headers anyway
  skip_local = false;
  skip_authenticated = false;
}}
worker "normal" {{
  bind_socket = "127.0.0.1:{normal_port}";
  count = 1;
}}
worker "rspamd_proxy" {{
  bind_socket = "127.0.0.1:{milter_port}";
  milter = yes;
  timeout = 120s;
  count = 1;
  reject_message = "Spam message rejected";
  upstream "local" {{ default = yes; self_scan = yes; }}
}}
"""

TEST_LUA = """\
rspamd_config.POSTHORN_TEST_SPAM = {{
  callback = function(task)
    return task:get_header('{header}') ~= nil
  end,
  score = 8.0,
  description = 'posthorn tests: a header that makes a message spam',
}}
"""


class Rspamd:
    """rspamd on loopback: milter_port (the proxy in milter mode) and
    normal_port (the scanner, for rspamc)."""

    def __init__(self):
        why = available()
        if why is not None:
            raise RuntimeError(why)
        self.dir = tempfile.mkdtemp(prefix="posthorn-rspamd-")
        self.milter_port = free_port()
        self.normal_port = free_port()
        self.log_path = os.path.join(self.dir, "rspamd.log")
        self.proc = None

    @property
    def milter(self):
        """The [milter] socket for posthorn."""
        return f"inet:127.0.0.1:{self.milter_port}"

    def start(self, timeout=30):
        with open(os.path.join(self.dir, "tld.dat"), "w") as f:
            f.write("com\nnet\norg\nexample\nlocalhost\ntest\n")
        with open(os.path.join(self.dir, "posthorn_test.lua"), "w") as f:
            f.write(TEST_LUA.format(header=SPAM_HEADER))
        conf = os.path.join(self.dir, "rspamd.conf")
        with open(conf, "w") as f:
            f.write(CONFIG.format(dir=self.dir, rules=RULES, plugins=PLUGINS,
                                  normal_port=self.normal_port,
                                  milter_port=self.milter_port))
        args = [RSPAMD, "-f", "-c", conf]
        if os.geteuid() == 0:
            # as root rspamd wants to drop to a user; -i lets it stay
            # (the tests' own user), nothing here needs privileges
            args.append("-i")
        self.proc = subprocess.Popen(
            args, stdin=subprocess.DEVNULL,
            stdout=open(os.path.join(self.dir, "stdout.log"), "w"),
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"rspamd exited: {self.tail()}")
            if self._workers_ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"rspamd did not start: {self.tail()}")

    def _workers_ready(self):
        try:
            with open(self.log_path) as f:
                log = f.read()
        except OSError:
            return False
        if "starting rspamd_proxy process" not in log or \
                "starting normal process" not in log:
            return False
        try:
            socket.create_connection(("127.0.0.1", self.milter_port),
                                     timeout=1).close()
        except OSError:
            return False
        return True

    def tail(self, n=30):
        try:
            with open(self.log_path) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no log)"

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            # the main process stops its workers on SIGTERM
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def rspamd_server():
    """A running Rspamd for the tests of a module (skipped cleanly when
    rspamd is not installed); import it into the test module."""
    why = available()
    if why is not None:
        pytest.skip(why)
    r = Rspamd().start()
    yield r
    r.stop()
