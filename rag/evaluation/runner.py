"""Running the evaluation: every mode on every question, answer records, summaries.

Modes are the retriever's bm25, dense and hybrid, plus ``naive`` (baseline.py). Unanswerable
questions are excluded from retrieval metrics. With ``answers=True`` the answering pipeline is
run too: citation precision/recall, refusal accuracy on unanswerable questions, false refusals,
key-number match. :func:`evaluate` returns the results dict and, given ``out_dir``, writes it.

Not handled here: writing report files and plots (report.py), the ``eval`` CLI (rag/cli/evaluate.py).
"""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from rag import __version__
from rag.config import MODES as RETRIEVER_MODES
from rag.config import Settings
from rag.corpus import load_corpus
from rag.evaluation import diagnostics
from rag.evaluation.baseline import NAIVE_CHUNK_SIZE, NAIVE_OVERLAP, NaiveRetriever
from rag.evaluation.dataset import TYPES, DatasetError, GoldQuestion, file_sha256, load_dataset
from rag.evaluation.metrics import (DEFAULT_KS, DEPTH, Key, dedupe, key_numbers, mean_metrics,
                                    percentile, question_metrics)

# the retriever's modes (rag.config.MODES) in report order, plus the naive LlamaIndex recipe
MODES = RETRIEVER_MODES + ("naive",)
_MARKER = re.compile(r"\[\d+\]")


def _rank(mode: str, question: str, retriever, naive, depth: int) -> tuple[list[Key], float]:
    t = time.perf_counter()
    if mode == "naive":
        keys = naive.search(question, depth)
    else:
        keys = [h.key for h in retriever.search(question, k=depth, mode=mode)]
    return keys, time.perf_counter() - t


def answer_record(q: GoldQuestion, answer) -> dict:
    """Per-question answer metrics for one rag.answering.Answer."""
    cited = dedupe(c.key for c in answer.citations)
    rec = {"refused": bool(answer.refused), "cited": [list(c) for c in cited],
           "text": answer.text}
    if not q.answerable:
        return rec
    gold = set(q.gold)
    rec["precision"] = (sum(c in gold for c in cited) / len(cited)) if cited else None
    rec["recall"] = 0.0 if answer.refused else len(gold & set(cited)) / len(gold)
    nums = key_numbers(q.answer)
    if nums:
        # [n] citation markers are not numbers the answer states
        found = set(key_numbers(_MARKER.sub("", answer.text))) if not answer.refused else set()
        rec["numbers"] = sum(n in found for n in nums) / len(nums)
    return rec


def answer_summary(questions: list[GoldQuestion], records: list[dict],
                   seconds: list[float]) -> dict:
    """Aggregate answer metrics; precision over answers that cite, recall over answerable."""
    ans = [(q, r) for q, r in zip(questions, records) if q.answerable]
    una = [r for q, r in zip(questions, records) if not q.answerable]
    prec = [r["precision"] for _, r in ans if r.get("precision") is not None]
    nums = [r["numbers"] for _, r in ans if "numbers" in r]

    def avg(xs):
        return float(np.mean(xs)) if xs else None

    return {
        "citation_precision": avg(prec), "citation_recall": avg([r["recall"] for _, r in ans]),
        "refusal_accuracy": avg([float(r["refused"]) for r in una]),
        "false_refusal_rate": avg([float(r["refused"]) for _, r in ans]),
        "key_number_match": avg(nums), "key_number_all": avg([float(x == 1.0) for x in nums]),
        "n_answerable": len(ans), "n_unanswerable": len(una), "n_cited": len(prec),
        "n_with_numbers": len(nums),
        "latency_ms": {"p50": percentile(seconds, 50) * 1000,
                       "p95": percentile(seconds, 95) * 1000},
    }


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


