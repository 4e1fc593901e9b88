"""More than one writer on a data folder: concurrent ingests, readers during switches, an
ingest while the app serves 16 clients, and SIGKILL of the lock holder.

Every process and every check is counted in the robustness table ("writers" rows). The long
ones (real plan, many processes) are marked slow; the reader loop and the --no-wait message
run on the tiny plan.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.config import load_settings
from rag.locking import HOLDER_NAME, WAITING, writer_lock
from rag.retrieval import Retriever
from rag.store import Index, build_index
from tests.conftest import PROJECT_ROOT, REAL_CORPUS, free_port
from tests.robustness import tally

SECTION = "writers"
ROUNDS = int(os.environ.get("RB_INGEST_ROUNDS", "10"))
WRITERS = 4
QUESTION = "高新技术企业要达到多少家"
REAL_KEY = ("shanxi-14th-fyp", 2, 3)  # 第二章 第三节 培育一流创新主体
TINY_KEY = ("tiny", 2, 2)
# the one line an ingest ends with: built, up to date, or (exit 1) the lock is held
DONE = re.compile(r"^(索引已构建：|语料与设置未变)")
BUSY = re.compile(r"^错误：另一个索引构建正在进行（pid \d+，主机 \S+，开始于 \S+）")


def _ingest(data_dir: Path, corpus: Path, *flags: str) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_CORPUS_DIR=str(corpus), RAG_DATA_DIR=str(data_dir))
    return subprocess.Popen([sys.executable, "-m", "rag", "ingest", "--quiet", *flags], env=env,
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def _judge_exit(rc: int, err: str) -> tuple[bool, str]:
    """Exit 0 or 1, no traceback, one final line (built / up to date / lock held); any other
    line is the waiting notice."""
    lines = [ln for ln in err.splitlines() if ln.strip()]
    last = lines[-1] if lines else ""
    ok = ("Traceback" not in err and len(lines) >= 1
          and ((rc == 0 and DONE.match(last)) or (rc == 1 and BUSY.match(last)))
          and all(ln.startswith(WAITING) for ln in lines[:-1]))
    return bool(ok), f"rc={rc}: {err[-300:]!r}"


def _answers(settings, key) -> tuple[bool, str]:
    """The live index answers the 高新技术企业 question from the expected section."""
    index = Index(settings)
    hits = Retriever(index).search(QUESTION, k=1)
    ok = bool(hits) and hits[0].key == key and index.manifest.build_id == index.root.name
    index.close()
    return ok, f"live {index.root.name}: {hits[:1]}"


def _consistent(index: Index) -> bool:
    """Everything an Index read comes from one complete build."""
    m = index.manifest
    return (m.build_id == index.root.name and len(index.sections) == m.counts["sections"]
            and index.sentence_store._collection.count() == m.counts["sentences"])


class _ReaderLoop(threading.Thread):
    """Opens the live Index over and over while writers switch; counts what it saw."""

    def __init__(self, settings):
        super().__init__(daemon=True)
        self.settings, self.stop, self.opened = settings, False, 0
        self.builds: set[str] = set()
        self.fails: list[str] = []

    def run(self) -> None:
        while not self.stop:
            try:
                index = Index(self.settings)
                ok = _consistent(index)
                self.builds.add(index.root.name)
                index.close()
            except Exception as exc:
                ok, index = False, exc
            self.opened += 1
            if not tally.record(SECTION, "reader opens Index while writers switch", ok,
                                str(index)[:200]):
                self.fails.append(str(index)[:200])


def test_reader_never_sees_a_half_switch(tiny_corpus, tmp_path):
    """Tiny plan: 4 in-process rebuilds while a reader thread opens the Index in a loop, and an
    Index held open across all of them still answers (its build is not removed under it)."""
    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data")
    build_index(settings, progress=False)
    held = Index(settings)
    reader = _ReaderLoop(settings)
    reader.start()
    built = [build_index(settings, rebuild=True, progress=False).build_id for _ in range(4)]
    reader.stop = True
    reader.join(timeout=120)
    hits = Retriever(held).search(QUESTION, k=1)
    ok = bool(hits) and hits[0].key == TINY_KEY and _consistent(held)
    tally.record(SECTION, "Index held open across 4 switches still answers", ok, str(hits[:1]))
    left = sorted(p.name for p in (tmp_path / "data" / "builds").iterdir())
    held.close()
    build_index(settings, rebuild=True, progress=False)
    after = sorted(p.name for p in (tmp_path / "data" / "builds").iterdir())
    kept_then_freed = held.root.name in left and held.root.name not in after and len(after) == 1
    tally.record(SECTION, "a held build is kept, then removed once released", kept_then_freed,
                 f"{left} -> {after}")
    print(f"\nreader opened the index {reader.opened} times over builds {len(reader.builds)}")
    assert reader.opened > 0 and not reader.fails, reader.fails[:3]
    assert ok and kept_then_freed, (hits[:1], left, after)
    assert built[-1] in left


def test_no_wait_names_the_holder_and_exits_1(tiny_corpus, tmp_path):
    """While this process holds the writer lock, `ingest --no-wait` exits 1 with one line
    naming this pid; `--lock-timeout 1` waits, says so, and exits 1 too."""
    data = tmp_path / "data"
    with writer_lock(data, 0):
        holder = (data / HOLDER_NAME).read_text(encoding="utf-8")
        fast = _ingest(data, tiny_corpus, "--no-wait")
        _, err_fast = fast.communicate(timeout=300)
        slow = _ingest(data, tiny_corpus, "--lock-timeout", "1")
        _, err_slow = slow.communicate(timeout=300)
    ok_fast = (_judge_exit(fast.returncode, err_fast)[0] and fast.returncode == 1
               and len(err_fast.strip().splitlines()) == 1 and f"pid {os.getpid()}" in err_fast)
    ok_slow = (slow.returncode == 1 and "Traceback" not in err_slow
               and err_slow.startswith(WAITING) and "等待 1 秒后" in err_slow)
    tally.record(SECTION, "ingest --no-wait while the lock is held: exit 1, names the holder",
                 ok_fast, err_fast[-200:])
    tally.record(SECTION, "ingest --lock-timeout 1 while held: waits, then exit 1", ok_slow,
                 err_slow[-200:])
    assert str(os.getpid()) in holder
    assert ok_fast, err_fast
    assert ok_slow, err_slow
    assert not (data / HOLDER_NAME).exists() and not (data / "builds").exists()


@pytest.mark.slow
def test_concurrent_ingests_keep_the_live_index(tmp_path):
    """4 `ingest --rebuild` at once (one of them --no-wait, in turn) × ROUNDS on the real
    plan, a reader loop throughout, an Index held from the start; after every round the live
    index answers from 第二章 第三节 and no partial build is left."""
    data = tmp_path / "data"
    settings = load_settings(corpus_dir=REAL_CORPUS, data_dir=data)
    build_index(settings, progress=False)
    held = Index(settings)
    reader = _ReaderLoop(settings)
    reader.start()
    fails = []
    t0 = time.monotonic()
    for r in range(ROUNDS):
        procs = [_ingest(data, REAL_CORPUS, "--rebuild", *(["--no-wait"] if i == r % WRITERS
                                                           else []))
                 for i in range(WRITERS)]
        for p in procs:
            _, err = p.communicate(timeout=1800)
            ok, detail = _judge_exit(p.returncode, err)
            if not tally.record(SECTION, "concurrent ingest exits 0/1 with one line, no traceback",
                                ok, f"round {r}: {detail}"):
                fails.append(detail)
        answered, detail = _answers(settings, REAL_KEY)
        builds = {p.name for p in (data / "builds").iterdir()}
        live = Path(os.path.realpath(settings.index_dir)).name
        # left: the live build, the held one, and at most one the reader loop had open during
        # the last switch; never a partial build
        tidy = ({live, held.root.name} <= builds and len(builds) <= 3
                and all((data / "builds" / b / "manifest.json").exists() for b in builds))
        detail = f"round {r}: answered={answered} tidy={tidy} builds {sorted(builds)}; {detail}"
        if not tally.record(SECTION, "after a round of 4 ingests the live index answers (2.3)",
                            answered and tidy, detail):
            fails.append(detail)
    reader.stop = True
    reader.join(timeout=300)
    hits = Retriever(held).search(QUESTION, k=1)
    ok = bool(hits) and hits[0].key == REAL_KEY
    tally.record(SECTION, f"Index held open across {ROUNDS} rounds still answers", ok,
                 str(hits[:1]))
    print(f"\n{ROUNDS} rounds × {WRITERS} ingests in {time.monotonic() - t0:.0f}s; the reader "
          f"opened the index {reader.opened} times over {len(reader.builds)} builds")
    assert not fails and not reader.fails, (fails + reader.fails)[:3]
    assert ok, hits[:1]


# a writer that stops inside its build (vectors embedded, before Chroma) holding the lock
_PAUSED_HOLDER = """
import sys, time
from rag.config import load_settings
from rag.store import build_index

