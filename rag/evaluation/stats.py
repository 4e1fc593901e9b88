"""Uncertainty for the evaluation's figures: bootstrap intervals and paired tests between modes.

- :func:`bootstrap_ci`: percentile bootstrap 95% interval of a mean over questions (fixed seed,
  so a report is reproducible); the interval of a proportion on n questions.
- :func:`mcnemar`: exact McNemar test (two-sided binomial on the discordant pairs, scipy) for a
  0/1 metric of two systems on the same questions.
- :func:`paired_bootstrap`: interval and two-sided p-value of the mean difference of a
  continuous metric (MRR, nDCG) on the same questions.
- :func:`uncertainty`: all of the above for an evaluation's per-question records, plus the
  groups (types, chapters) with fewer than :data:`SMALL_GROUP` questions.

Not handled here: computing the per-question metrics (metrics.py, answers.py, runner.py).
"""

from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np

RESAMPLES = 2000
SEED = 18
SMALL_GROUP = 30  # fewer questions than this: the group's figure is flagged as unreliable
HEADLINE = ("hit@1", "hit@5", "mrr@10", "ndcg@10")
BINARY = ("hit@1", "hit@5")
ANSWER_FIELDS = {"citation_precision": "precision", "first_cited_gold": "first_gold",
                 "citation_recall": "recall",
                 "key_number_match": "numbers", "keys_match": "keys", "answer_f1": "f1",
                 "evidence_coverage": "evidence_coverage", "direct_correct": "direct_correct"}


def _rng() -> np.random.Generator:
    return np.random.default_rng(SEED)


def bootstrap_ci(values: Sequence[float], level: float = 0.95) -> list[float] | None:
    """[low, high] percentile-bootstrap interval of the mean; None for no values."""
    x = np.asarray([v for v in values if v is not None], dtype=float)
    if not len(x):
        return None
    idx = _rng().integers(0, len(x), size=(RESAMPLES, len(x)))
    means = x[idx].mean(axis=1)
    a = (1 - level) / 2
    return [float(np.quantile(means, a)), float(np.quantile(means, 1 - a))]


def mcnemar(a: Sequence[float], b: Sequence[float]) -> dict:
    """Exact McNemar test of two 0/1 lists on the same questions.

    ``b_only`` counts questions only the second system gets right; p is two-sided.
    """
    from scipy.stats import binomtest

    a_only = int(sum(1 for x, y in zip(a, b) if x and not y))
    b_only = int(sum(1 for x, y in zip(a, b) if y and not x))
    n = a_only + b_only
    p = 1.0 if n == 0 else float(binomtest(b_only, n, 0.5).pvalue)
    return {"test": "mcnemar-exact", "a_only": a_only, "b_only": b_only, "p": p}


def paired_bootstrap(a: Sequence[float], b: Sequence[float], level: float = 0.95) -> dict:
    """Mean of b - a with a bootstrap interval and a two-sided p-value (share of resamples
    whose difference has the other sign, doubled)."""
    d = np.asarray(b, dtype=float) - np.asarray(a, dtype=float)
    if not len(d):
        return {"test": "paired-bootstrap", "diff": None, "ci": None, "p": None}
    idx = _rng().integers(0, len(d), size=(RESAMPLES, len(d)))
    means = d[idx].mean(axis=1)
    diff = float(d.mean())
    if not d.any():
        p = 1.0
    else:
        p = min(1.0, 2 * min(float((means <= 0).mean()), float((means >= 0).mean())))
    al = (1 - level) / 2
    return {"test": "paired-bootstrap", "diff": diff,
            "ci": [float(np.quantile(means, al)), float(np.quantile(means, 1 - al))], "p": p}


def compare_lists(a: Sequence[float], b: Sequence[float], metric: str) -> dict:
    """Difference b - a with its interval; McNemar for 0/1 metrics, paired bootstrap otherwise."""
    out = paired_bootstrap(a, b)
    if metric in BINARY or set(a) | set(b) <= {0.0, 1.0}:
        out = out | {k: v for k, v in mcnemar(a, b).items()}
    return out


def _section_values(questions, per_q, mode: str, metric: str) -> list[float]:
    return [r["modes"][mode]["metrics"]["section"][metric]
            for q, r in zip(questions, per_q) if q.answerable]


def uncertainty(questions, per_q: list[dict], modes: Sequence[str], summary: dict) -> dict:
    """Intervals for every headline metric, paired tests between modes, small groups."""
    first = next((r for q, r in zip(questions, per_q) if q.answerable), None)
    metrics = [m for m in HEADLINE
               if first is not None and m in first["modes"][modes[0]]["metrics"]["section"]]
    out = {"level": 0.95, "resamples": RESAMPLES, "seed": SEED,
           "retrieval": {mode: {m: bootstrap_ci(_section_values(questions, per_q, mode, m))
                                for m in metrics} for mode in modes},
           "paired": [], "small_groups": []}
    for a, b in combinations(modes, 2):
        for m in metrics:
            res = compare_lists(_section_values(questions, per_q, a, m),
                                _section_values(questions, per_q, b, m), m)
            out["paired"].append({"a": a, "b": b, "metric": m} | res)
    recs = [(q, r["answer"]) for q, r in zip(questions, per_q) if "answer" in r]
    if recs:
        ans = {name: bootstrap_ci([r.get(f) for q, r in recs if q.answerable])
               for name, f in ANSWER_FIELDS.items()}
        ans["keys_match"] = bootstrap_ci([r.get("keys") for _, r in recs])
        ans["direct_correct"] = bootstrap_ci([r.get("direct_correct") for _, r in recs])
        ans["refusal_accuracy"] = bootstrap_ci([float(r["refused"]) for q, r in recs
                                                if not q.answerable])
        ans["false_refusal_rate"] = bootstrap_ci([float(r["refused"]) for q, r in recs
                                                  if q.answerable])
        out["answers"] = ans
    if modes:
        sec = summary[modes[0]]["section"]
        for kind in ("by_type", "by_chapter"):
            out["small_groups"] += [{"group": kind, "name": g, "n": v["n"]}
                                    for g, v in sec[kind].items() if v["n"] < SMALL_GROUP]
    return out
