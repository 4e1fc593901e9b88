"""Learned fusion: a logistic regression over per-section retrieval signals.

For every candidate section of one question (the sections any ranked list returned) the
retriever computes the signals in :data:`FEATURES`: per list (dense sentences, dense chunks,
dense headings, BM25, BM25 of the bridge's expansion, and the optional lists: sentence
windows, BM25 with pseudo-relevance feedback, the dense query with the bridge's terms) the
score relative to that list's best and the reciprocal rank; the IDF-weighted share of the
question's tokens found in the section and in its headings; the share of the expansion terms
found in the section and the best cosine of one found; the share of the question's character
bigrams in the section title; the RRF score and its chapter's share of all RRF mass. A model
uses a subset of them (its ``features``; a list not computed gives zero columns). Sections
are ordered by ``w·z(x) + b`` with coefficients saved as JSON (eval/fusion.json, no pickle),
together with the index settings they were fitted for and their out-of-fold figures. The
coefficients come from a pointwise or a pairwise (gold minus other, per question) logistic
regression. Training and k-fold cross-validation (folds grouped by question, so a question is
never in both train and test) use scikit-learn, imported only there.

Not handled here: computing the ranked lists (retrieval.py) or the bridge (bridge.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT
from rag.errors import ConfigError

FUSION_FILE = PROJECT_ROOT / "eval" / "fusion.json"
BASE_LISTS = ("sent", "chunk", "head", "bm25", "bm25x")
# optional lists (settings): sentence windows, BM25 with pseudo-relevance feedback, the dense
# query of the question plus the bridge's terms
EXTRA_LISTS = ("win", "bm25p", "sentx")
LISTS = BASE_LISTS + EXTRA_LISTS


def _list_features(names) -> tuple[str, ...]:
    return tuple(f"{name}_{kind}" for name in names for kind in ("rel", "rr"))


BASE_FEATURES = _list_features(BASE_LISTS) + ("cov", "head_cov", "exp_cov", "rrf")
# every signal the retriever can compute; a model uses a subset (its ``features``)
FEATURES = BASE_FEATURES + _list_features(EXTRA_LISTS) + ("title_cov", "exp_best", "chap_rrf")


@dataclass(frozen=True)
class Signals:
    """The per-question inputs: each list as {section: score}, token sets, RRF scores."""

    lists: dict[str, dict]  # list name -> {section key: score}
    q_weights: dict[str, float]  # question token -> IDF weight
    exp_terms: tuple[str, ...]
    rrf: dict
    question: str = ""
    exp_cos: dict = field(default_factory=dict)  # expansion token -> best cosine of its term


def _ranks(scores: dict) -> dict:
    order = sorted(scores, key=lambda k: -scores[k])
    return {k: i + 1 for i, k in enumerate(order)}


def _list_columns(scores: dict, name: str, candidates: list) -> list[list[float]]:
    """The ``rel`` and ``rr`` columns of one ranked list."""
    ranks = _ranks(scores)
    top = max(scores.values()) if scores else 0.0
    floor = min(scores.values()) if scores else 0.0
    if name.startswith("bm25"):  # BM25 scores are unbounded: relative to the best
        rel = [scores.get(k, 0.0) / top if top > 0 else 0.0 for k in candidates]
    else:  # cosines: gap to the best, the list's floor for sections it did not return
        rel = [scores.get(k, floor) - top for k in candidates]
    return [rel, [1.0 / ranks[k] if k in ranks else 0.0 for k in candidates]]


def _bigrams(text: str) -> set[str]:
    chars = [c for c in text if c.isalnum()]
    return {a + b for a, b in pairwise(chars)}


def feature_matrix(sig: Signals, candidates: list, section_tokens, heading_tokens,
                   title_of=None) -> np.ndarray:
    """One row per candidate section, columns as :data:`FEATURES` (a list not computed gives
    zero columns).

    ``section_tokens(key)`` / ``heading_tokens(key)`` give the token sets of a section's text
    and of its heading path; ``title_of(key)`` its section title (for ``title_cov``, the share
    of the question's character bigrams in the title).
    """
    cols = [c for name in BASE_LISTS for c in _list_columns(sig.lists.get(name, {}), name,
                                                            candidates)]
    total = sum(sig.q_weights.values()) or 1.0
    exp = set(sig.exp_terms)
    cov, head_cov, exp_cov = [], [], []
    for k in candidates:
        toks, head = section_tokens(k), heading_tokens(k)
        cov.append(sum(w for t, w in sig.q_weights.items() if t in toks) / total)
        head_cov.append(sum(w for t, w in sig.q_weights.items() if t in head) / total)
        exp_cov.append(len(exp & toks) / len(exp) if exp else 0.0)
    cols += [cov, head_cov, exp_cov, [sig.rrf.get(k, 0.0) for k in candidates]]
    cols += [c for name in EXTRA_LISTS for c in _list_columns(sig.lists.get(name, {}), name,
                                                              candidates)]
    qgrams = _bigrams(sig.question)
    chap: dict = {}
    for k, v in sig.rrf.items():
        chap[k[:2]] = chap.get(k[:2], 0.0) + v
    total_rrf = sum(sig.rrf.values()) or 1.0
    title_cov, exp_best = [], []
    for k in candidates:
        title = _bigrams(title_of(k)) if title_of else set()
        title_cov.append(len(qgrams & title) / len(qgrams) if qgrams else 0.0)
        toks = section_tokens(k)
        exp_best.append(max((c for t, c in sig.exp_cos.items() if t in toks), default=0.0))
    cols += [title_cov, exp_best, [chap.get(k[:2], 0.0) / total_rrf for k in candidates]]
    return np.asarray(cols, dtype=np.float64).T


@dataclass(frozen=True)
class FusionModel:
    """Standardised linear coefficients over ``features`` (a subset of :data:`FEATURES`)."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict

    def columns(self) -> list[int]:
        return [FEATURES.index(f) for f in self.features]

    def score(self, X: np.ndarray) -> np.ndarray:
        """Scores of the rows of a full :data:`FEATURES` matrix."""
        return ((X[:, self.columns()] - self.mean) / self.scale) @ self.coef + self.intercept

    def lists(self) -> set[str]:
        """The optional lists (:data:`EXTRA_LISTS`) the model reads."""
        return {f.rsplit("_", 1)[0] for f in self.features} & set(EXTRA_LISTS)

    def to_json(self) -> dict:
        return {"features": list(self.features), "mean": self.mean.tolist(),
                "scale": self.scale.tolist(), "coef": self.coef.tolist(),
                "intercept": self.intercept, **self.meta}

    @classmethod
    def from_json(cls, d: dict) -> "FusionModel":
        meta = {k: v for k, v in d.items()
                if k not in ("features", "mean", "scale", "coef", "intercept")}
        return cls(tuple(d["features"]), np.asarray(d["mean"], dtype=np.float64),
                   np.asarray(d["scale"], dtype=np.float64), np.asarray(d["coef"], dtype=np.float64),
                   float(d["intercept"]), meta)


def load_model(path: Path | str | None = None) -> FusionModel:
    """The saved fusion model; a missing or foreign file is a ConfigError."""
    path = Path(path or FUSION_FILE)
    try:
        model = FusionModel.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"学习融合模型 {path} 无法读取（{type(exc).__name__}）："
                          "请改用 fusion = \"rrf\"，或重新训练") from None
    if not set(model.features) <= set(FEATURES):
        raise ConfigError(f"学习融合模型 {path} 的特征与当前版本不符：请重新训练或改用 rrf")
    return model


