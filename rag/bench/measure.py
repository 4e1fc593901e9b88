"""Benchmark building blocks: corpus replication, latency statistics, sizes, growth fits.

Pure helpers shared by the child tasks, the serving load test, the run and the report; nothing
here starts a process or writes a file.

Not handled here: the measurements themselves (tasks.py, serving.py, runner.py).
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.config import MODES, PROJECT_ROOT  # noqa: F401  (MODES re-exported for the bench)
from rag.corpus import Corpus
from rag.errors import RagError

DEV = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"


class BenchError(RagError):
    """The benchmark could not run a step (bad flag, a child process failed)."""


def replicate(corpus: Corpus, n: int) -> Corpus:
    """The corpus repeated ``n`` times as distinct documents (copy i gets id ``<id>-x<i>``)."""
    docs = list(corpus.documents)
    for i in range(2, n + 1):
        for d in corpus.documents:
            new_id = f"{d.id}-x{i}"
            docs.append(replace(d, info=replace(d.info, id=new_id),
                                sections=tuple(replace(s, doc_id=new_id) for s in d.sections)))
    return Corpus(tuple(docs))


def stats_ms(seconds: list[float]) -> dict:
    """n, mean and p50/p95/p99 in milliseconds of a list of durations in seconds."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds) * 1000.0
    return {"n": len(ms), "mean_ms": round(float(ms.mean()), 2),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)}}


def dir_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (symlinks resolved once at the top)."""
    root = Path(os.path.realpath(path))
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())


def loglog_slope(xs, ys) -> float | None:
    """Slope of log(y) against log(x) (1 = linear growth); None without two positive points."""
    pts = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return round(float(np.polyfit(lx, ly, 1)[0]), 3)


def read_questions(path: Path, limit: int) -> list[str]:
    """The first ``limit`` questions of a JSONL gold file (only the "question" field is used)."""
    try:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except (OSError, ValueError) as exc:
        raise BenchError(f"无法读取问题集 {path}：{exc}") from None
    qs = [r["question"] for r in rows if isinstance(r, dict) and isinstance(r.get("question"), str)]
    if not qs:
        raise BenchError(f"问题集 {path} 中没有问题")
    return qs[:limit] if limit > 0 else qs