def stage(name, fraction):
    if name == "chroma":
        print("PAUSED", flush=True)
        time.sleep(600)

build_index(load_settings(corpus_dir=sys.argv[1], data_dir=sys.argv[2]), rebuild=True,
            progress=False, on_stage=stage)
"""


@pytest.mark.slow
def test_sigkill_of_the_lock_holder(tiny_corpus, tmp_path):
    """SIGKILL the lock holder mid-build (inside build_index, its partial build on disk) while
    an `ingest` waits: the previous (tiny) index serves throughout, the waiter proceeds, builds
    the real plan and removes the dead partial build."""
    data = tmp_path / "data"
    tiny = load_settings(corpus_dir=tiny_corpus, data_dir=data)
    build_index(tiny, progress=False)
    before = os.path.realpath(tiny.index_dir)
    holder = subprocess.Popen([sys.executable, "-c", _PAUSED_HOLDER, str(REAL_CORPUS), str(data)],
                              cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    paused = holder.stdout.readline().strip() == "PAUSED"
    dead = [p.name for p in (data / "builds").iterdir() if p.name != Path(before).name]
    waiter = _ingest(data, REAL_CORPUS, "--rebuild")
    first = waiter.stderr.readline()  # the waiting notice, printed once it found the lock held
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    ok_prev, detail = _answers(tiny, TINY_KEY)
    ok_prev = ok_prev and os.path.realpath(tiny.index_dir) == before
    tally.record(SECTION, "SIGKILL of the lock holder: the previous index still serves",
                 ok_prev and paused, detail)
    _, rest = waiter.communicate(timeout=1800)
    err = first + rest
    ok_exit, why = _judge_exit(waiter.returncode, err)
    ok_next, detail = _answers(load_settings(corpus_dir=REAL_CORPUS, data_dir=data), REAL_KEY)
    builds = [p.name for p in (data / "builds").iterdir()]
    ok = (waiter.returncode == 0 and ok_exit and ok_next and len(dead) == 1
          and dead[0] not in builds and f"pid {holder.pid}" in first and len(builds) == 1)
    tally.record(SECTION, "SIGKILL of the lock holder: the next writer proceeds", ok,
                 f"{why}; {detail}; partial {dead}, builds {builds}")
    assert paused and ok_prev, detail
    assert ok, (err, dead, builds)


@pytest.mark.slow
def test_ingest_while_16_clients_use_the_app(tmp_path):
    """The app (in-process, real plan) serves 16 gradio_client clients asking in a loop while
    two `ingest --rebuild` run one after the other: 0 failed requests, and the app's build stays
    on disk while the app holds it."""
    from gradio_client import Client

    from rag.ui import build_app, launch

    data = tmp_path / "data"
    # index_poll=0: this app keeps its first build (the lease under test) instead of switching
    settings = load_settings(corpus_dir=REAL_CORPUS, data_dir=data, app_port=free_port(),
                             index_poll=0)
    build_index(settings, progress=False)
    demo, app = build_app(settings)
    app.backend.wait()
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{settings.app_port}/"
    served = app.backend.index.root.name
    stop = threading.Event()
    done, errors = [0], []
    start = threading.Barrier(17)

    def client_loop(i: int) -> None:
        try:
            client = Client(url, verbose=False, httpx_kwargs={"timeout": 300})
        except Exception as exc:
            errors.append(f"connect {i}: {type(exc).__name__}: {exc}")
            client = None
        start.wait()
        while client is not None and not stop.is_set():
            try:
                out = client.predict(QUESTION, "全部", None, api_name="/ask")
                ok = isinstance(out, dict) and "第二章 第三节" in str(out.get("answer"))
                tally.record(SECTION, "app request during an ingest (16 clients)", ok,
                             str(out)[:200])
                done[0] += 1
                if not ok:
                    errors.append(f"client {i}: {str(out)[:200]}")
            except Exception as exc:
                tally.record(SECTION, "app request during an ingest (16 clients)", False, str(exc))
                errors.append(f"client {i}: {type(exc).__name__}: {exc}"[:300])

    threads = [threading.Thread(target=client_loop, args=(i,), daemon=True) for i in range(16)]
    try:
        for t in threads:
            t.start()
        start.wait(timeout=600)
        results = []
        for _ in range(2):
            proc = _ingest(data, REAL_CORPUS, "--rebuild")
            _, err = proc.communicate(timeout=1800)
            results.append(_judge_exit(proc.returncode, err))
        stop.set()
        for t in threads:
            t.join(timeout=600)
        kept = (data / "builds" / served / "manifest.json").exists()
    finally:
        stop.set()
        demo.close()
    ok_ingest = all(ok and "rc=0" in d for ok, d in results)
    tally.record(SECTION, "ingest while the app serves: exits 0, app's build kept",
                 ok_ingest and kept, str(results))
    print(f"\n16 clients: {done[0]} requests during 2 ingests, {len(errors)} failed")
    assert done[0] > 0 and not errors, errors[:5]
    assert ok_ingest and kept, results


def test_app_first_start_waits_for_another_writer(tiny_corpus, tmp_path):
    """The app's first-start build takes the same lock: while another writer holds it the
    status line says 「另一个索引构建正在进行，等待中…」; when it is free the app builds and loads."""
    from rag.ui.backend import Backend

    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data")
    backend = Backend(settings)
    with writer_lock(tmp_path / "data", 0):
        backend.start()
        deadline = time.monotonic() + 120
        while backend.stage != "wait" and not backend.ready and time.monotonic() < deadline:
            time.sleep(0.05)
        shown = backend.status()
    backend.wait(timeout=600)
    ok = WAITING in shown and backend.error is None and backend.index is not None
    tally.record(SECTION, "app's first-start build waits for the lock, says so", ok,
                 f"{shown[:120]} / {backend.error}")
    assert ok, (shown, backend.error)
    assert Retriever(backend.index).search(QUESTION, k=1)[0].key == TINY_KEY
