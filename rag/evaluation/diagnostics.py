"""Evaluation diagnostics: vocabulary overlap of a question with its gold section, hit@1 by
overlap band, and the top sections of every miss with the signals that put them there.

The overlap is the share of the question's distinct BM25 tokens (rag.wordseg: jieba search
mode, stop words dropped) that also occur in the gold sections' text and headings. Everyday
wording (挖煤 for 原煤产量) scores low; a question copied from the plan scores high.
:func:`report_lines` renders both tables as Markdown for the eval report (one hook there).

Not handled here: running retrieval (runner.py) or computing the signals (rag.fusion).
"""

from __future__ import annotations

from typing import Iterable

from rag.wordseg import tokenize

BANDS = (("low", 0.0, 0.34), ("medium", 0.34, 0.67), ("high", 0.67, 1.01))


def vocabulary_overlap(question: str, section_texts: Iterable[str]) -> float:
    """Share of the question's distinct tokens found in the given section texts (0–1)."""
    q = set(tokenize(question))
    if not q:
        return 0.0
    vocab: set[str] = set()
    for text in section_texts:
        vocab.update(tokenize(text))
    return len(q & vocab) / len(q)


def band(overlap: float) -> str:
    """low / medium / high for an overlap value."""
    return next(name for name, lo, hi in BANDS if lo <= overlap < hi)


def hit1_by_band(records: list[dict], mode: str) -> dict[str, dict]:
    """``{band: {"n", "hit@1"}}`` over per-question records that carry an ``overlap``."""
    out: dict[str, list[float]] = {}
    for r in records:
        if r.get("overlap") is None or not r.get("gold"):
            continue
        hit = r["modes"][mode]["metrics"]["section"]["hit@1"]
        out.setdefault(band(r["overlap"]), []).append(hit)
    return {b: {"n": len(v), "hit@1": sum(v) / len(v)} for b, v in out.items()}
