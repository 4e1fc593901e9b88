"""Citation records, marker validation and marker attachment."""

from __future__ import annotations

from rag.citations import (Citation, attach_markers, cite, overlap_similarity, trim_span,
                           validate_markers)
from rag.chunking import Chunk
from rag.corpus import Section, SectionRef
from rag.wordseg import tokenize


def test_citation_label_and_json():
    c = Citation(1, SectionRef("doc", 2, "坚持创新驱动发展", 3, "培育一流创新主体"),
                 "力争高新技术企业达到5000家。", (100, 115))
    assert c.label == "第二章 第三节 培育一流创新主体"
    assert c.to_json() == {"n": 1, "doc_id": "doc", "chapter": 2, "chapter_title": "坚持创新驱动发展",
                           "section": 3, "section_title": "培育一流创新主体",
                           "quote": "力争高新技术企业达到5000家。", "span": [100, 115]}


def test_trim_span_keeps_offsets_exact():
    source = "前文。\n  到2025年达到5000家。\n后文"
    start = source.index("\n  到")
    text, span = trim_span(source[start:start + 18], start)
    assert text == "到2025年达到5000家。"
    assert source[span[0]:span[1]] == text


def test_cite_quotes_the_file_text_between_two_units_of_a_section():
    # a section in two parts (the preamble's shape: a gap lies between them in the file)
    src = "甲句一。乙句二。" + "【目录】" + "丙句三。"
    sec = Section("d", 1, "章", 1, "节", "甲句一。乙句二。丙句三。", ((0, 8), (12, 16)), 1)
    units = [Chunk(f"d:1:1:s{i}", "s", "d", 1, "章", 1, "节", "章 > 节", src[a:b], a, b, i)
             for i, (a, b) in enumerate([(0, 4), (4, 8), (12, 16)])]
    c = cite(3, sec, units[0], units[1])
    assert c.n == 3 and c.quote == "甲句一。乙句二。" and c.span == (0, 8)
    assert c.ref == SectionRef("d", 1, "章", 1, "节") and c.label == "第一章 第一节 节"
    across = cite(4, sec, units[1], units[2])
    assert across.quote == "乙句二。丙句三。"  # the gap is skipped, not quoted
    assert cite(5, sec, units[2]).quote == "丙句三。" and cite(5, sec, units[2]).span == (12, 16)


def test_markers_to_unsent_sources_are_removed_and_counted():
    text, removed, used = validate_markers("甲[1]。乙[7]。丙[2][1]。丁[0]。", sent=[1, 2, 3])
    assert text == "甲[1]。乙。丙[2][1]。丁。"
    assert removed == 2
    assert used == [1, 2]


def test_grouped_markers_are_split_then_checked():
    text, removed, used = validate_markers("甲[1, 4]。乙[2，3]。", sent=[1, 2, 3])
    assert text == "甲[1]。乙[2][3]。"
    assert (removed, used) == (1, [1, 2, 3])


def test_attach_markers_by_term_overlap():
    sources = ["到2025年,力争高新技术企业达到5000家。", "推进汾河流域生态保护与修复。"]
    out = attach_markers("汾河流域要加强生态修复。高新技术企业目标是5000家。", sources,
                         overlap_similarity(tokenize), min_sim=0.2)
    assert out == "汾河流域要加强生态修复[2]。高新技术企业目标是5000家[1]。"


def test_attach_markers_skips_unsupported_sentences():
    out = attach_markers("今天天气很好。", ["到2025年,力争高新技术企业达到5000家。"],
                         overlap_similarity(tokenize), min_sim=0.2)
    assert out == "今天天气很好。"
