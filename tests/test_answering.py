"""Extractive answers on the real plan, refusals, follow-ups, input limits and the ask CLI."""

from __future__ import annotations

import json

import pytest

from rag.answering import REFUSAL, REGISTRY, Answer, clean_question, get_answerer
from rag.errors import ConfigError, RetrievalError
from rag.followup import is_followup, rewrite_followup

HISTORY = [{"role": "user", "content": "到2025年全省高新技术企业要达到多少家？"},
           {"role": "assistant", "content": "根据规划原文：\n……达到5000家[1]。\n\n来源：\n"
                                            "[1] 「第二章 第三节 培育一流创新主体」"}]


# ---------------------------------------------------------------- rules (no index needed)


def test_followup_year_is_substituted():
    r = rewrite_followup("那2035年呢？", HISTORY)
    assert r.rewritten and r.standalone == "到2035年全省高新技术企业要达到多少家？"


def test_followup_this_section_focuses_the_cited_section():
    r = rewrite_followup("这一节还提到什么？", HISTORY)
    assert (r.chapter, r.section) == (2, (2, 3))
    assert r.standalone.startswith("第二章 第三节 培育一流创新主体")


def test_followup_elliptical_inherits_topic_terms():
    r = rewrite_followup("具体有哪些措施？", [{"role": "user", "content": "汾河治理有哪些工程？"}])
    assert r.standalone == "关于汾河治理工程：具体有哪些措施？"


def test_followup_rewrites_chains_of_followups():
    hist = HISTORY + [{"role": "user", "content": "那2035年呢？"},
                      {"role": "assistant", "content": "……"}]
    assert rewrite_followup("那2030年呢？", hist).standalone == "到2030年全省高新技术企业要达到多少家？"


def _asked(question: str) -> list:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": "……[1]"}]


@pytest.mark.parametrize("earlier, question, standalone", [
    # 那X呢 asks the earlier question of another topic: its time frame, X, its asking part
    ("到“十四五”末从业人员持证率要达到多少？", "那中高级以上持证技能人才呢？",
     "到“十四五”末中高级以上持证技能人才达到多少？"),
    ("规划对3岁以下婴幼儿照护服务是怎么说的？", "那养老呢？", "养老是怎么说的？"),
    ("汾河治理有哪些工程", "桑干河呢", "桑干河有哪些工程"),
    ("“十四五”期间原煤产量要稳定在什么水平？", "那非常规天然气地面抽采量呢？",
     "“十四五”期间非常规天然气地面抽采量要稳定在什么水平？"),
    # the old topic's own verb (增长) is not carried over to the new topic
    ("“十三五”时期地区生产总值年均增长多少？", "那城镇登记失业率呢", "“十三五”时期城镇登记失业率多少？"),
    # a run of time frames is swapped as one
    ("规划提出“十五五”“十六五”分别要实现什么转型目标？", "那2035年呢？",
     "规划提出2035年分别要实现什么转型目标？"),
])
def test_followup_topic_and_frame_swaps(earlier, question, standalone):
    r = rewrite_followup(question, _asked(earlier))
    assert r.rewritten and r.standalone == standalone


@pytest.mark.parametrize("earlier, standalone", [
    # a past year asks for the record: no 到, no 目标/要 of the earlier target question
    ("到“十四五”末粮食总产量目标是多少？", "2020年粮食总产量是多少？"),
    ("到2025年全省森林覆盖率要达到多少？", "2020年全省森林覆盖率达到多少？"),
])
def test_followup_swap_to_a_past_year_asks_for_the_record(earlier, standalone):
    assert rewrite_followup("那2020年呢？", _asked(earlier)).standalone == standalone


def test_followup_this_chapter_asks_every_section_of_it():
    from rag.followup import WHOLE_CHAPTER
    hist = [{"role": "user", "content": "文化强省这一章开头怎么说？"},
            {"role": "assistant", "content": "……[1]\n\n来源：\n[1] 「第十一章 实施文化强省战略（章首）」"}]
    r = rewrite_followup("这一章还讲了哪些内容？", hist)
    assert r.more == ((11, WHOLE_CHAPTER),) and r.chapter == 11


