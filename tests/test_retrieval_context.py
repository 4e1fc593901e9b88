"""Sentence windows, pseudo-relevance feedback and the wider learned fusion (issue 12, round 2).

Unit tests on small inputs (no index, no embedder).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pytest

from rag import fusion
from rag.config import load_settings
from rag.errors import ConfigError
from rag.prf import Feedback
from rag.windows import Windows, build_windows, window_texts, window_units


@dataclass(frozen=True)
class _Sent:
    id: str
    key: tuple
    ordinal: int
    text: str


@dataclass(frozen=True)
class _Sec:
    key: tuple
    heading_path: str
    text: str


def _sentences():
    a, b = ("d", 1, 1), ("d", 1, 2)
    return [_Sent("a0", a, 0, "甲。"), _Sent("a1", a, 1, "乙。"), _Sent("a2", a, 2, "丙。"),
            _Sent("b0", b, 0, "丁。")]


def test_windows_join_neighbours_within_a_section_only():
    units = window_units(_sentences())
    assert [(uid, text) for uid, _, text in units] == [
        ("a0", "甲。乙。"), ("a1", "甲。乙。丙。"), ("a2", "乙。丙。"), ("b0", "丁。")]
    assert window_texts(_sentences(), radius=0) == ["甲。", "乙。", "丙。", "丁。"]


def test_windows_round_trip_and_rank_by_cosine_with_a_filter(tmp_path):
    vecs = {"甲。乙。": [1, 0], "甲。乙。丙。": [0.8, 0.6], "乙。丙。": [0, 1], "丁。": [0.9, 0.1]}
    n = build_windows(tmp_path, _sentences(), lambda texts: np.array([vecs[t] for t in texts]))
    win = Windows.load(tmp_path)
    assert n == 4 and win.ids == ["a0", "a1", "a2", "b0"]
    assert win.keys[3] == ("d", 1, 2)
    top = win.top([1.0, 0.0], 2)
    assert [uid for _, _, uid in top] == ["a0", "b0"]
    only_b = win.top([1.0, 0.0], 5, allowed=lambda key: key[2] == 2)
    assert [uid for _, _, uid in only_b] == ["b0"]
    assert Windows.load(tmp_path / "none") is None


def test_feedback_terms_come_from_top_sections_and_skip_the_question():
    sections = [_Sec(("d", 1, 1), "医疗", "推进医疗卫生服务，建设医疗联合体，推进分级诊疗。"),
                _Sec(("d", 1, 2), "交通", "建设高速公路，推进铁路建设。"),
                _Sec(("d", 1, 3), "能源", "推进煤炭清洁利用。")]
    fb = Feedback(sections)
    terms = fb.terms([(("d", 1, 1), 1.0)], exclude={"看病"}, n=3)
    assert terms and abs(sum(w for _, w in terms) - 1.0) < 1e-9
    assert all(t not in {"看病"} and len(t) >= 2 for t, _ in terms)
    words = [t for t, _ in terms]
    assert "医疗" in words and "推进" not in words  # 推进 is in every section: idf ≈ 0
    assert fb.terms([(("d", 1, 1), 1.0)], exclude={"医疗"}, n=5, known=lambda t: t != "诊疗")
    assert "医疗" not in dict(fb.terms([(("d", 1, 1), 1.0)], exclude={"医疗"}, n=5))


def _full_matrix(rng, n):
    return rng.normal(size=(n, len(fusion.FEATURES)))


def test_model_over_a_feature_subset_scores_a_full_matrix():
    rng = np.random.default_rng(1)
    X = _full_matrix(rng, 60)
    col = fusion.FEATURES.index("win_rel")
    y = (X[:, col] > 0).astype(int)
    model = fusion.fit(X, y, features=fusion.BASE_FEATURES + ("win_rel", "win_rr"))
    again = fusion.FusionModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.allclose(model.score(X), again.score(X))
    assert again.lists() == {"win"}
    assert model.coef[model.features.index("win_rel")] > 0


def test_pairwise_fit_ranks_by_the_informative_column():
    rng = np.random.default_rng(2)
    X = _full_matrix(rng, 80)
    groups = np.repeat(np.arange(8), 10)
    col = fusion.FEATURES.index("chap_rrf")
    y = np.zeros(80, dtype=int)
    for g in range(8):  # the row with the largest chap_rrf of each question is its gold
        rows = np.flatnonzero(groups == g)
        y[rows[np.argmax(X[rows, col])]] = 1
    model = fusion.fit(X, y, features=fusion.FEATURES, groups=groups)
    assert model.intercept == 0.0
    assert model.coef[fusion.FEATURES.index("chap_rrf")] == max(model.coef)


def test_compare_scores_every_variant_out_of_fold_on_the_same_questions():
    from types import SimpleNamespace

    from rag.evaluation.learned_fusion import VARIANTS, compare

    rng = np.random.default_rng(4)
    rows = []
    for i in range(12):  # the gold section of each question has the largest chap_rrf
        cands = [("d", i, j) for j in range(6)]
        X = _full_matrix(rng, 6)
        y = (np.arange(6) == np.argmax(X[:, fusion.FEATURES.index("chap_rrf")])).astype(int)
        q = SimpleNamespace(id=f"q{i}", type="everyday" if i % 2 else "fact",
                            overlap=0.1 if i % 2 else None,
                            gold=(cands[int(np.argmax(y))],))
        rows.append((q, cands, X, y))
    names = [n for n, (_, kind) in VARIANTS.items() if kind != "hgb"]  # HGB: slow, not saved
    out = compare(rows, folds=3, names=names)
    assert set(out) == {"rrf", *names}
    assert all(v["all"]["n"] == 12 and v["everyday"]["n"] == 6 for v in out.values())
    assert out["all signals"]["band:low"]["n"] == 6
    # only the variants that see chap_rrf can learn the rule
    assert out["all signals"]["all"]["hit@1"] > out["base (round 1)"]["all"]["hit@1"]


def test_model_with_unknown_features_is_a_config_error(tmp_path):
    path = tmp_path / "m.json"
    path.write_text(json.dumps({"features": ["nope"], "mean": [0], "scale": [1], "coef": [1],
                                "intercept": 0}), encoding="utf-8")
    with pytest.raises(ConfigError):
        fusion.load_model(path)


def test_new_settings_are_validated():
    with pytest.raises(ConfigError):
        load_settings(prf_weight=1.5)
    s = load_settings(prf_sections=3, sentence_windows=True)
    assert s.prf_sections == 3 and s.sentence_windows


# ----------------------------------------------------------- real plan, real embedder


def test_optional_lists_enter_the_signals(real_index_settings):
    from rag.retrieval import Retriever

    r = Retriever.from_settings(real_index_settings.model_copy(
        update={"fusion": "rrf", "prf_sections": 3, "bridge_dense": True}))
    _, X, lists, _, expansion = r.signals("看病又贵又难，老百姓有什么盼头？")
    assert {"bm25p", "sentx"} <= set(lists) and "win" not in lists
    assert expansion is not None and expansion.tokens
    for f in ("bm25p_rr", "sentx_rr"):  # each list's best section is a candidate
        assert X[:, fusion.FEATURES.index(f)].max() == 1.0
    assert X[:, fusion.FEATURES.index("win_rr")].max() == 0.0


def test_model_needing_a_list_that_is_off_is_a_config_error(real_index_settings, tmp_path):
    from rag.retrieval import Retriever

    rng = np.random.default_rng(3)
    X = _full_matrix(rng, 40)
    model = fusion.fit(X, (X[:, 0] > 0).astype(int),
                       features=fusion.BASE_FEATURES + ("bm25p_rel", "bm25p_rr"))
    path = tmp_path / "prf.json"
    path.write_text(json.dumps(model.to_json()), encoding="utf-8")
    r = Retriever.from_settings(real_index_settings.model_copy(update={"fusion_model": path}))
    with pytest.raises(ConfigError, match="bm25p"):
        r.search("山西一年挖多少煤？")


def test_ingest_with_sentence_windows_feeds_the_window_list(tiny_corpus, tmp_path):
    from rag.retrieval import Retriever
    from rag.store import Index, build_index

    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data",
                             sentence_windows=True, fusion="rrf")
    report = build_index(settings, progress=False)
    index = Index(settings)
    windows = Windows.load(index.root)
    assert windows is not None and len(windows.ids) == report.counts["sentences"]
    r = Retriever(index, settings)
    question = index.sections[-1].text[:12]
    _, X, lists, *_ = r.signals(question)
    assert "win" in lists and X[:, fusion.FEATURES.index("win_rr")].max() == 1.0
