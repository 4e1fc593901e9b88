"""Evaluation suite: metric functions by hand, the dataset validator, an end-to-end run."""

from __future__ import annotations

import csv
import json
import math

import pytest

from rag.config import PROJECT_ROOT
from rag.corpus import SectionRef, load_corpus
from rag.evaluation import (DatasetError, GoldQuestion, check_dataset, dedupe, hit_at_k,
                            key_numbers, ndcg_at_k, question_metrics, recall_at_k,
                            reciprocal_rank, summarize)

DATASETS = PROJECT_ROOT / "eval" / "datasets"
D = "shanxi-14th-fyp"


@pytest.fixture(scope="module")
def real_corpus():
    return load_corpus(PROJECT_ROOT / "corpus")


# ------------------------------------------------------------------ metrics


def test_hit_and_recall_with_several_gold():
    ranked = ["a", "b", "c", "d"]
    gold = {"c", "x"}
    assert [hit_at_k(ranked, gold, k) for k in (1, 2, 3, 4)] == [0.0, 0.0, 1.0, 1.0]
    assert recall_at_k(ranked, gold, 2) == 0.0
    assert recall_at_k(ranked, gold, 3) == 0.5
    assert recall_at_k(["x", "c"], gold, 2) == 1.0


def test_reciprocal_rank_is_first_gold_within_cutoff():
    assert reciprocal_rank(["a", "b", "c"], {"b", "c"}) == 0.5
    assert reciprocal_rank(["a", "b", "c"], {"z"}) == 0.0  # no hit
    assert reciprocal_rank(["a"] * 10 + ["g"], {"g"}, k=10) == 0.0  # beyond the cut-off
    assert reciprocal_rank([], {"g"}) == 0.0


def test_ndcg_binary_by_hand():
    # gold at ranks 2 and 3 of 2 relevant: (1/log2 3 + 1/log2 4) / (1 + 1/log2 3)
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(["a", "g1", "g2"], {"g1", "g2"}) == pytest.approx(expected)
    assert ndcg_at_k(["g1", "g2"], {"g1", "g2"}) == pytest.approx(1.0)
    assert ndcg_at_k(["a", "b"], {"g"}) == 0.0
    # more gold than the cut-off: the ideal is capped at k
    assert ndcg_at_k(["g1"], {"g1", "g2", "g3"}, k=1) == pytest.approx(1.0)


def test_ties_keep_returned_order_and_duplicates_count_once():
    # two sections that tied in score: whichever the retriever returned first holds rank 1
    m = question_metrics([(D, 1, 2), (D, 1, 1)], [(D, 1, 1)], ks=(1, 2))
    assert m["section"]["hit@1"] == 0.0 and m["section"]["mrr@10"] == 0.5
    # a section repeated in a ranking (naive nodes) counts once, at its first rank
    m = question_metrics([(D, 1, 2), (D, 1, 2), (D, 1, 1)], [(D, 1, 1)], ks=(2,))
    assert m["section"]["hit@2"] == 1.0


def test_chapter_level_dedupes_chapters_in_ranking_order():
    ranked = [(D, 3, 1), (D, 3, 2), (D, 5, 0), (D, 2, 4)]
    gold = [(D, 2, 1), (D, 5, 2)]
    m = question_metrics(ranked, gold, ks=(1, 2, 3))
    # sections: no gold at all
    assert m["section"]["hit@3"] == 0.0 and m["section"]["mrr@10"] == 0.0
    # chapters ranked 3, 5, 2: chapter 5 at rank 2, chapter 2 at rank 3
    assert m["chapter"]["hit@1"] == 0.0 and m["chapter"]["hit@2"] == 1.0
    assert m["chapter"]["recall@2"] == 0.5 and m["chapter"]["recall@3"] == 1.0
    assert m["chapter"]["mrr@10"] == 0.5
    expected = (1 / math.log2(3) + 0.5) / (1 + 1 / math.log2(3))
    assert m["chapter"]["ndcg@10"] == pytest.approx(expected)


def test_unanswerable_questions_are_excluded_from_retrieval_means():
    qa = GoldQuestion("q1", "问", ((D, 1, 1),), "", "x", "fact", 1)
    qu = GoldQuestion("q2", "问", (), "", "", "unanswerable", 2)
    per_q = [{"modes": {"dense": {"seconds": 0.01,
                                  "metrics": question_metrics([(D, 1, 1)], qa.gold, (1,))}}},
             {"modes": {"dense": {"seconds": 0.03, "metrics": {}}}}]
    s = summarize([qa, qu], per_q, ["dense"])
    assert s["dense"]["section"]["overall"] == {"hit@1": 1.0, "recall@1": 1.0, "mrr@10": 1.0,
                                                "ndcg@10": 1.0, "n": 1}
    assert set(s["dense"]["section"]["by_type"]) == {"fact"}
    assert s["dense"]["section"]["by_chapter"]["1"]["n"] == 1
    # latency covers every question, answerable or not
    assert s["dense"]["latency_ms"]["p50"] == pytest.approx(20.0)


