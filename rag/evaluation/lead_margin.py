"""Out-of-fold choice of the first-citation margin (rag.extractive.LEAD_MARGIN).

The extractive answer cites first the best in-scope sentence of retrieval's top section, unless
another section's best sentence scores LEAD_MARGIN or more above it. For every answerable
question of a gold set that is answered (for a multi-part question, its first part) this
collects whether retrieval's top section and the best-scoring sentence's section are gold,
and the score lead of that sentence over the top section's best; then it picks the margin that
maximises "first cited section gold" on k−1 folds and scores it on the held-out fold, k times.

``python -m rag.evaluation.lead_margin [--dataset FILE] [--folds 5]`` prints the in-sample
curve, the fold choices and the out-of-fold figure as JSON.

Not handled here: the answer itself (rag.extractive), the other thresholds (rag.refusal).
"""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from rag.answering import Pipeline
from rag.config import load_settings
from rag.corpus import load_corpus
from rag.evaluation.dataset import DEFAULT_DATASET, load_dataset

GRID = sorted({0.0, 9.0} | {round(x, 3) for x in np.arange(0.005, 0.2, 0.005)})


def collect(pipeline: Pipeline, questions) -> list[dict]:
    """Per answered question: top section gold, best sentence's section gold, the lead."""
    answerer = pipeline.answerer
    rows = []
    for q in questions:
        if not q.answerable:
            continue
        query = answerer.prepare(q.question, list(q.history) or None)
        if query.parts:
            query = next((p for p in query.parts if not p.refused), query)
        if query.refused or query.more or not query.hits:
            continue
        cands = answerer.candidates(query)
        if not cands:
            continue
        typed = [x for x in cands[:answerer.settings.scope_top] if x.in_scope]
        best = typed[0] if typed else cands[0]
        top = query.hits[0].key
        in_top = next((x for x in cands if x.hit.key == top
                       and answerer.in_scope(query.standalone, x)), None)
        gold = set(q.gold)
        rows.append({"id": q.id, "best_gold": best.hit.key in gold, "top_gold": top in gold,
                     "same": best.hit.key == top,
                     "lead": None if in_top is None else best.score - in_top.score})
    return rows


def first_gold(rows: list[dict], margin: float) -> float:
    """Share of rows whose first citation is gold when the top section keeps it below ``margin``."""
    def gold(r: dict) -> bool:
        keeps_top = not r["same"] and r["lead"] is not None and r["lead"] < margin
        return r["top_gold"] if keeps_top else r["best_gold"]
    return sum(gold(r) for r in rows) / max(1, len(rows))


def cross_validate(rows: list[dict], folds: int = 5, seed: int = 0) -> dict:
    """Margins chosen on k−1 folds (ties: the smaller), scored on the held-out fold."""
    idx = np.random.default_rng(seed).permutation(len(rows))
    hits, chosen = 0.0, []
    for part in np.array_split(idx, folds):
        test = set(part.tolist())
        train = [rows[i] for i in range(len(rows)) if i not in test]
        m = max(GRID, key=lambda m: (first_gold(train, m), -m))
        chosen.append(m)
        hits += sum(first_gold([rows[i]], m) for i in test)
    return {"folds": folds, "margins": chosen, "first_cited_gold_oof": round(hits / max(1, len(rows)), 4),
            "in_sample_best": max(GRID, key=lambda m: (first_gold(rows, m), -m))}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.evaluation.lead_margin",
                                 description="首条引用节的分数领先阈值：k 折交叉验证（折外）")
    ap.add_argument("--dataset", default=str(DEFAULT_DATASET), help="金标集（默认 dev.jsonl）")
    ap.add_argument("--folds", type=int, default=5, help="折数（默认 5）")
    args = ap.parse_args(argv)
    settings = load_settings()
    pipeline = Pipeline.from_settings(settings, answerer="extractive")
    rows = collect(pipeline, load_dataset(args.dataset, load_corpus(settings.corpus_dir)))
    out = {"n": len(rows), "differ": sum(not r["same"] for r in rows),
           "curve": {str(m): round(first_gold(rows, m), 4) for m in GRID[:12] + [9.0]},
           **cross_validate(rows, args.folds)}
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