@pytest.mark.parametrize("question, more", [
    ("请用三句话概括第十章的主要内容", ((10, -1),)),
    ("第三章第二节讲了什么？", ((3, 2),)),
])
def test_a_named_chapter_or_section_asked_as_a_whole_is_summarised(question, more):
    from rag.followup import summary_request
    assert summary_request(question).more == more
    assert rewrite_followup(question, HISTORY).more == more  # with or without history


def test_a_question_on_a_topic_within_a_chapter_is_no_summary():
    from rag.followup import summary_request
    assert summary_request("第十章提出了哪些改革？") is None
    assert summary_request("第五章第一节的原煤产量目标是多少") is None


def test_bare_more_follow_ups():
    for q in ("还有呢？", "那还有吗", "其他的呢"):
        r = rewrite_followup(q, HISTORY)
        assert r.more == ((2, 3),), q
        # the standalone names the section the points come from, and keeps the question's words
        assert r.standalone == f"第二章 第三节 培育一流创新主体：{q.removeprefix('那')}", r.standalone


def test_followup_pronoun_and_asking_swaps_are_not_topic_swaps():
    # a pronoun or an asking word is no new topic: 它 resolves, 那哪些呢 keeps the topic
    assert rewrite_followup("那它呢？", _asked("汾河治理有哪些工程")).standalone == "汾河治理工程呢？"
    assert "汾河治理" in rewrite_followup("那还有哪些呢？", _asked("汾河治理有哪些工程")).standalone


@pytest.mark.parametrize("question", ["汾河流域生态保护有哪些重点工程？",
                                      "到2025年山西5G基站要建到多少座？"])
def test_full_questions_are_not_followups(question):
    assert not is_followup(question, HISTORY)
    assert rewrite_followup(question, HISTORY).standalone == question


def test_no_history_means_no_rewrite():
    assert rewrite_followup("那2035年呢？", []).standalone == "那2035年呢？"


def test_clean_question_limits():
    with pytest.raises(RetrievalError, match="问题为空"):
        clean_question(" \t\n", 500)
    with pytest.raises(RetrievalError):
        clean_question(None, 500)
    q, notice = clean_question("高新\x00技术\x1b企业" + "啊" * 600, 500)
    assert q.startswith("高新技术企业") and len(q) == 500 and "500" in notice


def test_registry_and_unknown_answerer(real_retriever_free_settings):
    assert sorted(REGISTRY) == ["extractive", "llama-cpp", "openai-compatible"]
    with pytest.raises(ConfigError, match="extractive, llama-cpp, openai-compatible"):
        get_answerer("gpt-magic", real_retriever_free_settings, retriever=None)


@pytest.fixture
def real_retriever_free_settings(tmp_path):
    from rag.config import load_settings

    return load_settings(data_dir=tmp_path)


# ---------------------------------------------------------------- the real plan


@pytest.mark.slow
def test_high_tech_enterprises_by_2025(real_pipeline):
    a = real_pipeline.ask("到2025年全省高新技术企业要达到多少家？")
    assert isinstance(a, Answer) and not a.refused and a.answerer == "extractive"
    assert "5000" in a.text
    first = a.citations[0]
    assert first.key[1:] == (2, 3)
    assert "「第二章 第三节 培育一流创新主体」" in a.text
    assert "[1]" in a.text and "5000家" in first.quote


@pytest.mark.slow
def test_quotes_are_exact_file_text(real_pipeline, real_index_settings):
    text = (real_index_settings.corpus_dir / "shanxi-14th-five-year-plan.txt").read_text("utf-8")
    for q in ["汾河流域生态保护有哪些重点工程？", "到2025年煤层气地面抽采量要达到多少？",
              "规划提出要打造多少个战略性新兴产业集群？"]:
        a = real_pipeline.ask(q)
        assert a.citations, q
        assert 1 <= len(a.citations) <= 4
        for c in a.citations:
            assert text[c.span[0]:c.span[1]] == c.quote
            assert f"[{c.n}]" in a.text