def test_recall_and_ndcg_refuse_empty_gold():
    with pytest.raises(ValueError):
        recall_at_k(["a"], set(), 1)
    with pytest.raises(ValueError):
        ndcg_at_k(["a"], set(), 1)


def test_key_numbers_and_dedupe():
    assert key_numbers("5000—6000万千瓦，1,200亿元，增长6.5%，到2025年,力争") == \
        ["5000", "6000", "1200", "6.5", "2025"]
    assert dedupe([3, 1, 3, 2, 1]) == [3, 1, 2]


# ------------------------------------------------------------------ validator


GOOD = {"id": "ok-1", "question": "到2025年全省高新技术企业要达到多少家？",
        "gold": [{"chapter": 2, "section": 3}], "answer": "5000家",
        "evidence": "到2025年,力争高新技术企业达到5000家。", "type": "fact"}
BAD_ROWS = [
    ({**GOOD, "id": "ok-1"}, "id 重复"),
    ({**GOOD, "id": "t", "type": "trivia"}, "type 'trivia' 无效"),
    ({**GOOD, "id": "c", "gold": [{"chapter": 99, "section": 1}]}, "第 99 章第 1 节在语料中不存在"),
    ({**GOOD, "id": "s", "gold": [{"chapter": 2, "section": 42}]}, "第 2 章第 42 节在语料中不存在"),
    ({**GOOD, "id": "u", "type": "unanswerable"}, "unanswerable 题的 gold 应为 []"),
    ({**GOOD, "id": "e", "gold": []}, "gold 为 []，但 type 不是 unanswerable"),
    ({**GOOD, "id": "v", "evidence": "到2025年,力争高新技术企业达到9999家。"}, "evidence 不是任一"),
    ({**GOOD, "id": "w", "gold": [{"chapter": 5, "section": 1}]}, "evidence 不是任一"),
    ({**GOOD, "id": "g", "gold": [{"chapter": "二", "section": 3}]}, "gold 条目"),
    ({**GOOD, "id": "q", "question": "  "}, "缺少非空字符串字段 \"question\""),
    ({**GOOD, "id": "d", "gold": [{"chapter": 2, "section": 3}] * 2}, "gold 中有重复的章节"),
]


def test_validator_accepts_a_good_row_and_names_each_bad_one(tmp_path, real_corpus):
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(GOOD, ensure_ascii=False)]
    lines += [json.dumps(row, ensure_ascii=False) for row, _ in BAD_ROWS]
    lines += ["{not json", "", json.dumps({**GOOD, "id": "una", "type": "unanswerable",
                                           "gold": [], "evidence": ""}, ensure_ascii=False)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    good, bad = check_dataset(path, real_corpus)
    assert [q.id for q in good] == ["ok-1", "una"]
    assert good[0].gold == ((D, 2, 3),)
    by_line = {b.line: b for b in bad}
    for line, (row, reason) in enumerate(BAD_ROWS, start=2):
        assert reason in by_line[line].reason, (row["id"], by_line[line].reason)
        assert by_line[line].id == row["id"]
    assert "不是合法的 JSON" in by_line[len(BAD_ROWS) + 2].reason
    assert len(bad) == len(BAD_ROWS) + 1


def test_unreadable_dataset_is_a_clear_error(tmp_path, real_corpus):
    with pytest.raises(DatasetError, match="无法读取数据集"):
        check_dataset(tmp_path / "missing.jsonl", real_corpus)


@pytest.mark.parametrize("name", ["dev.jsonl", "tiny.jsonl"])
def test_shipped_datasets_pass_check(name, capsys):
    from rag.cli import main

    assert main(["eval", "--check", str(DATASETS / name)]) == 0
    assert "0 行不合格" in capsys.readouterr().out


def test_check_cli_lists_bad_rows_and_fails(tmp_path, capsys):
    from rag.cli import main

    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**GOOD, "type": "trivia"}, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    assert main(["eval", "--check", str(path)]) == 1
    out = capsys.readouterr()
    assert "第 1 行 [ok-1]：type 'trivia' 无效" in out.out
    assert "1 行不合格" in out.err


def test_dev_set_covers_every_chapter_and_type(real_corpus):
    good, bad = check_dataset(DATASETS / "dev.jsonl", real_corpus)
    assert not bad and len(good) >= 150
    chapters = {c for q in good for _, c, _ in q.gold}
    assert chapters == {s.chapter for s in real_corpus.sections}
    assert {q.type for q in good} == {"fact", "paraphrase", "concept", "multi", "everyday",
                                      "unanswerable"}


# ------------------------------------------------------------------ end to end


