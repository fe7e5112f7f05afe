"""The store schema's unit tests (tests/unit/test_store_schema.c) on a real
PostgreSQL: the migrations of store_schema_pgsql.c apply on a throwaway
cluster (tests/pgsql.py) with the same tables, columns, keys and indexes
as SQLite's, and the search statements run through their pg_trgm
indexes."""
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


def test_store_schema_on_postgresql(pg):
    binary = os.path.join(BUILD, "tests", "unit", "test_store_schema")
    r = subprocess.run([binary], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, POSTHORN_TEST_PGSQL=pg.new_database(),
                                CMOCKA_MESSAGE_OUTPUT="STDOUT"))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "pgsql: yes" in out and "[  PASSED  ] 5 test(s)." in out, out


def test_pg_trgm_and_citext_ship_with_postgresql(pg):
    """The extensions the schema creates are part of Debian's
    postgresql-15 (scripts/install-deps installs it)."""
    db = pg.new_database().split("dbname=")[1]
    r = pg.psql("CREATE EXTENSION pg_trgm; CREATE EXTENSION citext;"
                "SELECT similarity('posthorn', 'posthorne') > 0.5,"
                " 'A@B'::citext = 'a@b'", db=db)
    assert "| t" in r.stdout and " t " in r.stdout, r.stdout
