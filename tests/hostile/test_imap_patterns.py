"""Pathological LIST and LSUB patterns (issue 10): a pattern of thousands
of wildcards is answered at once, and while a LIST walks thousands of
deep mailbox names a second client on the same (only) I/O thread logs
in, selects and fetches. The old backtracking matcher pinned the thread
for minutes on such patterns."""
import re
import socket
import time

import pytest

from conftest import Posthornd
from test_imap import Raw, append, logged_in, message

# Generous: the machine is shared; the old matcher took minutes.
SERVED_WITHIN = 10


@pytest.fixture
def one_thread(tmp_path):
    """A daemon with a single I/O thread: every connection shares it."""
    d = Posthornd(tmp_path / "data").start()
    d.stop()
    with open(d.config_path) as fh:
        conf = fh.read()
    assert "dev = yes\n" in conf
    with open(d.config_path, "w") as fh:
        fh.write(conf.replace("dev = yes\n", "dev = yes\nio_threads = 1\n", 1))
    d.start()
    yield d
    status = d.stop()
    d.assert_clean()
    assert status == 0, f"posthornd exited {status}:\n{d.log()}"


def second_client_served(d):
    """LOGIN, SELECT and FETCH on a new connection; seconds it took."""
    start = time.monotonic()
    b = Raw(d.port("imap"), timeout=SERVED_WITHIN)
    b.login()
    b.ok("SELECT INBOX")
    rep = b.ok("FETCH 1 (BODY.PEEK[HEADER])")
    assert rep.untagged and b"BODY[HEADER]" in rep.untagged[0], rep
    b.close()
    return time.monotonic() - start


def run_while_served(d, a, command):
    """Send command on a, serve a second client meanwhile, then read a's
    reply. Returns the reply."""
    tag = a.next_tag()
    a.send(tag.encode() + b" " + command + b"\r\n")
    took = second_client_served(d)
    assert took < SERVED_WITHIN, f"second client waited {took:.1f}s"
    a.sock.settimeout(120)
    rep = a.read_until_tag(tag)
    a.sock.settimeout(10)
    return rep


def test_wildcard_storm_answered_and_others_served(one_thread):
    d = one_thread
    a = logged_in(d)
    append(a, "INBOX", message("pattern-probe"))
    # Names of 100 characters without an "x": "******x" never matches.
    for i in range(5):
        a.ok(f'CREATE "long{i}/' + "a" * 95 + '"')

    # The pattern: over the bound, NO [LIMIT] (RFC 5530): the
    # command is valid, an implementation limit refused it.
    rep = run_while_served(d, a, b'LIST "" "' + b"*" * 3000 + b'a"')
    assert rep.status == "NO" and rep.code == "LIMIT", rep
    rep = run_while_served(d, a, b'LSUB "" "' + b"%" * 3000 + b'"')
    assert rep.status == "NO" and rep.code == "LIMIT", rep
    # The bound counts the reference.
    rep = a.cmd(b'LIST "' + b"r" * 1000 + b'" "' + b"*" * 25 + b'"')
    assert rep.status == "NO" and rep.code == "LIMIT", rep
    rep = a.cmd(b'LIST "" (' + b" ".join([b"a%"] * 65) + b")")
    assert rep.status == "NO" and rep.code == "LIMIT", rep

    # At the bound: answered, and right.
    rep = run_while_served(d, a, b'LIST "" "' + b"*" * 1023 + b'a"')
    assert rep.status == "OK", rep
    assert len(rep.named("LIST")) == 5, rep      # long0/aaa... to long4/aaa...
    rep = run_while_served(d, a, b'LIST "" "******x"')
    assert rep.status == "OK" and rep.named("LIST") == [], rep
    rep = run_while_served(d, a, b'LIST "" "' + b"%a" * 512 + b'"')
    assert rep.status == "OK" and rep.named("LIST") == [], rep
    rep = run_while_served(d, a, b'LIST "" ("' +
                           b'" "'.join([b"*%" * 250 + b"x"] * 16) + b'")')
    assert rep.status == "OK" and rep.named("LIST") == [], rep
    # '%' stops at the delimiter, '*' does not.
    rep = a.ok(b'LIST "" "long%"')
    assert len(rep.named("LIST")) == 5, rep
    rep = a.ok(b'LIST "" "long%/%"')
    assert len(rep.named("LIST")) == 5, rep
    rep = a.ok(b'LIST "" "%%%%/*a"')
    assert len(rep.named("LIST")) == 5, rep
    a.close()


def test_long_list_is_sliced_and_mailboxes_bounded(one_thread):
    """Thousands of deep names (each CREATE of a 250-level name makes 250
    mailboxes): LIST with a 1024-byte pattern walks them in slices, a
    second client is served between slices, and CREATE stops at the
    per-user bound."""
    d = one_thread
    a = logged_in(d)
    append(a, "INBOX", message("pattern-probe"))
    deep = "/".join(["a"] * 249)
    for i in range(40):
        a.ok(f'CREATE "d{i:02d}/{deep[2:]}"')
    total = len(a.ok('LIST "" "*"').named("LIST"))
    assert total >= 40 * 249, total
    # %a%a... matches "a/..." never ('%' stops at '/'), but every name is
    # walked with a 17-word automaton.
    rep = run_while_served(d, a, b'LIST "" "*' + b"%a" * 511 + b'"')
    assert rep.status == "OK", rep
    rep = run_while_served(d, a, b'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*" '
                           b"RETURN (CHILDREN)")
    assert rep.status == "OK", rep
    rep = a.ok('LIST "" "d00/a/a/%"')
    (line,) = rep.named("LIST")
    assert re.match(rb"\(\\HasChildren\) \"/\" \"?d00/a/a/a\"?$", line), line
    # 40 * 249 + the dev mailboxes: one more deep CREATE is over 10000.
    rep = a.cmd(f'CREATE "e00/{deep[2:]}"')
    assert rep.status == "NO" and rep.code == "LIMIT", rep
    a.ok('CREATE "one-more"')
    a.close()