def worst_types(questions, per_q, summary, mode: str, n: int = 3) -> list[dict]:
    """The n question types with the lowest section hit@5 (MRR breaks ties), each with a miss."""
    by_type = summary[mode]["section"]["by_type"]
    metric = "hit@5" if "hit@5" in next(iter(by_type.values()), {}) else f"mrr@{DEPTH}"
    ranked = sorted(by_type, key=lambda t: (by_type[t][metric], by_type[t][f"mrr@{DEPTH}"]))
    out = []
    for t in ranked[:n]:
        rows = [(q, r) for q, r in zip(questions, per_q) if q.type == t]
        q, r = min(rows, key=lambda qr: qr[1]["modes"][mode]["metrics"]["section"][f"mrr@{DEPTH}"])
        out.append({"type": t, "metric": metric, "value": by_type[t][metric],
                    "mrr": by_type[t][f"mrr@{DEPTH}"], "n": by_type[t]["n"],
                    "example": {"id": q.id, "question": q.question, "gold": r["gold_labels"],
                                "top3": r["modes"][mode]["labels"][:3]}})
    return out


def _settings_snapshot(settings: Settings) -> dict:
    snap = settings.model_dump(mode="json")
    for secret in ("llm_api_key", "app_password"):
        if snap.get(secret):
            snap[secret] = "***"
    return snap


def evaluate(dataset: Path | str, settings: Settings, *, modes: Sequence[str] = MODES,
             ks: Sequence[int] = DEFAULT_KS, answers: bool = False,
             out_dir: Path | str | None = None, progress: bool = True,
             limit: int | None = None) -> dict:
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
    naive = NaiveRetriever(corpus, settings, retriever.embedder, progress) \
        if "naive" in modes else None
    labels = {(s.doc_id, s.chapter, s.section): s.label for s in corpus.sections}
    curve_ks = sorted(set(range(1, DEPTH + 1)) | set(ks))

    pipeline = None
    if answers:
        from rag.answering import Pipeline

        pipeline = Pipeline.from_settings(settings)
    for mode in modes:  # first calls load jieba, Chroma segments, ONNX sessions: not latency
        _rank(mode, questions[0].question if questions else "规划", retriever, naive, depth)
    per_q, ans_records, ans_secs = [], [], []
    for q in tqdm(questions, desc="评测", unit="题", disable=not progress, file=sys.stderr):
        rec = {"id": q.id, "question": q.question, "type": q.type,
               "gold": [list(k) for k in q.gold], "gold_labels": [labels[k] for k in q.gold],
               "modes": {}}
        for mode in modes:
            keys, secs = _rank(mode, q.question, retriever, naive, depth)
            m = question_metrics(keys, q.gold, curve_ks) if q.answerable else {}
            rec["modes"][mode] = {"ranked": [list(k) for k in keys], "seconds": secs,
                                  "labels": [labels.get(k, str(k)) for k in keys], "metrics": m}
        if pipeline is not None:
            t = time.perf_counter()
            answer = pipeline.ask(q.question)
            ans_secs.append(time.perf_counter() - t)
            rec["answer"] = answer_record(q, answer)
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
        "modes": list(modes), "ks": ks, "curve_ks": curve_ks, "depth": depth,
        "naive": ({"nodes": naive.nodes, "chunk_size": NAIVE_CHUNK_SIZE,
                   "chunk_overlap": NAIVE_OVERLAP, "embedded_now": naive.embedded}
                  if naive else None),
        "retrieval": summary,
        "worst_types": {"mode": focus, "types": worst_types(questions, per_q, summary, focus)}
        if any(q.answerable for q in questions) else None,
        "answers": (answer_summary(questions, ans_records, ans_secs)
                    | {"answerer": pipeline.answerer.name,
                       "refusal_threshold": getattr(pipeline.answerer, "threshold", None)})
        if pipeline else None,
        "diagnostics": diag,
        "chapter_titles": {str(c): t for d in corpus.documents for c, t in d.chapters().items()},
    }
    if out_dir is not None:
        from rag.evaluation.report import write_report

        write_report(results, per_q, Path(out_dir))
    return results