@pytest.mark.slow
@pytest.mark.parametrize("question", ["陕西省“十四五”规划提出的5G基站建设目标是多少座？",
                                      "2022年山西省地区生产总值实际完成了多少亿元？",
                                      "到2025年全省养老机构床位数要达到多少张？"])
def test_out_of_scope_is_refused_with_nearby_sections(real_pipeline, question):
    a = real_pipeline.ask(question)
    assert a.refused and a.text.startswith(REFUSAL)
    assert a.citations == ()
    assert "可能相关" in a.text and a.hits


@pytest.mark.slow
def test_followup_through_the_pipeline(real_pipeline):
    a = real_pipeline.ask("那2035年呢？", history=HISTORY)
    assert a.question == "那2035年呢？"
    assert a.standalone == "到2035年全省高新技术企业要达到多少家？"
    b = real_pipeline.ask("这一节还提到什么？", history=HISTORY)
    assert not b.refused
    assert {c.key[1:] for c in b.citations} == {(2, 3)}


@pytest.mark.slow
def test_long_question_is_truncated_with_notice(real_pipeline):
    a = real_pipeline.ask("到2025年全省高新技术企业要达到多少家？" + "请详细说明。" * 200)
    assert a.notice and "500" in a.notice
    assert len(a.question) == real_pipeline.settings.max_question_chars


@pytest.mark.slow
def test_stream_yields_text_then_answer(real_pipeline):
    items = list(real_pipeline.stream("到2025年全省高新技术企业要达到多少家？"))
    assert isinstance(items[-1], Answer)
    assert "".join(i for i in items if isinstance(i, str)) == items[-1].text


@pytest.mark.slow
def test_empty_question_is_a_clear_error(real_pipeline):
    with pytest.raises(RetrievalError, match="问题为空"):
        real_pipeline.ask("   ")


@pytest.mark.slow
def test_cli_ask_json_and_batch(real_index_settings, tmp_path, capsys):
    from rag.cli import main

    data = str(real_index_settings.data_dir)
    assert main(["--data-dir", data, "ask", "到2025年全省高新技术企业要达到多少家？", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {"answer", "refused", "answerer", "citations"}
    assert out["citations"][0]["chapter"] == 2 and out["citations"][0]["section"] == 3
    assert set(out["citations"][0]) >= {"n", "doc_id", "chapter", "chapter_title", "section",
                                        "section_title", "quote"}
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "question": "到2025年全省高新技术企业要达到多少家？"}\n'
                     '{"id": "b", "question": "陕西省“十四五”规划提出的5G基站建设目标是多少座？"}\n',
                     encoding="utf-8")
    assert main(["--data-dir", data, "ask", "--batch", str(batch), "--json"]) == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [x["id"] for x in lines] == ["a", "b"]
    assert [x["refused"] for x in lines] == [False, True]


@pytest.mark.slow
def test_cli_errors_are_one_line(real_index_settings, capsys):
    from rag.cli import main

    assert main(["--data-dir", str(real_index_settings.data_dir), "ask", "  "]) == 1
    err = capsys.readouterr().err
    assert err.startswith("错误：") and "Traceback" not in err


@pytest.mark.slow
def test_llm_backends_need_configuration(real_pipeline, real_index_settings, tmp_path):
    from rag.config import load_settings

    settings = load_settings(corpus_dir=real_index_settings.corpus_dir,
                             data_dir=real_index_settings.data_dir)
    with pytest.raises(ConfigError, match="RAG_LLM_BASE_URL"):
        get_answerer("openai-compatible", settings, real_pipeline.retriever)
    missing = load_settings(corpus_dir=real_index_settings.corpus_dir,
                            data_dir=real_index_settings.data_dir,
                            llm_gguf=tmp_path / "none.gguf")
    with pytest.raises(ConfigError, match="GGUF|llama-cpp-python"):
        get_answerer("llama-cpp", missing, real_pipeline.retriever)


@pytest.mark.slow
@pytest.mark.parametrize("question", ["红烧肉怎么做？", "梅西在哪个球队踢球？"])
def test_off_topic_question_is_refused(real_pipeline, question):
    a = real_pipeline.ask(question)
    assert a.refused and a.text.startswith(REFUSAL) and a.citations == ()
