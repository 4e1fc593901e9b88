"""Pseudo-relevance feedback for BM25 (RM3-style): terms of the top sections added with a weight.

The first pass (the RRF of the other lists) gives the top sections; each term of those sections
is weighted by ``Σ_d P(t|d)·w_d·idf(t)`` (``P(t|d)`` its share of the section's tokens, ``w_d``
the section's normalised first-pass score, ``idf`` over sections so that words every section
uses weigh little). The best terms the question does not already hold form the feedback
query; the retriever scores ``(1-λ)·BM25(question)/|question| + λ·Σ_t w_t·BM25(t)`` (the
interpolation of RM3, ``λ`` = ``prf_weight``).

Not handled here: BM25 scoring itself (retrieval.py, the index's bm25s model).
"""

from __future__ import annotations

import math
from collections import Counter

from rag.wordseg import tokenize


class Feedback:
    """Token counts of every section (built on first use) and the RM3 term selection."""

    def __init__(self, sections):
        self._sections = sections
        self._tf: dict | None = None
        self._idf: dict[str, float] = {}

    def _table(self) -> dict:
        if self._tf is None:
            self._tf = {s.key: Counter(tokenize(f"{s.heading_path}\n{s.text}"))
                        for s in self._sections}
            df: Counter = Counter()
            for counts in self._tf.values():
                df.update(counts.keys())
            n = len(self._tf)
            self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        return self._tf

    def terms(self, top: list[tuple[tuple, float]], exclude: set[str], n: int,
              known=lambda t: True) -> list[tuple[str, float]]:
        """The ``n`` feedback terms (2+ characters, known to BM25, not in ``exclude``) of the
        ``(section key, first-pass score)`` list, with weights summing to 1."""
        table = self._table()
        total = sum(w for _, w in top) or 1.0
        weight: Counter = Counter()
        for key, w in top:
            counts = table.get(key)
            if not counts:
                continue
            size = sum(counts.values())
            for t, c in counts.items():
                if len(t) >= 2 and t not in exclude:
                    weight[t] += c / size * (w / total) * self._idf.get(t, 0.0)
        best = [(t, w) for t, w in weight.most_common() if w > 0 and known(t)][:n]
        norm = sum(w for _, w in best) or 1.0
        return [(t, w / norm) for t, w in best]
