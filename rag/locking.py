"""Who may write a data folder, and which builds readers are using.

Writers: one at a time per data folder, through an exclusive ``filelock`` lock on
``<data_dir>/.write.lock`` (an ``flock``: the OS releases it when the holder dies, even by
SIGKILL). The holder writes ``.write.lock.json`` (pid, host, start time, command) so a writer
that waits, or gives up at once (``lock_timeout = 0``, ``ingest --no-wait``), can say who
holds it. A holder note left by a killed process is stale but harmless: the next holder
overwrites it.

Readers: an opened index holds a shared ``flock`` on ``builds/<id>/.readers`` for its whole
life (filelock has no shared mode, so this uses ``fcntl`` directly). Cleanup removes a build
only if it can take that lock exclusively, and first renames the folder away, so a reader
that resolved ``current`` just before a switch either keeps its build or sees it gone and
resolves again.

Not handled here: what a build writes or when it switches (rag.store). Unix only (flock).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from filelock import FileLock, Timeout

from rag.errors import IndexError_, WriterBusyError

LOCK_NAME = ".write.lock"
HOLDER_NAME = ".write.lock.json"
READERS_NAME = ".readers"
WAITING = "另一个索引构建正在进行，等待中…"


def _holder_text(data_dir: Path) -> str:
    """'pid 123，主机 h，开始于 2026-…' from the holder note, or a hint that it is unknown.

    The holder writes its note just after it takes the lock, so a writer that lost the race by
    a hair may look before it exists: it looks again for up to a second.
    """
    for _ in range(20):
        try:
            h = json.loads((data_dir / HOLDER_NAME).read_text(encoding="utf-8"))
            return f"pid {h['pid']}，主机 {h['host']}，开始于 {h['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            time.sleep(0.05)
    return "持有者未知"


def _write_holder(data_dir: Path) -> None:
    note = {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "command": " ".join(os.path.basename(a) for a in sys.argv[:3])}
    tmp = data_dir / f"{HOLDER_NAME}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(note, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, data_dir / HOLDER_NAME)


@contextlib.contextmanager
def writer_lock(data_dir: Path, timeout: float, on_wait=None):
    """Hold the data folder's writer lock for the ``with`` body.

    Args:
        data_dir: the data folder (created if missing).
        timeout: seconds to wait for another writer; 0 = do not wait.
        on_wait: called once with a one-line message when another writer holds the lock.

    Raises:
        WriterBusyError: another writer holds the lock (at once, or after ``timeout``).
        IndexError_: the data folder cannot be created or the lock file cannot be written.
    """
    data_dir = Path(data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = FileLock(data_dir / LOCK_NAME, thread_local=False)
        try:
            lock.acquire(blocking=False)
        except Timeout:
            who = _holder_text(data_dir)
            if timeout <= 0:
                raise WriterBusyError(f"另一个索引构建正在进行（{who}）：稍后再试，"
                                      "或去掉 --no-wait 等待它完成") from None
            if on_wait is not None:
                on_wait(f"{WAITING}（{who}）")
            try:
                lock.acquire(timeout=timeout, poll_interval=0.2)
            except Timeout:
                raise WriterBusyError(f"等待 {timeout:g} 秒后另一个索引构建仍在进行（"
                                      f"{_holder_text(data_dir)}）：稍后再试，"
                                      "或调大 RAG_LOCK_TIMEOUT") from None
        try:
            _write_holder(data_dir)
        except OSError:
            lock.release()
            raise
    except OSError as exc:  # filelock's Timeout is an OSError too, but is handled above
        raise IndexError_(f"无法在数据目录 {data_dir} 中写入（{exc.strerror or exc}）："
                          "请检查权限或设置 RAG_DATA_DIR") from None
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            (data_dir / HOLDER_NAME).unlink()
        lock.release()


class ReaderLease:
    """A shared lock on one build folder, held while an Index reads it."""

    def __init__(self, build: Path):
        self._fd: int | None = None
        try:
            self._fd = os.open(build / READERS_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:
            raise
        except OSError:  # a read-only data folder: no writer can remove the build either
            return
        fcntl.flock(self._fd, fcntl.LOCK_SH)

    def close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None

    def __del__(self):
        self.close()


def lease(build: Path) -> ReaderLease | None:
    """A reader lease on ``build``, or None if the build is gone (being removed: resolve again)."""
    try:
        held = ReaderLease(build)
    except FileNotFoundError:
        return None
    if not (build / "manifest.json").exists():  # removed between resolving and leasing
        held.close()
        return None
    return held


def remove_unused(builds: Path, keep: set[str], on_removed=None) -> list[str]:
    """Remove every build folder not in ``keep`` that no reader holds; returns their names.

    Call only while holding the writer lock: then a folder without manifest.json is a dead
    partial build (nobody else can be writing). A folder is renamed to ``.trash-<name>`` under
    an exclusive lock on its reader file before it is deleted, so a late reader never leases a
    half-deleted build. ``on_removed(name)`` runs for each removed build (server-mode
    collections).
    """
    removed: list[str] = []
    if not builds.exists():
        return removed
    for d in sorted(builds.iterdir()):
        if d.name in keep:
            continue
        if d.name.startswith(".trash-"):
            shutil.rmtree(d, ignore_errors=True)
            continue
        try:
            fd = os.open(d / READERS_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # not a build folder we can lock (a stray file): leave it
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a reader still uses it; a later build removes it
            trash = builds / f".trash-{d.name}"
            try:
                os.replace(d, trash)
            except OSError:
                continue
        finally:
            os.close(fd)
        shutil.rmtree(trash, ignore_errors=True)
        removed.append(d.name)
        if on_removed is not None:
            on_removed(d.name)
    return removed
