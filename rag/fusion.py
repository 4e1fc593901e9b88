"""Learned fusion: a logistic regression over per-section retrieval signals.

For every candidate section of one question (the sections any ranked list returned) the
retriever computes the signals in :data:`FEATURES`: per list (dense sentences, dense chunks,
dense headings, BM25, BM25 of the bridge's expansion) the score relative to that list's best
and the reciprocal rank; the IDF-weighted share of the question's tokens found in the section
and in its headings; the share of the expansion terms found in the section; the RRF score.
Sections are ordered by ``w·z(x) + b`` with coefficients saved as JSON (eval/fusion.json,
no pickle), together with the index settings they were fitted for and their out-of-fold
figures. Training and k-fold cross-validation (folds grouped by question, so a question is
never in both train and test) use scikit-learn, imported only there.

Not handled here: computing the ranked lists (retrieval.py) or the bridge (bridge.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT
from rag.errors import ConfigError

FUSION_FILE = PROJECT_ROOT / "eval" / "fusion.json"
LISTS = ("sent", "chunk", "head", "bm25", "bm25x")
FEATURES = tuple(f"{name}_{kind}" for name in LISTS for kind in ("rel", "rr")) + (
    "cov", "head_cov", "exp_cov", "rrf")


@dataclass(frozen=True)
class Signals:
    """The per-question inputs: each list as {section: score}, token sets, RRF scores."""

    lists: dict[str, dict]  # list name -> {section key: score}
    q_weights: dict[str, float]  # question token -> IDF weight
    exp_terms: tuple[str, ...]
    rrf: dict


def _ranks(scores: dict) -> dict:
    order = sorted(scores, key=lambda k: -scores[k])
    return {k: i + 1 for i, k in enumerate(order)}


def feature_matrix(sig: Signals, candidates: list, section_tokens, heading_tokens) -> np.ndarray:
    """One row per candidate section, columns as :data:`FEATURES`.

    ``section_tokens(key)`` / ``heading_tokens(key)`` give the token sets of a section's text
    and of its heading path.
    """
    cols = []
    for name in LISTS:
        scores = sig.lists.get(name, {})
        ranks = _ranks(scores)
        top = max(scores.values()) if scores else 0.0
        floor = min(scores.values()) if scores else 0.0
        if name.startswith("bm25"):  # BM25 scores are unbounded: relative to the best
            rel = [scores.get(k, 0.0) / top if top > 0 else 0.0 for k in candidates]
        else:  # cosines: gap to the best, the list's floor for sections it did not return
            rel = [scores.get(k, floor) - top for k in candidates]
        cols += [rel, [1.0 / ranks[k] if k in ranks else 0.0 for k in candidates]]
    total = sum(sig.q_weights.values()) or 1.0
    exp = set(sig.exp_terms)
    cov, head_cov, exp_cov = [], [], []
    for k in candidates:
        toks, head = section_tokens(k), heading_tokens(k)
        cov.append(sum(w for t, w in sig.q_weights.items() if t in toks) / total)
        head_cov.append(sum(w for t, w in sig.q_weights.items() if t in head) / total)
        exp_cov.append(len(exp & toks) / len(exp) if exp else 0.0)
    cols += [cov, head_cov, exp_cov, [sig.rrf.get(k, 0.0) for k in candidates]]
    return np.asarray(cols, dtype=np.float64).T


@dataclass(frozen=True)
class FusionModel:
    """Standardised logistic-regression coefficients over :data:`FEATURES`."""

    features: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    meta: dict

    def score(self, X: np.ndarray) -> np.ndarray:
        return ((X - self.mean) / self.scale) @ self.coef + self.intercept

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
    if model.features != FEATURES:
        raise ConfigError(f"学习融合模型 {path} 的特征与当前版本不符：请重新训练或改用 rrf")
    return model


def fit(X: np.ndarray, y: np.ndarray, C: float = 1.0, meta: dict | None = None) -> FusionModel:
    """Fit a balanced logistic regression on standardised features (scikit-learn)."""
    from sklearn.linear_model import LogisticRegression

    mean, scale = X.mean(axis=0), X.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    lr = LogisticRegression(C=C, class_weight="balanced", max_iter=2000)
    lr.fit((X - mean) / scale, y)
    return FusionModel(FEATURES, mean, scale, lr.coef_[0], float(lr.intercept_[0]), meta or {})


def grouped_folds(groups: list[str], k: int = 5, seed: int = 0) -> list[np.ndarray]:
    """Fold index (0..k-1) per row: every row of one question (group) lands in the same fold."""
    from sklearn.model_selection import GroupKFold

    fold = np.zeros(len(groups), dtype=int)
    splitter = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    for i, (_, test) in enumerate(splitter.split(np.zeros(len(groups)), groups=groups)):
        fold[test] = i
    return fold
