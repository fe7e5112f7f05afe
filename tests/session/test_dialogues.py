"""One test per dialogue file under tests/session/*/ (its id is the file's
path): files without @config share one daemon, a file with @config gets
a daemon of its own. The shared daemon must stop cleanly at the end."""
import glob
import os

import pytest

from run_dialogues import HERE, Daemon, parse_file, run

FILES = sorted(glob.glob(os.path.join(HERE, "*", "**", "*.dlg"), recursive=True))


@pytest.fixture(scope="session")
def shared_daemon(tmp_path_factory):
    daemon = Daemon(tmp_path_factory.mktemp("dialogues") / "data")
    yield daemon
    daemon.stop()


@pytest.mark.parametrize("path", FILES, ids=[os.path.relpath(f, HERE) for f in FILES])
def test_dialogue(path, shared_daemon, tmp_path):
    dlg = parse_file(path)
    if not dlg.config:
        run(dlg, shared_daemon)
        return
    daemon = Daemon(tmp_path / "data", dlg.config)
    try:
        run(dlg, daemon)
    finally:
        daemon.stop()


# ---- self tests of the runner: a matcher that accepts anything, or a
# dialogue that cannot fail, would make every test above vacuous.

from run_dialogues import (DialogueError, DialogueFailure,  # noqa: E402
                           match_group, match_line, parse)


def test_matcher_wildcards():
    assert match_line("* {n} EXISTS", b"* 12 EXISTS", {}) == {}
    assert match_line("* {n} EXISTS", b"* 1x EXISTS", {}) is None
    assert match_line("* {n} EXISTS", b"* EXISTS", {}) is None
    assert match_line("a1 OK {*}", b"a1 OK ", {}) == {}
    assert match_line("a1 OK {*}", b"a1 NO x", {}) is None
    # everything but the tokens is literal, the IMAP * and regex signs too
    assert match_line("* OK [a.b]", b"* OK [axb]", {}) is None
    assert match_line("(\\Seen $X)", b"(\\Seen $X)", {}) == {}
    assert match_line("a", b"a ", {}) is None
    caps = match_line("* OK [UIDVALIDITY {=v}] {*}", b"* OK [UIDVALIDITY 42] UIDs", {})
    assert caps == {"v": b"42"}
    assert match_line("x {$v}", b"x 42", caps) == {}
    assert match_line("x {$v}", b"x 43", caps) is None
    assert match_line("{=u} {$u}", b"7 7", {}) == {"u": b"7"}
    assert match_line("{=u} {$u}", b"7 8", {}) is None
    with pytest.raises(DialogueError):
        match_line("x {$never}", b"x 1", {})


def test_matcher_groups():
    # the first line fits both patterns: only the second assignment works
    pats = [(1, "* {*}"), (2, "* 3 EXISTS")]
    assert match_group(pats, [b"* 3 EXISTS", b"* 0 RECENT"], {}) == {}
    assert match_group(pats, [b"* 0 RECENT", b"* 1 RECENT"], {}) is None
    assert match_group([(1, "a"), (2, "a")], [b"a", b"b"], {}) is None


def test_parse_errors():
    for text in ("@service imap\nX: nonsense\n",
                 "C: a1 NOOP\n",                              # no @service
                 "@service imap\nC: a1 NOOP\n@user A\n",      # @user late
                 "@service gopher\n",
                 "@service imap\n@deliver B messages/plain.eml\n",
                 "@service imap\n@user A\n@deliver A messages/none.eml\n",
                 "@service imap\n@frobnicate\n"):
        with pytest.raises(DialogueError):
            parse(text, os.path.join(HERE, "selftest.dlg"), "selftest.dlg")


