"""The database layer's unit tests (tests/unit/test_db.c) run again on a
real PostgreSQL: a throwaway cluster of Debian's postgresql-15
(tests/pgsql.py), the connection string in POSTHORN_TEST_PGSQL."""
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


def test_db_layer_on_postgresql(pg):
    binary = os.path.join(BUILD, "tests", "unit", "test_db")
    r = subprocess.run([binary], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, POSTHORN_TEST_PGSQL=pg.new_database(),
                                CMOCKA_MESSAGE_OUTPUT="STDOUT"))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "db driver: pgsql" in out and "[  PASSED  ] 6 test(s)." in out, out
