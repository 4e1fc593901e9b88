"""The benchmark's child-process tasks: ingest, naive baseline build, queries.

Each task runs in a fresh ``python -m rag.bench TASK PARAMS OUT`` process (rag/bench/__main__.py)
so that peak RSS and "cold" mean what they say; it returns a JSON-able dict that
:func:`child_main` writes to OUT. A RagError becomes one line on stderr and exit status 1.

Not handled here: starting the children (runner.py), the app under load (serving.py).
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path

from rag.bench.add import task_add
from rag.bench.measure import MODES, dir_size, replicate, stats_ms
from rag.config import load_settings
from rag.corpus import load_corpus
from rag.errors import RagError


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # KB on Linux


def _settings(p: dict):
    return load_settings(corpus_dir=p["corpus_dir"], data_dir=p["data_dir"], embedder=p["embedder"])


def task_ingest(p: dict) -> dict:
    """Cold build of the corpus ×scale into an empty data dir, then an unchanged re-ingest."""
    from rag.store import build_index

    settings = _settings(p)
    t = time.perf_counter()
    corpus = replicate(load_corpus(settings.corpus_dir), p["scale"])
    parse = time.perf_counter() - t
    rep = build_index(settings, corpus=corpus, progress=False,
                      use_shipped_cache=p.get("shipped", True))
    timings = {k: round(v + (parse if k in ("parse", "total") else 0.0), 3)
               for k, v in rep.timings.items()}
    rss = _rss_mb()
    t = time.perf_counter()
    warm = build_index(settings, corpus=replicate(load_corpus(settings.corpus_dir), p["scale"]),
                       progress=False)
    warm_s = time.perf_counter() - t
    build = settings.index_dir
    size = {"total": dir_size(build)}
    for part in ("chroma", "bm25"):
        if (build / part).exists():
            size[part] = dir_size(build / part)
    return {"scale": p["scale"], "shipped_cache": p.get("shipped", True), "timings": timings,
            "counts": rep.counts, "embedded": rep.embedded, "cached": rep.cached,
            "warm_s": round(warm_s, 4), "warm_skipped": warm.skipped, "peak_rss_mb": rss,
            "index_bytes": size}


def task_naive(p: dict) -> dict:
    """Cold build of the naive baseline (rag.evaluation.baseline.NaiveRetriever) into an empty data dir."""
    from rag.embeddings import get_embedder
    from rag.evaluation.baseline import NaiveRetriever

    settings = _settings(p)
    t = time.perf_counter()
    corpus = load_corpus(settings.corpus_dir)
    naive = NaiveRetriever(corpus, settings, get_embedder(settings.embedder), progress=False)
    return {"total_s": round(time.perf_counter() - t, 3), "nodes": naive.nodes,
            "embedded": naive.embedded, "peak_rss_mb": _rss_mb()}


def _profile_hybrid(retriever, questions: list[str], cpu: bool = False) -> dict:
    """Where a hybrid query's time goes: each question searched once with the retriever's own
    step clock (rag.hits.Steps), so the steps are the real query path and add up to its whole
    time; ``other`` is what lies outside the clocked steps (the call into ``search``)."""
    from rag.hits import Steps

    parts: dict[str, list[float]] = {}
    try:
        for q in questions:
            retriever.steps = steps = Steps(cpu=cpu)
            t = steps._now()
            retriever.search(q, mode="hybrid")
            whole = steps._now() - t
            for k, v in steps.seconds.items():
                parts.setdefault(k, []).append(v)
            parts.setdefault("other", []).append(max(0.0, whole - sum(steps.seconds.values())))
    finally:
        retriever.steps = None
    return {k: stats_ms(v) for k, v in parts.items()}


def task_query(p: dict) -> dict:
    """Retrieval latency per mode, a hybrid profile, answer latency and the naive baseline."""
    from rag.retrieval import Retriever

    settings = _settings(p)
    questions = p["questions"]
    t = time.perf_counter()
    retriever = Retriever.from_settings(settings)
    out: dict = {"scale": p["scale"], "open_s": round(time.perf_counter() - t, 3)}
    for q in questions[:5]:  # warm-up: weights paged in, Chroma and jieba caches filled
        for mode in MODES:
            retriever.search(q, mode=mode)
    out["retrieval"] = {}
    for mode in MODES:
        secs = []
        for q in questions:
            t = time.perf_counter()
            retriever.search(q, mode=mode)
            secs.append(time.perf_counter() - t)
        out["retrieval"][mode] = stats_ms(secs)
    try:  # uses the retriever's private steps: a refactor there must not sink the whole run
        out["hybrid_profile"] = _profile_hybrid(retriever, questions)
        out["hybrid_profile_cpu"] = _profile_hybrid(retriever, questions, cpu=True)
    except Exception as exc:
        out["hybrid_profile"] = {"error": f"{type(exc).__name__}: {exc}"}
    if p.get("answers"):
        out["answer"] = _answer_latency(settings, questions)
    if p.get("naive_dir"):
        from rag.evaluation.baseline import NaiveRetriever

        nset = settings.model_copy(update={"data_dir": Path(p["naive_dir"])})
        naive = NaiveRetriever(load_corpus(settings.corpus_dir), nset, retriever.embedder,
                               progress=False)
        for q in questions[:3]:
            naive.search(q)
        secs = []
        for q in questions:
            t = time.perf_counter()
            naive.search(q)
            secs.append(time.perf_counter() - t)
        out["naive_query"] = stats_ms(secs)
    out["peak_rss_mb"] = _rss_mb()
    return out


def _answer_latency(settings, questions: list[str]) -> dict:
    """Extractive answer latency through rag.answering.Pipeline (or why it could not run)."""
    try:
        from rag.answering import Pipeline
    except ImportError as exc:
        return {"error": f"rag.answering 不可用：{exc}"}
    pipeline = Pipeline.from_settings(settings.model_copy(update={"answerer": "extractive"}))
    for q in questions[:3]:
        pipeline.ask(q)
    secs, refused = [], 0
    for q in questions:
        t = time.perf_counter()
        ans = pipeline.ask(q)
        secs.append(time.perf_counter() - t)
        refused += bool(ans.refused)
    return {**stats_ms(secs), "refused": refused, "answerer": pipeline.answerer.name}


TASKS = {"ingest": task_ingest, "naive": task_naive, "query": task_query, "add": task_add}


def child_main(argv: list[str]) -> int:
    """``python -m rag.bench TASK PARAMS_JSON OUT``: run one task, write its JSON result to OUT."""
    task, params, out = argv
    try:
        res = TASKS[task](json.loads(params))
    except RagError as exc:  # one line for the parent's error message, no traceback
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    Path(out).write_text(json.dumps(res, ensure_ascii=False), encoding="utf-8")
    return 0
