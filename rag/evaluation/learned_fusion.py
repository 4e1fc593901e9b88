"""Fit the learned fusion on a gold dataset and report it out-of-fold against RRF.

For every answerable question the retriever computes its per-section signals once
(:meth:`rag.retrieval.Retriever.signals`); a section is a positive when it is gold. k-fold
cross-validation is grouped by question (all candidate rows of a question are in one fold), so
every reported figure is out-of-fold: the model that ranks a question never saw it. RRF is
scored on the same candidates. The final model is fitted on all questions and written as JSON
(eval/fusion.json) with the index settings it was fitted for and the out-of-fold figures.

Run: ``python -m rag.evaluation.learned_fusion [--data-dir D] [--dataset F] [--folds 5]``.
``--variant`` picks the signals and model (:data:`VARIANTS`); ``--compare`` computes every
optional signal once and prints every variant's out-of-fold figures, by type and overlap band.

Not handled here: scoring at query time (rag.fusion, rag.retrieval).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from rag import fusion
from rag.config import load_settings
from rag.corpus import load_corpus
from rag.errors import ConfigError
from rag.evaluation.dataset import DEFAULT_DATASET, file_sha256, load_dataset
from rag.evaluation.diagnostics import band
from rag.evaluation.metrics import mean_metrics, question_metrics
from rag.evaluation.runner import retrieval_query

INDEX_FIELDS = ("embedder", "chunk_tokens", "chunk_overlap", "prefix_dense", "prefix_bm25",
                "rrf_k", "weight_sentence", "weight_chunk", "weight_bm25", "weight_heading",
                "depth_sentences", "depth_chunks", "depth_headings", "depth_bm25", "bridge",
                "bridge_terms", "bridge_min_cosine", "sentence_windows", "depth_windows",
                "prf_sections", "prf_terms", "prf_weight", "bridge_dense")


def collect(retriever, questions) -> list[tuple]:
    """(question, candidates, X, y) for every answerable question; a row with history is
    retrieved as its follow-up rewrite, the query the pipeline and the eval use."""
    rows = []
    for q in questions:
        if not q.answerable:
            continue
        candidates, X, *_ = retriever.signals(retrieval_query(q))
        gold = set(q.gold)
        rows.append((q, candidates, X, np.array([c in gold for c in candidates], dtype=int)))
    return rows


def _summary(rows, rankings) -> dict:
    """Per question type, per vocabulary-overlap band (``band:low`` …) and overall."""
    per_type: dict[str, list] = {}
    for (q, *_), ranked in zip(rows, rankings):
        m = question_metrics(ranked, q.gold, [1, 3, 5, 10])["section"]
        per_type.setdefault(q.type, []).append(m)
        per_type.setdefault("all", []).append(m)
        if q.overlap is not None:
            per_type.setdefault(f"band:{band(q.overlap)}", []).append(m)
    keep = ("n", "hit@1", "hit@5", "mrr@10")
    return {t: {k: v for k, v in mean_metrics(ms).items() if k in keep}
            for t, ms in sorted(per_type.items())}


def _fit(rows, idx, C: float, features, kind: str):
    """A model over the rows ``idx``: ``lr`` / ``pairwise`` (rag.fusion.fit) or ``hgb``
    (scikit-learn's HistGradientBoostingClassifier: compared out-of-fold, not saved)."""
    X = np.vstack([rows[i][2] for i in idx])
    y = np.concatenate([rows[i][3] for i in idx])
    if kind == "hgb":
        from sklearn.ensemble import HistGradientBoostingClassifier

        cols = [fusion.FEATURES.index(f) for f in features]
        hgb = HistGradientBoostingClassifier(max_iter=200, learning_rate=0.05, max_leaf_nodes=15,
                                             class_weight="balanced", random_state=0)
        hgb.fit(X[:, cols], y)
        return lambda Xq: hgb.decision_function(Xq[:, cols])
    groups = np.concatenate([[i] * len(rows[i][3]) for i in idx]) if kind == "pairwise" else None
    return fusion.fit(X, y, C=C, features=features, groups=groups).score


def cross_validate(rows, folds: int = 5, C: float = 1.0, seed: int = 0,
                   features=fusion.BASE_FEATURES, kind: str = "lr") -> dict:
    """Out-of-fold figures of the learned fusion and of RRF on the same candidates."""
    groups = [q.id for q, *_ in rows]  # one row per question: its candidates stay together
    fold_of = fusion.grouped_folds(groups, folds, seed)
    learned: list = [None] * len(rows)
    for f in range(folds):
        score = _fit(rows, [i for i in range(len(rows)) if fold_of[i] != f], C, features, kind)
        for i in range(len(rows)):
            if fold_of[i] == f:
                scores = score(rows[i][2])
                learned[i] = [rows[i][1][j] for j in np.argsort(-scores, kind="stable")]
    rrf_col = fusion.FEATURES.index("rrf")
    rrf = [[c[j] for j in np.argsort(-X[:, rrf_col], kind="stable")] for _, c, X, _ in rows]
    return {"folds": folds, "grouped_by": "question", "seed": seed, "model": kind,
            "features": list(features), "learned": _summary(rows, learned),
            "rrf": _summary(rows, rrf)}


def _with(*names) -> tuple[str, ...]:
    return fusion.BASE_FEATURES + tuple(f for f in fusion.FEATURES if f.rsplit("_", 1)[0] in names
                                        or f in names)


# variant -> (features, model kind); compared out-of-fold on the same candidates (--compare)
VARIANTS = {"base (round 1)": (fusion.BASE_FEATURES, "lr"),
            "+ sentence windows": (_with("win"), "lr"),
            "+ PRF BM25": (_with("bm25p"), "lr"),
            "+ bridge dense query": (_with("sentx"), "lr"),
            "+ title/bridge/chapter signals": (_with("title_cov", "exp_best", "chap_rrf"), "lr"),
            "all signals": (fusion.FEATURES, "lr"),
            "all signals, pairwise": (fusion.FEATURES, "pairwise"),
            "all signals, HGB": (fusion.FEATURES, "hgb")}


DEFAULT_VARIANT = "base (round 1)"
# the settings that compute every optional list (for --compare)
ALL_LISTS_ON = {"sentence_windows": True, "prf_sections": 3, "bridge_dense": True}


def compare(rows, folds: int = 5, C: float = 1.0, names=None) -> dict:
    """Out-of-fold figures of the :data:`VARIANTS` entries ``names`` (default all) and of RRF,
    on the same rows."""
    out = {name: cross_validate(rows, folds, C, features=f, kind=k)["learned"]
           for name, (f, k) in VARIANTS.items() if names is None or name in names}
    return {"rrf": cross_validate(rows, folds, C)["rrf"], **out}


def _rows(settings, dataset):
    from rag.retrieval import Retriever

    retriever = Retriever.from_settings(settings.model_copy(update={"fusion": "rrf"}))
    return collect(retriever, load_dataset(dataset, load_corpus(settings.corpus_dir)))


def train(settings, dataset: Path | str, folds: int = 5, C: float = 1.0,
          variant: str = DEFAULT_VARIANT) -> dict:
    """Collect signals, cross-validate, fit on everything; returns the JSON to save."""
    features, kind = VARIANTS[variant]
    if kind == "hgb":
        raise ConfigError("HGB 只用于交叉验证比较，不能保存为 JSON 模型")
    rows = _rows(settings, dataset)
    cv = cross_validate(rows, folds, C, features=features, kind=kind)
    groups = np.concatenate([[i] * len(r[3]) for i, r in enumerate(rows)]) \
        if kind == "pairwise" else None
    model = fusion.fit(np.vstack([r[2] for r in rows]), np.concatenate([r[3] for r in rows]), C=C,
                       features=features, groups=groups)
    meta = {"model": f"{'pairwise ' if groups is not None else ''}logistic regression "
                     "(scikit-learn, class_weight=balanced)", "variant": variant, "C": C,
            "dataset": {"path": str(dataset), "sha256": file_sha256(dataset),
                        "questions": len(rows)},
            "index_settings": {f: getattr(settings, f) for f in INDEX_FIELDS},
            "out_of_fold": cv}
    return fusion.FusionModel(model.features, model.mean, model.scale, model.coef,
                              model.intercept, meta).to_json()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="训练学习融合模型（按题分组的 k 折交叉验证）")
    ap.add_argument("--data-dir")
    ap.add_argument("--dataset", default=str(DEFAULT_DATASET))
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--C", type=float, default=1.0)
    ap.add_argument("--variant", default=DEFAULT_VARIANT,
                    choices=[n for n, (_, kind) in VARIANTS.items() if kind != "hgb"])
    ap.add_argument("--compare", action="store_true",
                    help="只比较所有变体的交叉验证结果（开启全部可选信号），不写模型")
    ap.add_argument("--out", default=str(fusion.FUSION_FILE))
    args = ap.parse_args(argv)
    if args.compare:
        settings = load_settings(data_dir=args.data_dir, **ALL_LISTS_ON)
        out = compare(_rows(settings, args.dataset), args.folds, args.C)
        json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    settings = load_settings(data_dir=args.data_dir)
    out = train(settings, args.dataset, args.folds, args.C, args.variant)
    Path(args.out).write_text(json.dumps(out, ensure_ascii=False, indent=1, default=str) + "\n",
                              encoding="utf-8")
    json.dump(out["out_of_fold"], sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
