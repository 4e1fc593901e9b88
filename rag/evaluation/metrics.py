"""Retrieval metrics with binary relevance, and the small statistics the reports use.

hit@k, recall@k, MRR@10 and nDCG@10 of one ranking against a gold set, at section level and at
chapter level (the ranked sections' chapters, deduplicated in ranking order); per-metric means;
and percentiles.

Not handled here: reading datasets (dataset.py), running retrieval (runner.py).
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np

DEFAULT_KS = (1, 3, 5, 10)
DEPTH = 10  # retrieved sections per question; MRR and nDCG are cut here too
Key = tuple[str, int, int]  # (doc_id, chapter, section)


def dedupe(items: Iterable) -> list:
    """Items in first-seen order, each once."""
    seen, out = set(), []
    for x in items:
        if x not in seen:
            seen.add(x)
            out.append(x)
    return out


def hit_at_k(ranked: Sequence, gold: set, k: int) -> float:
    """1.0 if any gold item is among the first k ranked items, else 0.0."""
    return 1.0 if any(x in gold for x in ranked[:k]) else 0.0


def recall_at_k(ranked: Sequence, gold: set, k: int) -> float:
    """Fraction of the gold items found among the first k ranked items."""
    if not gold:
        raise ValueError("recall needs at least one gold item")
    return len(gold & set(ranked[:k])) / len(gold)


def reciprocal_rank(ranked: Sequence, gold: set, k: int = DEPTH) -> float:
    """1/rank of the first gold item within the first k, 0.0 if none."""
    for i, x in enumerate(ranked[:k], start=1):
        if x in gold:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence, gold: set, k: int = DEPTH) -> float:
    """nDCG@k with binary relevance; the ideal ranking puts every gold item first."""
    if not gold:
        raise ValueError("nDCG needs at least one gold item")
    dcg = sum(1.0 / math.log2(i + 1) for i, x in enumerate(ranked[:k], start=1) if x in gold)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(gold), k) + 1))
    return dcg / ideal


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default); NaN for no values."""
    return float(np.percentile(values, q)) if len(values) else float("nan")


def question_metrics(ranked: Sequence[Key], gold: Iterable[Key],
                     ks: Sequence[int] = DEFAULT_KS) -> dict[str, dict[str, float]]:
    """Section- and chapter-level metrics of one ranking against one question's gold.

    Chapter level ranks the sections' chapters deduplicated in ranking order, so a chapter
    counts once, at its best position.
    """
    ranked = dedupe(ranked)
    gold = set(gold)
    levels = {"section": (ranked, gold),
              "chapter": (dedupe((d, c) for d, c, _ in ranked), {(d, c) for d, c, _ in gold})}
    out: dict[str, dict[str, float]] = {}
    for level, (r, g) in levels.items():
        m = {f"hit@{k}": hit_at_k(r, g, k) for k in ks}
        m.update({f"recall@{k}": recall_at_k(r, g, k) for k in ks})
        m[f"mrr@{DEPTH}"] = reciprocal_rank(r, g, DEPTH)
        m[f"ndcg@{DEPTH}"] = ndcg_at_k(r, g, DEPTH)
        out[level] = m
    return out


def mean_metrics(rows: list[dict[str, float]]) -> dict[str, float]:
    """Per-metric mean over questions, plus ``n``."""
    if not rows:
        return {"n": 0}
    out = {name: float(np.mean([r[name] for r in rows])) for name in rows[0]}
    out["n"] = len(rows)
    return out
