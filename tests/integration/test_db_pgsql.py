"""The unit tests that take a PostgreSQL database run again on a real one:
a throwaway cluster of Debian's postgresql-15 (tests/pgsql.py), the
connection string in POSTHORN_TEST_PGSQL: the database layer's
(tests/unit/test_db.c) and the store schema's (tests/unit/
test_store_schema.c: the migrations of store_schema_pgsql.c give the same
tables, columns, keys and indexes as SQLite's, and the search statements
run through their pg_trgm indexes), the notifications and advisory locks
(tests/unit/test_db_notify.c) and two stores on one database as two
nodes (tests/unit/test_store_bus.c)."""
import os
import subprocess

import pytest

from conftest import BUILD
from pgsql import PgCluster


@pytest.fixture(scope="module")
def pg():
    cluster = PgCluster().start()
    yield cluster
    cluster.stop()


def run_unit(pg, name):
    """Run tests/unit/<name> on a fresh database; its output."""
    binary = os.path.join(BUILD, "tests", "unit", name)
    r = subprocess.run([binary], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, POSTHORN_TEST_PGSQL=pg.new_database(),
                                CMOCKA_MESSAGE_OUTPUT="STDOUT"))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    return out


def test_db_layer_on_postgresql(pg):
    out = run_unit(pg, "test_db")
    assert "db driver: pgsql" in out and "[  PASSED  ] 8 test(s)." in out, out


def test_store_schema_on_postgresql(pg):
    out = run_unit(pg, "test_store_schema")
    assert "pgsql: yes" in out and "[  PASSED  ] 5 test(s)." in out, out


def test_notify_and_locks_on_postgresql(pg):
    out = run_unit(pg, "test_db_notify")
    assert "db driver: pgsql" in out and "[  PASSED  ] 2 test(s)." in out, out


def test_store_bus_two_nodes_on_postgresql(pg):
    out = run_unit(pg, "test_store_bus")
    assert "store driver: pgsql" in out and "[  PASSED  ] 3 test(s)." in out, out


def test_pg_trgm_and_citext_ship_with_postgresql(pg):
    """The extensions the schema creates are part of Debian's
    postgresql-15 (scripts/install-deps installs it)."""
    db = pg.new_database().split("dbname=")[1]
    r = pg.psql("CREATE EXTENSION pg_trgm; CREATE EXTENSION citext;"
                "SELECT similarity('posthorn', 'posthorne') > 0.5,"
                " 'A@B'::citext = 'a@b'", db=db)
    assert "| t" in r.stdout and " t " in r.stdout, r.stdout

