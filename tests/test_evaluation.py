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


def test_quantities_carry_units_and_skip_names():
    from rag.evaluation import quantities

    got = [str(q) for q in quantities("5G基站达到12万座，C919 和 4A级景区 30个，增长6.50%，5000—6000万千瓦")]
    # 5G, C919 and 4A are names, not quantities; a range gives both ends its unit
    assert got == ["12万座", "30个", "6.5%", "5000万千瓦", "6000万千瓦"]
    a, b = quantities("12万座")[0], quantities("12座")[0]
    assert not a.matches(b)  # same digits, different unit
    assert quantities("12")[0].matches(a)  # a bare number matches any unit


def test_char_f1_and_coverage_by_hand():
    from rag.evaluation import char_f1, coverage

    # reference 4 chars (the comma does not count), prediction 5, 2 shared: p = 2/5, r = 2/4
    assert char_f1("煤炭清洁化", "煤炭高效，") == pytest.approx(2 * 0.4 * 0.5 / 0.9)
    assert char_f1("任意", "") is None
    assert coverage("达到5000家。", "5000家") == 1.0
    # multiset: 5000家 has three 0s, the answer one; 5, one 0 and 家 are covered = 3 of 5
    assert coverage("达到50家", "5000家") == pytest.approx(3 / 5)


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


def test_validator_lists_every_problem_of_a_row(tmp_path, real_corpus):
    row = {**GOOD, "type": "trivia", "gold": [{"chapter": 99, "section": 1}], "keys": "5000家",
           "question": ""}
    path = tmp_path / "many.jsonl"
    path.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    _, (bad,) = check_dataset(path, real_corpus)
    text = bad.reason
    for part in ("\"question\"", "type 'trivia' 无效", "第 99 章第 1 节在语料中不存在", "keys 应为"):
        assert part in text, text
    assert len(bad.reasons) == 4


def test_validator_accepts_new_types_history_keys_and_overlap(tmp_path, real_corpus):
    conv = {**GOOD, "id": "c1", "type": "conversation", "question": "那2035年呢？", "keys": ["5000家"],
            "history": [{"role": "user", "content": "高新技术企业要达到多少家？"},
                        {"role": "assistant", "content": "5000家。第二章 第三节 培育一流创新主体"}]}
    rows = [conv, {**GOOD, "id": "e1", "type": "everyday", "overlap": 0.25},
            {**GOOD, "id": "i1", "type": "instruction", "gold": [], "evidence": "", "answer": ""},
            {**GOOD, "id": "h1", "type": "chitchat", "gold": [], "evidence": ""},
            {**GOOD, "id": "bad1", "type": "conversation"},
            {**GOOD, "id": "bad2", "type": "chitchat"},
            {**GOOD, "id": "bad3", "history": [{"role": "bot", "content": "x"}]}]
    path = tmp_path / "new.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    good, bad = check_dataset(path, real_corpus)
    assert [q.id for q in good] == ["c1", "e1", "i1", "h1"]
    assert good[0].history[0]["role"] == "user" and good[0].keys == ("5000家",)
    assert good[1].overlap == 0.25 and not good[2].answerable
    reasons = {b.id: b.reason for b in bad}
    assert "需要 history" in reasons["bad1"]
    assert "chitchat 题的 gold 应为 []" in reasons["bad2"]
    assert "history 第 1 条" in reasons["bad3"]