@pytest.mark.slow
def test_end_to_end_on_tiny_writes_every_report_file(real_index_settings, tmp_path):
    from rag.cli import main

    out = tmp_path / "report"
    args = ["--data-dir", str(real_index_settings.data_dir), "eval", "--quiet",
            "--dataset", str(DATASETS / "tiny.jsonl"), "--out", str(out)]
    assert main(args) == 0
    names = {p.name for p in out.iterdir()}
    assert {"report.md", "results.json", "per_question.csv", "hit_at_k.png",
            "per_chapter.png", "per_type.png"} <= names
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert res["modes"] == ["bm25", "dense", "hybrid", "naive"]
    assert res["dataset"]["rows"] == 8 and res["dataset"]["answerable"] == 6
    assert len(res["dataset"]["sha256"]) == 64 and res["package_version"]
    assert res["settings"]["embedder"] == "e5-small-q4"
    assert res["naive"]["nodes"] > 50
    for mode in res["modes"]:
        overall = res["retrieval"][mode]["section"]["overall"]
        assert overall["n"] == 6 and 0.0 <= overall["mrr@10"] <= 1.0
        assert overall["hit@10"] >= overall["hit@5"] >= overall["hit@1"]
        chapter = res["retrieval"][mode]["chapter"]["overall"]
        assert chapter["hit@5"] >= overall["hit@5"]  # a section hit is a chapter hit
    # the structure-aware hybrid retriever finds every tiny-set question in its top 5
    assert res["retrieval"]["hybrid"]["section"]["overall"]["hit@5"] == 1.0
    report = (out / "report.md").read_text(encoding="utf-8")
    for heading in ("总体 · 节级", "总体 · 章级", "按题型", "按章", "最弱的题型"):
        assert heading in report
    with (out / "per_question.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8 * 4
    hit = next(r for r in rows if r["id"] == "dev-032" and r["mode"] == "hybrid")
    assert hit["gold"] == "第二章 第三节 培育一流创新主体"
    assert hit["top5"].startswith("1:第二章 第三节 培育一流创新主体")
    assert float(hit["hit@1"]) == 1.0 and float(hit["reciprocal_rank"]) == 1.0
    una = next(r for r in rows if r["type"] == "unanswerable")
    assert una["hit@5"] == ""  # not scored


@pytest.mark.slow
def test_unknown_mode_is_a_clear_error(real_index_settings, capsys):
    from rag.cli import main

    args = ["--data-dir", str(real_index_settings.data_dir), "eval", "--quiet",
            "--dataset", str(DATASETS / "tiny.jsonl"), "--modes", "hybrid,bm42"]
    assert main(args) == 1
    assert "未知评测模式 bm42" in capsys.readouterr().err


def test_answer_metrics_on_hand_made_answers():
    from rag.answering import Answer
    from rag.citations import Citation
    from rag.evaluation import answer_record, answer_summary

    def cit(n, ch, sec):
        return Citation(n, SectionRef(D, ch, "章", sec, "节"), "引文", (0, 2))

    def ans(text, refused, cits=()):
        return Answer("问", "问", text, refused, "extractive", tuple(cits))

    q1 = GoldQuestion("a", "问", ((D, 5, 1), (D, 5, 2)), "5000—6000万千瓦", "e", "multi", 1)
    q2 = GoldQuestion("b", "问", ((D, 2, 3),), "5000家", "e", "fact", 2)
    q3 = GoldQuestion("c", "问", (), "", "", "unanswerable", 3)
    q4 = GoldQuestion("d", "问", ((D, 1, 1),), "2个", "e", "fact", 4)
    recs = [answer_record(q1, ans("外送能力达到5000万千瓦[1]。[2]", False,
                                  [cit(1, 5, 1), cit(2, 9, 9)])),
            answer_record(q2, ans("未找到", True)),
            answer_record(q3, ans("未找到", True)),
            answer_record(q4, ans("两个中心[2]", False, [cit(1, 1, 1), cit(2, 1, 1)]))]
    assert recs[0]["precision"] == 0.5 and recs[0]["recall"] == 0.5 and recs[0]["numbers"] == 0.5
    assert recs[1]["precision"] is None and recs[1]["recall"] == 0.0 and recs[1]["numbers"] == 0.0
    # two citations of one gold section: precision and recall 1; the marker [2] is not a "2"
    assert recs[3]["precision"] == 1.0 and recs[3]["recall"] == 1.0 and recs[3]["numbers"] == 0.0
    s = answer_summary([q1, q2, q3, q4], recs, [0.1, 0.2, 0.3, 0.4])
    assert s["citation_precision"] == 0.75 and s["citation_recall"] == 0.5
    assert s["refusal_accuracy"] == 1.0 and s["false_refusal_rate"] == pytest.approx(1 / 3)
    assert s["key_number_match"] == pytest.approx(0.5 / 3) and s["key_number_all"] == 0.0
    assert s["n_cited"] == 2 and s["n_answerable"] == 3 and s["n_unanswerable"] == 1
