"""The admin command `posthorn` against a dev data dir: domains, users,
aliases, password checks through the auth module, config check, and exit
codes scripts rely on."""
import os

import pytest

from conftest import run_cli


@pytest.fixture
def conf(tmp_path, daemon):
    """The config of a running dev daemon (its store is shared)."""
    return daemon.config_path


def cli(conf, *args, input=None):
    return run_cli(["-c", conf] + list(args), input=input)


def test_dev_store_has_demo_user_and_domains(conf):
    r = cli(conf, "domain", "list")
    assert r.returncode == 0
    assert r.stdout.split() == ["example.test", "localhost"]
    r = cli(conf, "user", "list")
    assert r.stdout.split() == ["demo@localhost"]
    ok = cli(conf, "auth", "test", "demo@localhost", "--password-stdin", input="demo\n")
    assert ok.returncode == 0, ok.stderr
    bad = cli(conf, "auth", "test", "demo@localhost", "--password-stdin", input="nope\n")
    assert bad.returncode == 1


def test_domain_user_alias_lifecycle(conf):
    assert cli(conf, "domain", "add", "Example.ORG").returncode == 0
    assert "example.org" in cli(conf, "domain", "list").stdout.split()
    assert cli(conf, "domain", "add", "example.org").returncode == 1

    r = cli(conf, "user", "add", "alice@example.org", "--password-stdin", input="s3cret pw\n")
    assert r.returncode == 0, r.stderr
    assert cli(conf, "user", "add", "alice@example.org", "--password-stdin",
               input="x\n").returncode == 1
    assert cli(conf, "auth", "test", "alice@example.org", "--password-stdin",
               input="s3cret pw\n").returncode == 0
    assert cli(conf, "auth", "test", "alice@example.org", "--password-stdin",
               input="s3cret\n").returncode == 1
    assert cli(conf, "auth", "test", "nobody@example.org", "--password-stdin",
               input="s3cret pw\n").returncode == 1

    r = cli(conf, "user", "passwd", "alice@example.org", "--password-stdin", input="new one\n")
    assert r.returncode == 0, r.stderr
    assert cli(conf, "auth", "test", "alice@example.org", "--password-stdin",
               input="s3cret pw\n").returncode == 1
    assert cli(conf, "auth", "test", "alice@example.org", "--password-stdin",
               input="new one\n").returncode == 0

    assert cli(conf, "alias", "add", "sales@example.org", "alice@example.org",
               "bob@elsewhere.test").returncode == 0
    assert cli(conf, "alias", "add", "@example.org", "alice@example.org").returncode == 0
    listing = cli(conf, "alias", "list").stdout.splitlines()
    assert "sales@example.org alice@example.org" in listing
    assert "sales@example.org bob@elsewhere.test" in listing
    assert "@example.org alice@example.org" in listing
    assert cli(conf, "alias", "del", "sales@example.org").returncode == 0
    assert "sales@" not in cli(conf, "alias", "list").stdout
    assert cli(conf, "alias", "del", "sales@example.org").returncode == 1

    assert cli(conf, "user", "list", "example.org").stdout.split() == ["alice@example.org"]
    assert cli(conf, "user", "del", "alice@example.org").returncode == 0
    assert cli(conf, "user", "list", "example.org").stdout.split() == []
    assert cli(conf, "user", "del", "alice@example.org").returncode == 1


def test_refusals_and_usage_errors(conf):
    # A user outside the local domains is refused.
    r = cli(conf, "user", "add", "x@not-local.test", "--password-stdin", input="pw\n")
    assert r.returncode == 1 and "not local" in r.stderr
    # Bad syntax is a usage error, and nothing is created.
    for args in (["domain", "add", "bad domain"], ["domain", "add", "-x.test"],
                 ["user", "add", "no-at-sign"], ["alias", "add", "a@localhost", "not an address"],
                 ["frobnicate"], ["user"], ["domain", "add"]):
        r = cli(conf, *args, input="pw\n")
        assert r.returncode == 2, (args, r.stdout, r.stderr)
    # Without a terminal and without --password-stdin there is no password.
    r = cli(conf, "user", "add", "carol@localhost", input="")
    assert r.returncode == 1 and "--password-stdin" in r.stderr
    assert "carol@localhost" not in cli(conf, "user", "list").stdout
    # An empty password is refused.
    r = cli(conf, "user", "add", "carol@localhost", "--password-stdin", input="\n")
    assert r.returncode == 1


def test_config_check(conf, tmp_path):
    r = cli(conf, "config", "check")
    assert r.returncode == 0
    assert "smtp" in r.stdout and "imaps" in r.stdout
    bad = tmp_path / "bad.conf"
    bad.write_text("[server]\nio_threads = many\n")
    r = run_cli(["-c", str(bad), "config", "check"])
    assert r.returncode == 3
    assert "bad.conf:2" in r.stderr and "io_threads" in r.stderr
    r = run_cli(["-c", str(tmp_path / "missing.conf"), "config", "check"])
    assert r.returncode == 3
    assert "missing.conf" in r.stderr
