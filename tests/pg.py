"""Pytest fixtures for a real, throwaway PostgreSQL cluster (rag.deploy.pg): one cluster per
session, a fresh database per test. Skipped, with the reason, only where the server binaries
are missing."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from rag.deploy.pg import find_bindir, start_cluster, stop_cluster
from tests.conftest import free_port

_names = itertools.count(1)


@pytest.fixture(scope="session")
def pg_cluster():
    """The URL of database ``guihua`` on a cluster started for this session."""
    if find_bindir() is None or (os.geteuid() == 0 and shutil.which("runuser") is None):
        pytest.skip("PostgreSQL server binaries (/usr/lib/postgresql/*/bin) or runuser not "
                    "found: apt-get install postgresql")
    # not pytest's tmp_path: its parent is private to root and the server runs as postgres
    root = Path(tempfile.mkdtemp(prefix="guihua-pg-test-"))
    url = start_cluster(root, free_port())
    yield url
    sa.create_engine(url).dispose()
    stop_cluster(root)


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """A fresh, empty database on the session's cluster."""
    name = f"t{next(_names)}"
    admin = sa.create_engine(pg_cluster, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return pg_cluster.rsplit("/", 1)[0] + f"/{name}"