MUST_FAIL = {
    # a wrong line: the message names the file, the line and what came
    "wrong-line": ("@service imap\nC: a1 NOOP\nS: a1 NO {*}\n",
                   ["selftest.dlg:3:", "the server sent: a1 OK"]),
    # a skipped line shows up where the next one is expected
    "skipped-line": ("@service imap\nC: a1 CAPABILITY\nS: * CAPABILITY {*}\n"
                     "C: a2 NOOP\nS: a2 OK {*}\n", ["selftest.dlg:5:", "a1 OK"]),
    # an unmatched line at the end (the rest of a response with a literal,
    # which the runner has read when it returns the response's first line)
    "leftover": ("@service imap\n@user A\n@deliver A messages/plain.eml\n"
                 "C: a1 LOGIN $A $A_PASS\nS: a1 OK {*}\n"
                 "C: a2 EXAMINE INBOX\nS~ {*}\nS~ {*}\nS~ {*}\nS~ {*}\nS~ {*}\nS~ {*}\n"
                 "S~ {*}\nS~ {*}\nS: a2 OK {*}\n"
                 "C: a3 FETCH 1 BODY.PEEK[TEXT]\nS: * 1 FETCH (BODY[TEXT] {{n}}\n",
                 ["connection 1 got more", "Hello Joe"]),
    "not-closed": ("@service imap\nC: a1 NOOP\nS: <closed>\n",
                   ["selftest.dlg:3: expected the server to close"]),
    "closed": ("@service imap\nC: a1 LOGOUT\nS: * BYE {*}\nS: a1 OK {*}\nS: a1 OK\n",
               ["selftest.dlg:5: the server closed"]),
    "group": ("@service imap\n@user A\nC: a1 LOGIN $A $A_PASS\nS: a1 OK {*}\n"
              "C: a2 SELECT INBOX\nS~ * 1 EXISTS\nS~ {*}\nS~ {*}\nS~ {*}\nS~ {*}\n"
              "S~ {*}\nS~ {*}\nS~ {*}\nS: a2 OK {*}\n", ["selftest.dlg:6:", "* 0 EXISTS"]),
    "capture": ("@service imap\n@user A\nC: a1 LOGIN $A $A_PASS\nS: a1 OK {*}\n"
                "C: a2 STATUS INBOX (UIDNEXT)\nS: * STATUS {*} (UIDNEXT {=next})\nS: a2 OK {*}\n"
                "C: a3 STATUS INBOX (UIDVALIDITY)\nS: * STATUS {*} (UIDVALIDITY {$next})\n",
                ["selftest.dlg:9:", "UIDVALIDITY"]),
    # a literal the server sends is read by its count: a line of it that
    # differs is found
    "server-literal": ("@service imap\n@user A\n@deliver A messages/plain.eml\n"
                       "C: a1 LOGIN $A $A_PASS\nS: a1 OK {*}\n"
                       "C: a2 EXAMINE INBOX\nS~ {*}\nS~ {*}\nS~ {*}\nS~ {*}\nS~ {*}\nS~ {*}\n"
                       "S~ {*}\nS~ {*}\nS: a2 OK {*}\n"
                       "C: a3 FETCH 1 BODY.PEEK[TEXT]\nS: * 1 FETCH (BODY[TEXT] {{n}}\n"
                       "S: Hello Jim, do you think we can meet at 3:30 tomorrow?\n",
                       ["selftest.dlg:18:", "the server sent: Hello Joe"]),
    "other-connection": ("@service imap\n@service 2 pop3\nC2: CAPA\nS2: +OK {*}\nS2: USER\n",
                         ["selftest.dlg:5:", "the server sent: STLS"]),
}


@pytest.mark.parametrize("name", sorted(MUST_FAIL))
def test_runner_finds_the_difference(name, shared_daemon):
    text, wanted = MUST_FAIL[name]
    dlg = parse(text, os.path.join(HERE, "selftest.dlg"), "selftest.dlg")
    with pytest.raises(DialogueFailure) as failure:
        run(dlg, shared_daemon)
    for w in wanted:
        assert w in str(failure.value), str(failure.value)


def test_runner_passes_its_twin(shared_daemon):
    """The server-literal dialogue with the right line passes: the lines
    of a literal, the rest of the line after it and the tagged OK."""
    text = MUST_FAIL["server-literal"][0].replace("Jim", "Joe") + "S: )\nS: a3 OK {*}\n"
    run(parse(text, os.path.join(HERE, "selftest.dlg"), "selftest.dlg"), shared_daemon)
