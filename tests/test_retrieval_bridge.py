"""Vocabulary bridge, learned fusion and eval diagnostics (issue 12).

Unit tests on small inputs, then retrieval-quality checks with the real embedder on the real
plan (the session's shared index of the real plan).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag import fusion
from rag.bridge import BRIDGE_FILE, Bridge, plan_terms
from rag.config import load_settings
from rag.errors import ConfigError
from rag.evaluation.diagnostics import band, vocabulary_overlap


def test_plan_terms_are_words_and_quoted_names_not_numbers():
    terms = plan_terms(["推进“人人持证、技能社会”建设,原煤产量稳定在10亿吨左右。"])
    assert "人人持证、技能社会" in terms
    assert "原煤" in terms
    assert not any(t.isdigit() for t in terms)
    assert all(len(t) >= 2 for t in terms)


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_expand_skips_question_words_and_far_terms():
    terms = ["原煤", "山西能力", "托育", "煤炭"]
    vecs = np.stack([_unit([1, 0.1, 0]), _unit([1, 0.05, 0]), _unit([0, 0, 1]),
                     _unit([1, 0.3, 0])])
    bridge = Bridge(terms, vecs)
    exp = bridge.expand(["挖", "煤"], None, _unit([1, 0, 0]), known=lambda t: True,
                        per_query=5, min_cosine=0.9, question="山西挖煤")
    # 山西能力 contains the question's word 山西; 托育 is far from the question vector
    assert exp.tokens == ["原煤", "煤炭"]
    assert exp.to_json()["added_terms"][0]["term"] == "原煤"


def test_fusion_model_json_round_trip_scores_linearly():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, len(fusion.FEATURES)))
    y = (X[:, 0] > 0).astype(int)
    model = fusion.fit(X, y, meta={"note": "test"})
    again = fusion.FusionModel.from_json(json.loads(json.dumps(model.to_json())))
    assert np.allclose(model.score(X), again.score(X))
    assert again.meta["note"] == "test"
    assert model.coef[0] > 0  # the only informative column gets a positive weight


def test_shipped_fusion_model_matches_features_and_records_out_of_fold_figures():
    model = fusion.load_model()
    cv = model.meta["out_of_fold"]
    assert cv["grouped_by"] == "question" and cv["folds"] >= 2
    assert cv["learned"]["all"]["n"] == cv["rrf"]["all"]["n"] > 0


def test_missing_fusion_model_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        fusion.load_model(tmp_path / "none.json")


def test_fusion_setting_is_validated():
    with pytest.raises(ConfigError):
        load_settings(fusion="bogus")
    assert load_settings(fusion="rrf").fusion == "rrf"


def test_grouped_folds_keep_a_question_in_one_fold():
    groups = ["a", "a", "b", "c", "c", "c", "d", "e"]
    folds = fusion.grouped_folds(groups, k=3)
    for g in set(groups):
        assert len({f for f, gg in zip(folds, groups) if gg == g}) == 1


def test_vocabulary_overlap_separates_everyday_from_plan_wording():
    section = "合理控制煤炭开发规模,原煤产量稳定在10亿吨左右。"
    assert vocabulary_overlap("原煤产量稳定在多少？", [section]) > 0.6
    assert vocabulary_overlap("一年挖多少煤？", [section]) < 0.34
    assert band(0.1) == "low" and band(0.5) == "medium" and band(0.9) == "high"


# ----------------------------------------------------------- real plan, real embedder


def test_build_ships_bridge_terms(real_index_settings):
    import os
    from pathlib import Path

    root = Path(os.path.realpath(real_index_settings.index_dir))
    bridge = Bridge.load(root)
    assert (root / BRIDGE_FILE).exists() and len(bridge.terms) > 1000
    assert "原煤" in bridge.terms and bridge.vectors.shape[0] == len(bridge.terms)


def test_everyday_question_is_bridged_to_plan_terms(real_retriever):
    found = real_retriever.search_full("山西一年挖多少煤？", k=5)
    assert found.expansion is not None
    assert any("煤" in t for t in found.expansion.tokens)
    assert (real_retriever.index.sections[0].doc_id, 5, 1) in [h.key for h in found.hits]
    rows = real_retriever.explain(found)
    assert "matched_terms" in rows[0]["expansion"]


@pytest.mark.parametrize("question,chapter,section", [
    ("带娃太累，三岁以下的小孩有地方托管吗？", 13, 7),
    ("楼市会不会大起大落，房价稳不稳？", 8, 3),
    ("打官司请不起律师，老百姓能找谁帮忙？", 14, 2),
])
def test_learned_fusion_finds_everyday_questions(real_retriever, question, chapter, section):
    keys = [(h.chapter, h.section) for h in real_retriever.search(question, k=3)]
    assert (chapter, section) in keys


def test_rrf_stays_selectable(real_index_settings):
    from rag.retrieval import Retriever

    rrf = Retriever.from_settings(real_index_settings.model_copy(update={"fusion": "rrf"}))
    hits = rrf.search("到2025年5G基站要达到多少座？", k=3)
    assert (hits[0].chapter, hits[0].section) == (3, 1)
    assert hits[0].score < 1.0  # an RRF sum, not a logistic-regression margin
