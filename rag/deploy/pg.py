"""A throwaway PostgreSQL cluster for tests and ``make deploy-check``: ``initdb`` into a temp
folder, ``pg_ctl start`` on a loopback port (socket in the same folder), one database, and
``stop_cluster`` to stop it and remove the folder.

Debian's server binaries (``/usr/lib/postgresql/<major>/bin``, or ``RAG_PG_BIN``) refuse to run
as root, so as root every command runs as the ``postgres`` user (``runuser -u postgres --``)
and the folder is handed to that user; it must be reachable by it (e.g. under /tmp, not under
pytest's private ``tmp_path``). Authentication is ``trust`` on loopback: throwaway only.

Not handled here: production clusters, passwords, TLS, backups; the feedback schema
(rag.feedback creates it).

Example::

    url = start_cluster(Path(tempfile.mkdtemp(prefix="guihua-pg-")), port)
    ...  # RAG_DB_URL=url
    stop_cluster(folder)
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

DB_NAME = "guihua"
USER = "postgres"


class ClusterError(RuntimeError):
    """The cluster could not be created, started or stopped (the message names the step)."""


def find_bindir() -> Path | None:
    """The folder with initdb/pg_ctl: ``RAG_PG_BIN``, else the newest Debian install (15 first)."""
    if os.environ.get("RAG_PG_BIN"):
        return Path(os.environ["RAG_PG_BIN"])
    found = ["/usr/lib/postgresql/15/bin"] + sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                                    reverse=True)
    return next((Path(p) for p in found if (Path(p) / "initdb").exists()), None)


def _as_owner() -> list[str]:
    return ["runuser", "-u", USER, "--"] if os.geteuid() == 0 else []


def _run(step: str, cmd: list[str], timeout: float = 120) -> None:
    try:
        proc = subprocess.run(_as_owner() + cmd, capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ClusterError(f"{step}: {exc}") from None
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ClusterError(f"{step} failed ({proc.returncode}): {' | '.join(tail)}")


def url_for(port: int, db: str = DB_NAME) -> str:
    """The SQLAlchemy URL of a cluster started on ``port`` (``RAG_DB_URL``)."""
    return f"postgresql+psycopg://{USER}@127.0.0.1:{port}/{db}"


def start_cluster(tmpdir: Path | str, port: int, bindir: Path | None = None) -> str:
    """Create and start a cluster in ``tmpdir`` (created; must be empty or missing) listening on
    127.0.0.1:``port``, create database ``guihua``; returns its SQLAlchemy URL.

    Raises ClusterError (binaries missing, initdb/start/createdb failed); a cluster that started
    but whose database could not be created is stopped again.
    """
    bindir = bindir or find_bindir()
    if bindir is None or not (Path(bindir) / "initdb").exists():
        raise ClusterError("PostgreSQL server binaries not found (apt-get install postgresql, "
                           "or set RAG_PG_BIN)")
    root = Path(tmpdir)
    root.mkdir(parents=True, exist_ok=True)
    (root / "sock").mkdir(exist_ok=True)
    if os.geteuid() == 0:
        for p in (root, root / "sock"):
            shutil.chown(p, USER, USER)
    data = root / "data"
    _run("initdb", [str(bindir / "initdb"), "-D", str(data), "-U", USER, "--auth=trust",
                    "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
    opts = (f"-p {int(port)} -k {root / 'sock'} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
    _run("pg_ctl start", [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"),
                          "-o", opts, "-w", "-t", "60", "start"])
    try:
        _run("createdb", [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(int(port)),
                          "-U", USER, DB_NAME])
    except ClusterError:
        stop_cluster(root, remove=False, bindir=bindir)
        raise
    return url_for(port)


def stop_cluster(tmpdir: Path | str, remove: bool = True, bindir: Path | None = None) -> None:
    """Stop the cluster in ``tmpdir`` (fast shutdown; fine if it is not running) and, with
    ``remove``, delete the folder."""
    root = Path(tmpdir)
    bindir = bindir or find_bindir()
    data = root / "data"
    try:
        if bindir and (data / "postmaster.pid").exists():
            _run("pg_ctl stop", [str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w",
                                 "-t", "60", "stop"])
    finally:
        if remove:
            shutil.rmtree(root, ignore_errors=True)
