"""Answers that follow the plan's structure, on the real plan: headed paragraphs (a short lead
sentence such as 「大力弘扬科学家精神。」 heading the sentences after it), "more" follow-ups that
list a section's paragraphs, heading answers that carry the content under the heading, 2035
follow-ups answered from the content the 2035 announcement frames, follow-ups without the
usual opening words, and multi-part answers that keep the document filter.

Questions here are written for the tests (sections not used by the dev set's conversations)."""

from __future__ import annotations

import re

import pytest

from rag.followup import is_followup, rewrite_followup

pytestmark = pytest.mark.slow

HEADINGS = ["大力弘扬科学家精神", "全面提升公民科学素质", "建立健全创新容错机制", "完善科研诚信和科技伦理治理体系"]


def _turn(answer) -> list[dict]:
    return [{"role": "user", "content": answer.question},
            {"role": "assistant", "content": answer.text}]


def test_paragraph_leads_are_found_in_the_plan(real_pipeline):
    scorer = real_pipeline.answerer.scorer
    units = [u for k, us in scorer.sentences.items() if k[1:] == (2, 6) for u in us]
    leads = [u.text.strip().rstrip("。") for u in units if scorer.is_lead(u)]
    assert leads == HEADINGS
    content = next(u for u in units if not scorer.is_lead(u) and scorer.lead_of(u) is not None)
    lead = scorer.lead_of(content)
    assert scorer.paragraph(content)[0] is lead and content in scorer.paragraph(lead)


def test_more_follow_up_lists_the_sections_headed_paragraphs(real_pipeline):
    first = real_pipeline.ask("规划打算怎样厚植创新文化？")
    assert not first.refused and first.citations[0].key[1:] == (2, 6)
    a = real_pipeline.ask("具体有哪些措施？", history=_turn(first))
    assert not a.refused
    assert {c.key for c in a.citations} <= {c.key for c in first.citations}
    shown = "".join(first.text.split())
    listed = [h for h in HEADINGS if h in a.direct]
    assert len(listed) >= 3 and not any(h in shown for h in listed), a.direct
    # each heading of the section is quoted with the sentence under it, not alone
    ours = [c for c in a.citations if c.key[1:] == (2, 6)]
    assert len(ours) == len(listed)
    for c in ours:
        assert any(c.quote.startswith(h + "。") for h in listed) and len(c.quote) > 30, c.quote


def test_heading_answer_carries_the_content_under_it(real_pipeline):
    a = real_pipeline.ask("建立健全创新容错机制指的是什么？")
    assert not a.refused
    line = re.sub(r"\[\d+\]", "", a.direct)
    assert line.startswith("建立健全创新容错机制：") and len(line) > 20, a.direct
    assert any(c.quote.startswith("建立健全创新容错机制。") and len(c.quote) > 30 for c in a.citations)


def test_2035_follow_up_answers_from_the_framed_goals_not_the_anchor(real_pipeline):
    first = real_pipeline.ask("“十四五”时期人民生活方面要实现什么目标？")
    a = real_pipeline.ask("那2035年呢？", history=_turn(first))
    assert "2035" in a.standalone and not a.refused
    assert "高品质生活" in a.direct, a.direct
    assert "锚定" not in a.direct


def test_follow_ups_without_the_usual_opening_words():
    history = [{"role": "user", "content": "规划对创新文化有什么安排？"},
               {"role": "assistant", "content": "……\n来源：\n[1] 「第二章 第六节 厚植一流创新文化」"}]
    for q in ("有哪些具体举措？", "具体怎么做？", "还有其他哪些方面的举措？", "它最终要建成什么样子？"):
        assert is_followup(q, history), q
    assert not is_followup("太原要开通哪些国际直航？", history)
    r = rewrite_followup("具体怎么做？", history)
    assert r.more == ((2, 6),)
    r = rewrite_followup("它最终要建成什么样子？", history)
    assert r.prefer == ((2, 6),) and "创新文化" in r.standalone
    r = rewrite_followup("那到2035年要达到什么程度？",
                         [{"role": "user", "content": "“十四五”时期在科技创新上要实现什么目标？"}])
    assert r.standalone.startswith("到2035年在科技创新上")


def test_multi_part_answer_keeps_the_document_filter(real_pipeline):
    retriever = real_pipeline.answerer.retriever
    doc = real_pipeline.index.sections[0].doc_id
    seen = []
    original = retriever.retrieve

    def recording(question, **kw):  # observe the calls; retrieval itself runs unchanged
        seen.append(kw.get("doc_id"))
        return original(question, **kw)

    retriever.retrieve = recording
    try:
        a = real_pipeline.ask("2020年的粮食产量是多少、“十四五”末要达到多少", doc_id=doc)
    finally:
        del retriever.retrieve
    assert len(seen) == 3 and set(seen) == {doc}  # the whole question, then each part
    assert not a.refused and all(c.ref.doc_id == doc for c in a.citations)
