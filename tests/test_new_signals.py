"""The round-3 signal comparison (rag.evaluation.new_signals) on small hand-made inputs."""

from __future__ import annotations

import numpy as np

from rag import fusion
from rag.evaluation.dataset import GoldQuestion
from rag.evaluation.new_signals import (
    KNN,
    SHAPE,
    SPARSE,
    adapt,
    fit_adapter,
    knn_columns,
    oof,
    shape_columns,
    sparse_columns,
)

A, B, C = ("d", 1, 1), ("d", 1, 2), ("d", 2, 1)


def test_adapter_learns_a_linear_map_and_strong_ridge_keeps_the_identity():
    rng = np.random.default_rng(0)
    Q = rng.normal(size=(200, 6))
    M = np.eye(6) + 0.3 * rng.normal(size=(6, 6))
    W = fit_adapter(Q, Q @ M, lam=0.0)
    assert np.allclose(W, M, atol=1e-8)
    assert np.allclose(fit_adapter(Q, Q @ M, lam=1e9), np.eye(6), atol=1e-4)
    v = adapt(Q[0], W)
    assert np.isclose(np.linalg.norm(v), 1.0)
    assert np.allclose(adapt(Q[0], W, alpha=0.0), Q[0] / np.linalg.norm(Q[0]))


def test_sparse_columns_pool_sentences_and_headings_per_section():
    scores = np.array([0.2, 0.6, 0.3, 0.5, 0.1])
    keys = [A, A, B, A, B]
    head = np.array([False, False, False, True, True])
    cols = sparse_columns(scores, keys, head, [A, B, C])
    assert cols.shape == (3, len(SPARSE))
    assert np.allclose(cols[0], [0.6, 1.0, 0.4, 0.5, 1.0, 1.0])
    assert np.allclose(cols[1], [0.3, 0.5, 0.3, 0.1, 0.2, 0.5])
    assert np.allclose(cols[2], 0.0)  # a section no unit came from


def test_shape_columns_describe_the_best_sentence_and_the_section():
    cos = np.array([0.5, 0.9, 0.88, 0.4])
    cols = shape_columns(cos, {A: [0, 1, 2], B: [3]}, np.array([10, 30, 5, 8]),
                         {A: 45, B: 8}, [A, B])
    assert cols.shape == (2, len(SHAPE))
    sec_len, n_sent, pos, first, best_len, mean, top2, near = cols[0]
    assert np.isclose(sec_len, np.log1p(45)) and np.isclose(n_sent, np.log(3))
    assert pos == 0.5 and first == 0.0 and np.isclose(best_len, np.log1p(30))
    assert np.isclose(mean, np.mean([0.5, 0.9, 0.88]) - 0.9)
    assert np.isclose(top2, 0.89 - 0.9) and near == 2
    assert cols[1][3] == 1.0 and cols[1][7] == 0  # one sentence: it is first; far from the best


def test_knn_columns_vote_with_the_nearest_questions_gold():
    pool = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0]])
    cols = knn_columns(np.array([1.0, 0.0]), pool, [(A,), (B,), (C,)], [A, B, C], k=2)
    assert cols.shape == (3, len(KNN))
    assert np.allclose(cols[:, 0], [1.0, 0.8, 0.0]) and list(cols[:, 1]) == [1.0, 0.0, 0.0]


def _rows(n=60, seed=1):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        cands = [A, B, C]
        gold = cands[i % 3]
        X = rng.normal(size=(3, len(fusion.FEATURES)))
        y = np.array([c == gold for c in cands], dtype=int)
        q = GoldQuestion(f"q{i}", "问题", (gold,), "", "", "everyday" if i % 2 else "fact", i)
        rows.append((q, cands, X, y))
    return rows


def test_oof_rewards_a_signal_that_separates_gold_and_only_that():
    rows = _rows()
    base = oof(rows, lambda i, train: (rows[i][1], rows[i][2], None), (), seeds=(0,))
    informative = oof(rows, lambda i, train: (rows[i][1], rows[i][2],
                                              rows[i][3][:, None].astype(float)), ("gold",),
                      seeds=(0,))
    assert informative["hit@1"] == 1.0 and informative["everyday_hit@1"] == 1.0
    assert base["hit@1"] < 0.7  # noise columns only: near chance (1/3)
