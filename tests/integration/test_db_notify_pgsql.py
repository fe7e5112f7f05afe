"""The notification and advisory-lock unit tests (tests/unit/test_db_notify.c,
and the store's two-node test tests/unit/test_store_bus.c)
run again on a real PostgreSQL: a throwaway cluster (tests/pgsql.py), the
connection string in POSTHORN_TEST_PGSQL."""
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


def test_notify_and_locks_on_postgresql(pg):
    binary = os.path.join(BUILD, "tests", "unit", "test_db_notify")
    r = subprocess.run([binary], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, POSTHORN_TEST_PGSQL=pg.new_database(),
                                CMOCKA_MESSAGE_OUTPUT="STDOUT"))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "db driver: pgsql" in out and "[  PASSED  ] 2 test(s)." in out, out


def test_store_bus_two_nodes_on_postgresql(pg):
    """tests/unit/test_store_bus.c: two stores on one database as two nodes."""
    binary = os.path.join(BUILD, "tests", "unit", "test_store_bus")
    r = subprocess.run([binary], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, POSTHORN_TEST_PGSQL=pg.new_database(),
                                CMOCKA_MESSAGE_OUTPUT="STDOUT"))
    out = r.stdout + r.stderr
    assert r.returncode == 0, out
    assert "store driver: pgsql" in out and "[  PASSED  ] 3 test(s)." in out, out
