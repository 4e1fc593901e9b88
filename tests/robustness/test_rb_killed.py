"""Ingestion killed with SIGKILL at 20 random points: the live index is always a complete build
that answers, and the next ingest cleans up and succeeds.

The previous index is the tiny fixture plan; each new build is the real plan, started with
``--rebuild``, killed after a delay drawn (fixed seed) from the whole duration of an unkilled
build measured first, so kills land in start-up, parsing, embedding, Chroma writes, BM25,
the manifest write and the switch.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rag.config import load_settings
from rag.retrieval import Retriever
from rag.store import Index, build_index, current_manifest
from tests.conftest import PROJECT_ROOT, REAL_CORPUS
from tests.robustness import tally

KILLS = 20
SEED = 14


def _ingest(data_dir: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_CORPUS_DIR=str(REAL_CORPUS), RAG_DATA_DIR=str(data_dir))
    return subprocess.Popen([sys.executable, "-m", "rag", "ingest", "--quiet", "--rebuild"],
                            env=env, cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)


def _live_is_complete_and_answers(settings) -> tuple[bool, str]:
    """The `current` link names a build with a manifest, and that index answers a query."""
    real = Path(os.path.realpath(settings.index_dir))
    manifest = current_manifest(settings)
    if manifest is None or real.name != manifest.build_id:
        return False, f"current -> {real.name} without a matching manifest"
    hits = Retriever(Index(settings)).search("高新技术企业要达到多少家", k=1, mode="bm25")
    want = "800家" if manifest.counts.get("sections") == 7 else "5000"
    if not hits or want not in hits[0].text:
        return False, f"live build {real.name} does not answer: {hits[:1]}"
    return True, ""


@pytest.mark.slow
def test_sigkill_at_random_points_keeps_a_usable_index(tiny_corpus, tmp_path):
    data = tmp_path / "data"
    tiny = load_settings(corpus_dir=tiny_corpus, data_dir=data)
    build_index(tiny, progress=False)

    # one unkilled build of the real plan measures the window the kills are drawn from
    t0 = time.monotonic()
    proc = _ingest(data)
    _, err = proc.communicate(timeout=900)
    full = time.monotonic() - t0
    assert proc.returncode == 0, err.decode()[-1000:]
    build_index(tiny, rebuild=True, progress=False)  # back to the tiny plan as the live index

    rng = random.Random(SEED)
    outcomes = {"killed before the switch": 0, "killed after the switch": 0, "finished": 0}
    fails = []
    kills = 0
    # a run that finishes before its kill does not count; on a loaded machine the unkilled
    # build's time overstates later ones, so up to three runs per kill are drawn
    for i in range(KILLS * 3):
        if kills == KILLS:
            break
        before = os.path.realpath(tiny.index_dir)
        delay = rng.uniform(0.2, full * 0.9)
        proc = _ingest(data)
        try:
            proc.wait(timeout=delay)
            outcomes["finished"] += 1
            row = "finished before its kill (index checked)"
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            kills += 1
            after = os.path.realpath(tiny.index_dir)
            outcomes["killed before the switch" if after == before else "killed after the switch"] += 1
            row = "SIGKILL at a random point"
        ok, detail = _live_is_complete_and_answers(tiny)
        if not tally.record("ingestion killed (SIGKILL)", row, ok,
                            f"run {i} after {delay:.1f}s: {detail}"):
            fails.append(detail)
        if os.path.realpath(tiny.index_dir) != before:
            build_index(tiny, rebuild=True, progress=False)  # keep the tiny plan as 'previous'
    assert kills == KILLS, outcomes
    print(f"\nkill outcomes over {KILLS} runs (unkilled build {full:.1f}s): {outcomes}")

    # the next build removes partial folders and succeeds
    report = build_index(load_settings(corpus_dir=REAL_CORPUS, data_dir=data), progress=False)
    leftovers = sorted(p.name for p in data.iterdir() if p.name.startswith(".current-"))
    builds = [b.name for b in (data / "builds").iterdir()]
    ok = builds == [report.build_id] and not leftovers and json.loads(
        (data / "current" / "manifest.json").read_text())["counts"]["sections"] == 82
    tally.record("ingestion killed (SIGKILL)", "next ingest cleans up", ok,
                 f"builds={builds} leftovers={leftovers}")
    assert not fails, fails
    assert ok, (builds, leftovers)
