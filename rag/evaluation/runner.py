"""Running the evaluation: every mode on every question, answer records, summaries.

Modes are the retriever's bm25, dense and hybrid, plus ``naive`` (baseline.py). Unanswerable
questions are excluded from retrieval metrics. With ``answers=True`` the answering pipeline is
run too (rows with ``history`` as follow-ups, after one untimed warm-up question): citation
precision/recall, refusals, key quantities, keys, character F1 (answers.py). Rows with history
are retrieved with the follow-up rewrite (rag.followup) the pipeline would use. Every failure is
collected (failures.py) and every headline figure gets an interval and paired tests (stats.py).
:func:`evaluate` returns the results dict and, given ``out_dir``, writes it.

Not handled here: writing report files and plots (report.py), the ``eval`` CLI (rag/cli/evaluate.py).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from rag import __version__
from rag.config import MODES as RETRIEVER_MODES
from rag.config import Settings
from rag.corpus import load_corpus
from rag.evaluation import failures
from rag.evaluation.answers import answer_record, answer_summary
from rag.evaluation import diagnostics
from rag.evaluation.baseline import NAIVE_CHUNK_SIZE, NAIVE_OVERLAP, NaiveRetriever
from rag.evaluation.dataset import TYPES, DatasetError, GoldQuestion, file_sha256, load_dataset
from rag.evaluation.metrics import (DEFAULT_KS, DEPTH, Key, mean_metrics, percentile,
                                    question_metrics)
from rag.evaluation.stats import uncertainty

# the retriever's modes (rag.config.MODES) in report order, plus the naive LlamaIndex recipe
MODES = RETRIEVER_MODES + ("naive",)


def _rank(mode: str, question: str, retriever, naive, depth: int) -> tuple[list[Key], float]:
    t = time.perf_counter()
    if mode == "naive":
        keys = naive.search(question, depth)
    else:
        keys = [h.key for h in retriever.search(question, k=depth, mode=mode)]
    return keys, time.perf_counter() - t


def retrieval_query(q: GoldQuestion) -> str:
    """What retrieval is scored on: the question, or its follow-up rewrite given the history."""
    if not q.history:
        return q.question
    from rag.followup import rewrite_followup

    return rewrite_followup(q.question, list(q.history)).standalone


def summarize(questions: list[GoldQuestion], per_q: list[dict], modes: Sequence[str]) -> dict:
    """Mode → level → overall / by_type / by_chapter means, plus latency."""
    out = {}
    for mode in modes:
        secs = [r["modes"][mode]["seconds"] for r in per_q]
        entry = {"latency_ms": {"p50": percentile(secs, 50) * 1000,
                                "p95": percentile(secs, 95) * 1000,
                                "mean": float(np.mean(secs)) * 1000 if secs else float("nan")}}
        for level in ("section", "chapter"):
            rows = [(q, r["modes"][mode]["metrics"][level])
                    for q, r in zip(questions, per_q) if q.answerable]
            by_type = {t: mean_metrics([m for q, m in rows if q.type == t])
                       for t in TYPES if any(q.type == t for q, _ in rows)}
            chapters = sorted({c for q, _ in rows for _, c in q.gold_chapters})
            by_chapter = {str(c): mean_metrics([m for q, m in rows
                                                if c in {cc for _, cc in q.gold_chapters}])
                          for c in chapters}
            entry[level] = {"overall": mean_metrics([m for _, m in rows]),
                            "by_type": by_type, "by_chapter": by_chapter}
        out[mode] = entry
    return out


def _calibration(settings: Settings, dataset: Path | str) -> dict | None:
    """Where the refusal threshold came from, and whether it was tuned on this dataset."""
    import json

    from rag.refusal import CALIBRATION_FILE, DEFAULT_CALIBRATION

    if settings.refusal_threshold:
        return {"source": "settings", "same_dataset": None}
    local = Path(settings.data_dir) / CALIBRATION_FILE
    path = local if local.exists() else DEFAULT_CALIBRATION
    try:
        info = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    tuned = info.get("dataset")
    same = None if not tuned else Path(tuned).name == Path(dataset).name
    return {"source": str(path), "dataset": tuned, "same_dataset": same,
            "created": info.get("created")}


def _breakdown(ks: Sequence[int]) -> str:
    """The cut-off of breakdowns and misses: hit@5 when asked for, else the largest k ≤ 10."""
    return "hit@5" if 5 in ks else f"hit@{max([k for k in ks if k <= DEPTH] or [min(ks)])}"


def _settings_snapshot(settings: Settings) -> dict:
    snap = settings.model_dump(mode="json")
    for secret in ("llm_api_key", "app_password"):
        if snap.get(secret):
            snap[secret] = "***"
    return snap


def evaluate(dataset: Path | str, settings: Settings, *, modes: Sequence[str] = MODES,
             ks: Sequence[int] = DEFAULT_KS, answers: bool = False,
             out_dir: Path | str | None = None, progress: bool = True,
             limit: int | None = None, only_ids: Sequence[str] | None = None) -> dict:
    """Run the suite on one dataset and (if ``out_dir``) write the report files.

    Args:
        dataset: a JSONL gold file.
        settings: the index to evaluate (its data_dir also holds the naive baseline's cache).
        modes: any of bm25, dense, hybrid, naive.
        ks: cut-offs for hit@k and recall@k.
        answers: also run the answering pipeline and score answers.
        out_dir: where report.md, results.json, per_question.csv and the plots go.
        progress: show progress bars.
        limit: only the first N questions (quick looks).
        only_ids: only these question ids (a fixed subset, e.g. a committed baseline's).

    Raises:
        DatasetError: unreadable or invalid dataset; RagError from the index or answerer.
    """
    from tqdm.auto import tqdm

    from rag.retrieval import Retriever

    bad_modes = [m for m in modes if m not in MODES]
    if bad_modes or not modes:
        raise DatasetError(f"未知评测模式 {', '.join(bad_modes) or '（空）'}；"
                           f"可用：{', '.join(MODES)}")
    if not ks or any(k < 1 for k in ks):
        raise DatasetError("--k 应为正整数列表，如 1,3,5,10")
    ks = sorted(set(ks))
    depth = max(DEPTH, ks[-1])
    retriever = Retriever.from_settings(settings)
    corpus = load_corpus(settings.corpus_dir)
    if corpus.content_hash != retriever.index.manifest.corpus_hash:
        raise DatasetError("索引与当前语料不一致：请先运行 python -m rag ingest")
    questions = load_dataset(dataset, corpus)[:limit]
    if only_ids is not None:
        wanted = set(only_ids)
        questions = [q for q in questions if q.id in wanted]
    naive = NaiveRetriever(corpus, settings, retriever.embedder, progress) \
        if "naive" in modes else None
    labels = {(s.doc_id, s.chapter, s.section): s.label for s in corpus.sections}
    curve_ks = sorted(set(range(1, DEPTH + 1)) | set(ks))

    pipeline = None
    if answers:
        from rag.answering import Pipeline

        pipeline = Pipeline.from_settings(settings)
    warm = questions[0].question if questions else "规划"
    for mode in modes:  # first calls load jieba, Chroma segments, ONNX sessions: not latency
        _rank(mode, warm, retriever, naive, depth)
    if pipeline is not None:
        pipeline.ask(warm)  # the first answer loads the sentence scorer: not latency either
    per_q, ans_records, ans_secs = [], [], []
    for q in tqdm(questions, desc="评测", unit="题", disable=not progress, file=sys.stderr):
        query = retrieval_query(q)
        rec = {"id": q.id, "question": q.question, "type": q.type,
               "gold": [list(k) for k in q.gold], "gold_labels": [labels[k] for k in q.gold],
               "reference": q.answer, "keys": list(q.keys), "modes": {}}
        if q.history:
            rec["history"], rec["retrieval_query"] = list(q.history), query
        for mode in modes:
            keys, secs = _rank(mode, query, retriever, naive, depth)
            m = question_metrics(keys, q.gold, curve_ks) if q.answerable else {}
            rec["modes"][mode] = {"ranked": [list(k) for k in keys], "seconds": secs,
                                  "labels": [labels.get(k, str(k)) for k in keys], "metrics": m,
                                  "rank": failures.gold_rank(keys, q.gold)}
        if pipeline is not None:
            t = time.perf_counter()
            answer = pipeline.ask(q.question, history=list(q.history) or None)
            ans_secs.append(time.perf_counter() - t)
            rec["answer"] = answer_record(q, answer, labels)
            rec["answer"]["answerer"] = answer.answerer
            ans_records.append(rec["answer"])
        per_q.append(rec)

    summary = summarize(questions, per_q, modes)
    focus = "hybrid" if "hybrid" in modes else modes[0]
    diag = diagnostics.collect(retriever, questions, per_q, {s.key: s for s in corpus.sections},
                               focus, labels) if focus == "hybrid" else None
    types = {t: sum(q.type == t for q in questions) for t in TYPES}
    results = {
        "package_version": __version__, "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "dataset": {"path": str(dataset), "sha256": file_sha256(dataset), "rows": len(questions),
                    "answerable": sum(q.answerable for q in questions), "types": types},
        "settings": _settings_snapshot(settings),
        "index": {"build_id": retriever.index.manifest.build_id,
                  "embedder": retriever.index.manifest.embedder,
                  "corpus_hash": retriever.index.manifest.corpus_hash,
                  "counts": retriever.index.manifest.counts},
        "modes": list(modes), "ks": ks, "breakdown": _breakdown(ks), "mrr_cut": DEPTH,
        "curve_ks": curve_ks, "depth": depth,
        "naive": ({"nodes": naive.nodes, "chunk_size": NAIVE_CHUNK_SIZE,
                   "chunk_overlap": NAIVE_OVERLAP, "embedded_now": naive.embedded}
                  if naive else None),
        "retrieval": summary,
        "uncertainty": uncertainty(questions, per_q, modes, summary),
        "failures": failures.collect(questions, per_q, focus),
        "weakest": failures.weakest(questions, per_q, summary, focus, _breakdown(ks))
        if any(q.answerable for q in questions) else None,
        "answers": (answer_summary(questions, ans_records, ans_secs)
                    | {"answerer": pipeline.answerer.name,
                       "refusal_threshold": getattr(pipeline.answerer, "threshold", None),
                       "calibration": _calibration(settings, dataset)})
        if pipeline else None,
        "diagnostics": diag,
        "chapter_titles": {str(c): t for d in corpus.documents for c, t in d.chapters().items()},
    }
    if out_dir is not None:
        from rag.evaluation.report import write_report

        write_report(results, per_q, Path(out_dir))
    results["questions"] = per_q
    return results
