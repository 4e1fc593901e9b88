"""Intervals and paired tests (rag.evaluation.stats) and run comparison (rag.evaluation.compare),
checked against hand computations and scipy's own tests on small made-up score lists."""

from __future__ import annotations

import json

import pytest

from rag.evaluation import bootstrap_ci, mcnemar, paired_bootstrap
from rag.evaluation.compare import CompareError, compare_runs, load_results, regressions, slim


def test_bootstrap_interval_contains_the_mean_and_shrinks_with_n():
    small = [1.0] * 30 + [0.0] * 4  # refusal accuracy 0.88 on 34 questions
    lo, hi = bootstrap_ci(small)
    assert lo < 30 / 34 < hi
    assert 0.74 < lo < 0.80 and 0.96 < hi <= 1.0  # the issue's [0.76, 0.97], up to resampling
    lo2, hi2 = bootstrap_ci(small * 10)
    assert hi2 - lo2 < (hi - lo) / 2  # 10× the questions: interval about √10 narrower
    assert bootstrap_ci([1.0, 1.0]) == [1.0, 1.0]
    assert bootstrap_ci([]) is None
    assert bootstrap_ci(small) == [lo, hi]  # fixed seed: reproducible


def test_mcnemar_counts_discordant_pairs_and_matches_binomial():
    from scipy.stats import binomtest

    a = [1] * 10 + [1] * 2 + [0] * 9 + [0] * 5
    b = [1] * 10 + [0] * 2 + [1] * 9 + [0] * 5
    r = mcnemar(a, b)
    assert (r["a_only"], r["b_only"]) == (2, 9)
    assert r["p"] == pytest.approx(binomtest(9, 11, 0.5).pvalue)
    assert r["p"] == pytest.approx(2 * sum(__import__("math").comb(11, k) for k in range(3)) / 2 ** 11)
    assert mcnemar([1, 0], [1, 0])["p"] == 1.0


def test_paired_bootstrap_difference_and_sign():
    a = [0.5, 0.25, 1.0, 0.0, 0.5] * 8
    b = [1.0, 0.5, 1.0, 0.5, 0.5] * 8
    r = paired_bootstrap(a, b)
    assert r["diff"] == pytest.approx(0.25)  # (0.5 + 0.25 + 0 + 0.5 + 0) / 5
    assert 0 < r["ci"][0] < 0.25 < r["ci"][1] and r["p"] < 0.01
    same = paired_bootstrap(a, a)
    assert same["diff"] == 0.0 and same["p"] == 1.0


def _run(hits: dict[str, list[float]], created: str, failed=None) -> dict:
    """A results dict in the shape evaluate() returns, for the given per-question hit@5."""
    ids = sorted({i for v in hits.values() for i in range(len(v))})
    qs = []
    for i in ids:
        modes = {m: {"rank": 1 if v[i] else None, "labels": ["第一章 第一节 x"],
                     "metrics": {"section": {"hit@1": v[i], "hit@5": v[i], "mrr@10": v[i],
                                             "ndcg@10": v[i]}}} for m, v in hits.items()}
        qs.append({"id": f"q{i}", "question": f"问{i}", "gold": [["d", 1, 1]],
                   "gold_labels": ["第一章 第一节 x"], "modes": modes,
                   "failed": bool(failed and failed[i]), "failure_reasons": []})
    return {"created": created, "modes": list(hits), "dataset": {"path": "x", "sha256": "s"},
            "settings": {"weight_bm25": 1.0 if created == "old" else 0.5}, "questions": qs}


def test_compare_lists_deltas_and_flipped_questions():
    old = _run({"hybrid": [1, 1, 0, 0, 1] * 6}, "old")
    new = _run({"hybrid": [1, 0, 1, 1, 1] * 6}, "new")
    cmp = compare_runs(old, new)
    row = next(r for r in cmp["retrieval"] if r["metric"] == "hit@5")
    assert row["old"] == pytest.approx(0.6) and row["new"] == pytest.approx(0.8)
    assert row["diff"] == pytest.approx(0.2) and row["test"] == "mcnemar-exact"
    assert (row["fixed"], row["broken"]) == (12, 6)
    fl = cmp["flips"]["hybrid"]
    assert [f["id"] for f in fl["broken"]] == [f"q{i}" for i in range(1, 30, 5)]
    assert len(fl["fixed"]) == 12 and fl["fixed"][0]["new_rank"] == 1
    assert cmp["settings_changed"] == {"weight_bm25": [1.0, 0.5]}
    assert regressions(cmp, 0.0) == []
    back = compare_runs(new, old)
    assert [r["metric"] for r in regressions(back, 0.1)] == ["hit@1", "hit@5", "mrr@10", "ndcg@10"]


def test_compare_cli_writes_files_and_fails_on_regression(tmp_path, capsys):
    from rag.cli import main

    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_run({"bm25": [1, 1, 1, 0]}, "old")), encoding="utf-8")
    new.write_text(json.dumps(slim(_run({"bm25": [1, 0, 1, 0]}, "new"))), encoding="utf-8")
    out = tmp_path / "cmp"
    assert main(["eval", "--compare", str(old), str(new), "--out", str(out)]) == 0
    md = (out / "compare.md").read_text(encoding="utf-8")
    assert "改坏 `q1` 问1" in md and "gold 名次 1 → —" in md
    assert json.loads((out / "compare.json").read_text(encoding="utf-8"))["paired_questions"] == 4
    capsys.readouterr()
    assert main(["eval", "--compare", str(old), str(new), "--tolerance", "0.1"]) == 1
    assert "退步：bm25 hit@5 0.750 → 0.500" in capsys.readouterr().err


def test_compare_refuses_files_that_are_not_results(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(CompareError, match="缺少 questions"):
        load_results(bad)
    with pytest.raises(CompareError, match="无法读取"):
        load_results(tmp_path / "missing.json")
    with pytest.raises(CompareError, match="没有相同 id"):
        compare_runs(_run({"bm25": [1]}, "old"), {**_run({"bm25": [1]}, "new"), "questions": []})
