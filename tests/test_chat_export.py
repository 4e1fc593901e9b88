"""Conversation export (Markdown and A4 docx) and the answer card's pieces, without an index."""

from __future__ import annotations

from datetime import datetime

from rag.corpus import Section
from rag.ui.answer_view import action_href, body_text, quote_context
from rag.ui.export import to_markdown, write_docx

TURNS = [
    {"question": "到2025年高新技术企业要达到多少家？", "direct": "5000家[1]",
     "answer": "根据规划原文：\n力争高新技术企业达到5000家[1]。",
     "citations": [{"n": 1, "label": "第二章 第三节 培育一流创新主体",
                    "quote": "力争高新技术企业达到\n5000家。"}]},
    {"question": "世界杯冠军是谁？", "answer": "规划原文中未找到与该问题直接相关的内容。",
     "citations": []},
]


def test_markdown_and_docx_hold_every_question_answer_and_citation(tmp_path):
    from docx import Document

    md = to_markdown(TURNS, when=datetime(2026, 1, 2, 3, 4))
    assert "## 问题 1：到2025年高新技术企业要达到多少家？" in md and "**5000家[1]**" in md
    assert "- [1] 「第二章 第三节 培育一流创新主体」：“力争高新技术企业达到 5000家。”" in md
    assert "## 问题 2：世界杯冠军是谁？" in md and "导出于 2026-01-02 03:04" in md
    doc = Document(str(write_docx(TURNS, tmp_path / "c.docx")))
    paras = [p.text for p in doc.paragraphs]
    cells = [[c.text for c in r.cells] for t in doc.tables for r in t.rows]
    assert "问题 2：世界杯冠军是谁？" in paras and "规划原文中未找到与该问题直接相关的内容。" in paras
    assert cells == [["编号", "出处", "引用原文"],
                     ["[1]", "「第二章 第三节 培育一流创新主体」", "力争高新技术企业达到 5000家。"]]
    s = doc.sections[0]
    assert (round(s.page_width.mm), round(s.page_height.mm)) == (210, 297)


def test_quote_context_and_links():
    text = "第一句很长。第二句讲别的事。第三句含5000家。第四句收尾。第五句不显示。"
    s = Section("d", 2, "章", 3, "节", text, ((100, 100 + len(text)),), 1)
    quote = "第三句含5000家。"
    start = 100 + text.index(quote)
    ctx = quote_context(s, (start, start + len(quote)), quote)
    assert ctx == "第二句讲别的事。<mark>第三句含5000家。</mark>第四句收尾。"  # one sentence each side
    assert quote_context(s, (0, 3), quote).count("<mark>") == 1  # a wrong span falls back
    assert body_text("答案[1]。\n\n来源：\n[1] 「第二章 第三节 节」") == "答案[1]。"
    assert body_text("5000家[1]。\n\n根据规划原文：\n原句[1]。", "5000家[1]。") == "根据规划原文：\n原句[1]。"
    assert action_href("ask", "那2035年呢？") == "#ask=%E9%82%A32035%E5%B9%B4%E5%91%A2%EF%BC%9F"
    assert action_href("goto", "d|2|3|10|20") == "#goto=d|2|3|10|20"