def fit(X: np.ndarray, y: np.ndarray, C: float = 1.0, meta: dict | None = None,
        features: tuple[str, ...] = BASE_FEATURES, groups=None) -> FusionModel:
    """Fit a balanced logistic regression on the standardised ``features`` columns of a full
    :data:`FEATURES` matrix (scikit-learn). With ``groups`` (one question id per row) it is
    pairwise instead: a logistic regression on the differences between each gold row and the
    other rows of its question (a RankNet-style linear ranker, no intercept)."""
    from sklearn.linear_model import LogisticRegression

    X = X[:, [FEATURES.index(f) for f in features]]
    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    Z = (X - mean) / scale
    if groups is not None:
        Z, y = _pairs(Z, y, np.asarray(groups))
    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000,
                            fit_intercept=groups is None)
    lr.fit(Z, y)
    return FusionModel(tuple(features), mean, scale, lr.coef_[0],
                       float(np.ravel(lr.intercept_)[0]) if groups is None else 0.0, meta or {})


def _pairs(Z: np.ndarray, y: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Gold-minus-other differences within each question, both signs (labels 1 and 0)."""
    diffs = []
    for g in dict.fromkeys(groups.tolist()):
        rows = np.flatnonzero(groups == g)
        pos, neg = rows[y[rows] == 1], rows[y[rows] == 0]
        for p in pos:
            diffs.append(Z[p] - Z[neg])
    D = np.vstack(diffs) if diffs else np.zeros((0, Z.shape[1]))
    return np.vstack([D, -D]), np.concatenate([np.ones(len(D)), np.zeros(len(D))])


def grouped_folds(groups: list[str], k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Fold index (0..k-1) per row: every row of one question (group) lands in the same fold."""
    from sklearn.model_selection import GroupKFold

    fold = np.zeros(len(groups), dtype=int)
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for i, (_, test) in enumerate(splitter.split(np.zeros(len(groups)), groups=groups)):
        fold[test] = i
    return fold