def test_validator_reads_bom_names_gbk_and_hints_at_punctuation(tmp_path, real_corpus):
    bom = tmp_path / "bom.jsonl"
    bom.write_text(json.dumps(GOOD, ensure_ascii=False) + "\n", encoding="utf-8-sig")
    good, bad = check_dataset(bom, real_corpus)
    assert [q.id for q in good] == ["ok-1"] and not bad
    gbk = tmp_path / "gbk.jsonl"
    gbk.write_bytes((json.dumps(GOOD, ensure_ascii=False) + "\n").encode("gbk"))
    with pytest.raises(DatasetError, match="GB18030 编码.*iconv -f GB18030 -t UTF-8"):
        check_dataset(gbk, real_corpus)
    wide = tmp_path / "wide.jsonl"
    wide.write_text(json.dumps({**GOOD, "evidence": "到2025年，力争高新技术企业达到5000家。"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    _, (b,) = check_dataset(wide, real_corpus)
    assert "半角标点" in b.reason


def test_check_cli_prints_every_problem_under_its_row(tmp_path, capsys):
    from rag.cli import main

    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({**GOOD, "type": "trivia", "evidence": "没有这句"},
                               ensure_ascii=False) + "\n", encoding="utf-8")
    assert main(["eval", "--check", str(path)]) == 1
    out = capsys.readouterr()
    assert "第 1 行 [ok-1]：2 个问题" in out.out
    assert "  - type 'trivia' 无效" in out.out and "  - evidence 不是任一" in out.out
    assert "1 行不合格（共 2 个问题）" in out.err


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
    assert {"fact", "paraphrase", "concept", "multi", "unanswerable"} <= {q.type for q in good}


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
    assert report.splitlines()[2] == "## 摘要"  # the summary opens the report
    for heading in ("失败题", "配对检验", "总体 · 节级", "总体 · 章级", "按题型", "按章", "最弱的题型"):
        assert heading in report
    assert res["uncertainty"]["retrieval"]["hybrid"]["hit@1"][0] <= \
        res["retrieval"]["hybrid"]["section"]["overall"]["hit@1"]
    with (out / "per_question.csv").open(encoding="utf-8-sig") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 8  # one row per question
    hit = next(r for r in rows if r["id"] == "dev-032")
    assert hit["gold"] == "第二章 第三节 培育一流创新主体"
    assert hit["top1_hybrid"] == "第二章 第三节 培育一流创新主体"
    assert hit["rank_hybrid"] == "1" and hit["failed"] == "0"
    una = next(r for r in rows if r["type"] == "unanswerable")
    assert una["rank_hybrid"] == "" and una["gold"] == ""


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
    # the first citation is what a reader sees first: a wrong one first is a miss, whatever follows
    assert [r.get("first_gold") for r in recs] == [1.0, 0.0, None, 1.0]
    swapped = answer_record(q1, ans("…[1]…[2]", False, [cit(1, 9, 9), cit(2, 5, 1)]))
    assert swapped["precision"] == 0.5 and swapped["first_gold"] == 0.0
    s = answer_summary([q1, q2, q3, q4], recs, [0.1, 0.2, 0.3, 0.4])
    assert s["citation_precision"] == 0.75 and s["citation_recall"] == 0.5
    assert s["first_cited_gold"] == pytest.approx(2 / 3)
    assert s["refusal_accuracy"] == 1.0 and s["false_refusal_rate"] == pytest.approx(1 / 3)
    assert s["key_number_match"] == pytest.approx(0.5 / 3) and s["key_number_all"] == 0.0
    assert s["n_cited"] == 2 and s["n_answerable"] == 3 and s["n_unanswerable"] == 1
    assert s["scored_on"] == {"text": 4} and s["direct_correct"] is None


def test_direct_line_and_keys_are_scored_when_present():
    from types import SimpleNamespace

    from rag.evaluation import answer_record

    q = GoldQuestion("k", "问", ((D, 2, 3),), "到2025年达到5000家", "达到5000家", "fact", 1,
                     keys=("5000家",))
    body = "到2025年,力争高新技术企业达到5000家[1]。\n\n来源：第二章 第三节"
    good = SimpleNamespace(text=body, direct="高新技术企业达到5000家。", refused=False,
                           citations=(), standalone="问", support=0.9)
    rec = answer_record(q, good)
    assert rec["scored_on"] == "direct" and rec["keys"] == 1.0
    # 2025年 is in the body but not in the direct line: the direct answer misses it
    assert rec["numbers"] == 0.5 and rec["numbers_missed"] == ["2025年"]
    assert rec["direct_correct"] == 0.0
    plain = answer_record(q, SimpleNamespace(**{**vars(good), "direct": None}))
    assert plain["scored_on"] == "text" and plain["numbers"] == 1.0 and "direct_correct" not in plain


def test_conversation_rows_are_retrieved_as_their_follow_up_rewrite():
    from rag.evaluation.runner import retrieval_query

    history = ({"role": "user", "content": "到2025年全省高新技术企业要达到多少家？"},
               {"role": "assistant", "content": "5000家。"})
    q = GoldQuestion("c", "那2035年呢？", ((D, 2, 3),), "", "x", "conversation", 1, history)
    assert retrieval_query(q) == "到2035年全省高新技术企业要达到多少家？"
    assert retrieval_query(GoldQuestion("s", "单独的问题", ((D, 2, 3),), "", "x", "fact", 2)) == \
        "单独的问题"


@pytest.mark.slow
def test_answers_run_asks_follow_ups_with_history_and_lists_failures(real_index_settings,
                                                                     tmp_path):
    from rag.evaluation import evaluate

    conv = {**GOOD, "id": "c1", "type": "conversation", "question": "那2035年呢？",
            "history": [{"role": "user", "content": "到2025年全省高新技术企业要达到多少家？"},
                        {"role": "assistant", "content": "5000家。第二章 第三节 培育一流创新主体"}]}
    chat = {**GOOD, "id": "h1", "type": "chitchat", "question": "给我写一首关于春天的诗",
            "gold": [], "evidence": "", "answer": ""}
    path = tmp_path / "mini.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in (GOOD, conv, chat)),
                    encoding="utf-8")
    res = evaluate(path, real_index_settings, modes=("bm25",), answers=True, progress=False)
    by_id = {r["id"]: r for r in res["questions"]}
    # the pipeline got the history: it rewrote the follow-up the same way retrieval did
    assert by_id["c1"]["answer"]["standalone"] == "到2035年全省高新技术企业要达到多少家？"
    assert by_id["c1"]["retrieval_query"] == by_id["c1"]["answer"]["standalone"]
    assert by_id["ok-1"]["answer"]["numbers"] == 1.0 and not by_id["ok-1"]["failed"]
    groups = res["failures"]["groups"]
    failed = {f["id"] for items in groups.values() for f in items}
    assert failed == {r["id"] for r in res["questions"] if r["failed"]}
    assert res["answers"]["n_unanswerable"] == 1
    assert res["uncertainty"]["answers"]["false_refusal_rate"] is not None
