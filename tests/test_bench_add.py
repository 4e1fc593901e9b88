"""The cold-add benchmark's new plan: same structure and size as the bundled plan, new texts."""

from __future__ import annotations

from rag.bench.add import new_plan_text
from rag.chunking import chunk_corpus
from rag.corpus import Corpus, DocumentInfo, load_corpus, parse_document
from tests.conftest import REAL_CORPUS


def test_new_plan_has_the_structure_but_no_shared_text(tmp_path):
    plan = load_corpus(REAL_CORPUS).documents[0]
    text = new_plan_text(plan.text)
    assert len(text) == len(plan.text)
    new = parse_document(DocumentInfo("new", "新增规划", tmp_path / "new.txt"), text)
    assert [(s.key[1:], s.chapter_title, s.section_title) for s in new.sections] == [
        (s.key[1:], s.chapter_title, s.section_title) for s in plan.sections]
    old_units = {u.text.strip() for u in chunk_corpus(Corpus((plan,)))[0]}
    new_units = [u.text.strip() for u in chunk_corpus(Corpus((new,)))[0]]
    heads = {h for s in plan.sections for h in (s.chapter_title, s.section_title)}
    shared = [u for u in new_units if u in old_units and not any(h in u for h in heads)]
    assert len(shared) <= len(new_units) // 50  # palindromes and one-character lines only


def test_smoke_plan_keeps_only_the_first_chapters(tmp_path):
    plan = load_corpus(REAL_CORPUS).documents[0]
    new = parse_document(DocumentInfo("new", "新增规划", tmp_path / "new.txt"),
                         new_plan_text(plan.text, chapters=2))
    assert [s.key[1:] for s in new.sections] == [s.key[1:] for s in plan.sections
                                                 if s.chapter <= 2]


def test_add_task_on_the_tiny_plan(tiny_corpus, tmp_path):
    from rag.bench.add import task_add
    from rag.bench.report import _cold_add

    res = task_add({"corpus_dir": str(tiny_corpus), "data_dir": str(tmp_path / "add"),
                    "embedder": "e5-small-q4"})
    t = res["timings"]
    assert res["sections"] == 7 and res["counts"]["documents"] == 2
    assert res["embedded"] > 0 and res["embedded"] <= res["embed"]["unique_texts"]
    assert t["add_total"] >= t["embed"] > 0 and all(k in t for k in ("read", "parse_new", "chunk"))
    assert res["embed"]["tokens"]["sentences"] > 0 and res["embed"]["terms"] > 0
    assert all(k in t for k in ("embed_load", "embed_units", "embed_terms"))
    assert 0 < res["searchable_s"] < res["complete_s"] <= t["add_total"]
    assert 0 < res["cpu_s"]["searchable"] <= res["cpu_s"]["complete"]
    assert res["counts"]["pooled_chunks"] > 0 and res["pending_after"] == []
    assert res["phase2_embedded"] > 0 and res["phase2_timings"]["embed_chunks"] > 0
    assert res["scaled_200kb"]["complete_s"] > res["complete_s"]  # the tiny plan is < 200 KB
    lines = "\n".join(_cold_add(res))
    assert "冷添加一份新规划" in lines and "| 嵌入 |" in lines and "| 新桥接词 |" in lines
    assert "可检索 / 完成" in lines and "折算到 200 KB" in lines


def test_phase_quality_on_a_few_dev_questions(tmp_path):
    import shutil

    from rag.bench.add import phase_quality

    shutil.copytree(REAL_CORPUS, tmp_path / "corpus", ignore=shutil.ignore_patterns("cache"))
    q = phase_quality({"corpus_dir": str(tmp_path / "corpus"), "data_dir": str(tmp_path / "q"),
                       "embedder": "e5-small-q4", "limit": 5})
    one, two = q["phase1"], q["phase2"]
    assert one["embedded"] == 0 and one["pooled_chunks"] > 0  # nothing new embedded
    assert one["bridge_terms"] * 100 < two["bridge_terms"]  # only terms cached as units
    assert one["pending"] and two["pending"] == [] and two["bridge_terms"] > 0
    assert one["dense"]["n"] == two["dense"]["n"] == 5 and 0 <= one["hybrid"]["mrr@10"] <= 1
