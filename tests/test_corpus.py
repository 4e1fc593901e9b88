"""Parser: the real plan's structure and invariants, the tiny plan, and every kind of bad input."""

from __future__ import annotations

import shutil

import pytest

from rag.corpus import cn_to_int, int_to_cn, load_corpus, parse_document, DocumentInfo
from rag.errors import CorpusError
from tests.conftest import REAL_CORPUS


@pytest.fixture(scope="module")
def plan():
    return load_corpus(REAL_CORPUS).documents[0]


def test_chinese_numerals_round_trip():
    assert [cn_to_int(x) for x in ["一", "十", "十四", "二十", "二十三", "一百零五"]] == [1, 10, 14, 20, 23, 105]
    assert all(cn_to_int(int_to_cn(n)) == n for n in range(1, 100))
    with pytest.raises(ValueError):
        cn_to_int("甲")


def test_real_plan_structure(plan):
    numbered = [s for s in plan.sections if s.section > 0]
    intros = [s for s in plan.sections if s.section == 0 and s.chapter > 0]
    assert len(numbered) == 67
    assert [s.chapter for s in intros] == list(range(1, 15))
    assert plan.sections[0].chapter == 0 and plan.sections[0].section == 0
    assert plan.info.number == "晋政发〔2021〕7号"
    s = plan.section(2, 3)
    assert s.label == "第二章 第三节 培育一流创新主体"  # heading written with U+2002
    assert plan.section(1, 5).section_title == "主要目标"
    assert plan.section(13, 0).chapter_title == "实施技能富民战略,不断促进人的全面发展"
    assert plan.section(14, 5).section_title == "健全规划体系实施机制"


def test_real_plan_sections_reproduce_body(plan):
    pre = plan.sections[0]
    assert len(pre.parts) == 2  # the TOC sits between notice and preamble
    toc = plan.text[pre.parts[0][1]:pre.parts[1][0]]
    assert toc.lstrip().startswith("目 录") and "第十四章" in toc
    assert plan.body == plan.text[: pre.parts[0][1]] + plan.text[pre.parts[1][0]:]
    # every section's text is exactly its file span(s), spans are contiguous and ordered
    pos = pre.parts[1][1]
    for s in plan.sections[1:]:
        assert s.text == plan.text[s.parts[0][0]:s.parts[0][1]]
        assert s.parts[0][0] == pos
        pos = s.parts[0][1]
    assert pos == len(plan.text)


def test_toc_matches_body(plan):
    assert len(plan.toc) == 14 + 67
    assert (2, 3, "培育一流创新主体") in plan.toc


def test_tiny_plan_exact(tiny_corpus):
    doc = load_corpus(tiny_corpus).documents[0]
    assert [(s.chapter, s.section) for s in doc.sections] == [(0, 0), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2)]
    assert doc.section(1, 1).section_title == "发展基础"  # U+2002 after 第一节
    assert doc.section(1, 2).section_title == "主要目标"  # NBSP after 第二节
    assert doc.section(0, 0).text.endswith("本纲要阐明全市战略意图,是未来五年的行动纲领。\n\n")
    assert "目 录" not in doc.body


def test_multiple_documents(tiny_corpus):
    shutil.copy(tiny_corpus / "tiny-plan.txt", tiny_corpus / "second.txt")
    with (tiny_corpus / "corpus.toml").open("a", encoding="utf-8") as fh:
        fh.write('\n[[documents]]\nid = "second"\ntitle = "第二份"\nfile = "second.txt"\n')
    corpus = load_corpus(tiny_corpus)
    assert [d.id for d in corpus.documents] == ["tiny", "second"]
    assert {s.doc_id for s in corpus.sections} == {"tiny", "second"}


def _write(tmp_path, content: bytes | str):
    p = tmp_path / "plan.txt"
    if isinstance(content, str):
        content = content.encode("utf-8")
    p.write_bytes(content)
    return DocumentInfo(id="x", title="x", file=p)


TINY_BODY = "序言。\n\n第一章 总体\n\n第一节 甲\n\n正文。\n\n第二节 乙\n\n正文。\n"


@pytest.mark.parametrize("content", [b"", "   \n\n"])
def test_empty_file(tmp_path, content):
    with pytest.raises(CorpusError, match="为空"):
        parse_document(_write(tmp_path, content))


def test_non_utf8_names_file_and_line(tmp_path):
    info = _write(tmp_path, "第一行\n第二行\n".encode("utf-8") + "第三行乱码".encode("gbk"))
    with pytest.raises(CorpusError) as exc:
        parse_document(info)
    assert "plan.txt:3" in str(exc.value) and "UTF-8" in str(exc.value)


def test_binary_file(tmp_path):
    with pytest.raises(CorpusError, match="NUL"):
        parse_document(_write(tmp_path, b"abc\x00\x01\x02"))


def test_no_headings(tmp_path):
    with pytest.raises(CorpusError, match="没有找到任何章标题"):
        parse_document(_write(tmp_path, "只是一段文字。\n没有标题。\n"))


def test_duplicate_chapter(tmp_path):
    text = TINY_BODY + "第二章 创新\n\n第二章 创新\n\n正文。\n"
    with pytest.raises(CorpusError) as exc:
        parse_document(_write(tmp_path, text))
    assert "重复" in str(exc.value) and "plan.txt:14" in str(exc.value)


def test_out_of_order_sections(tmp_path):
    text = "第一章 总体\n\n第一节 甲\n\n第三节 丙\n"
    with pytest.raises(CorpusError, match="顺序错乱") as exc:
        parse_document(_write(tmp_path, text))
    assert "plan.txt:5" in str(exc.value)


def test_section_before_first_chapter(tmp_path):
    with pytest.raises(CorpusError, match="第一章之前"):
        parse_document(_write(tmp_path, "第一节 甲\n\n第一章 总体\n"))


def test_toc_title_mismatch_names_heading(tiny_corpus):
    p = tiny_corpus / "tiny-plan.txt"
    text = p.read_text(encoding="utf-8").replace("  第二节 主要目标", "  第二节 主要指标", 1)
    p.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match="主要指标"):
        load_corpus(tiny_corpus)


def test_missing_manifest(tmp_path):
    with pytest.raises(CorpusError, match="corpus.toml"):
        load_corpus(tmp_path)


def test_oversized_file(tmp_path, monkeypatch):
    import rag.readers as corpus_mod

    monkeypatch.setattr(corpus_mod, "MAX_FILE_BYTES", 10)
    with pytest.raises(CorpusError, match="过大"):
        parse_document(_write(tmp_path, TINY_BODY))


def test_section_offsets_skip_the_toc_gap(plan):
    pre = plan.sections[0]
    (a0, b0), (a1, b1) = pre.parts
    assert pre.slice(a0, b1) == pre.text
    assert pre.slice(b0 - 5, a1 + 5) == plan.text[b0 - 5:b0] + plan.text[a1:a1 + 5]
    assert pre.text_offset(a1) == b0 - a0 and pre.text_offset(b1 + 1) is None
    s = plan.section(2, 3)
    start = s.parts[0][0]
    assert s.slice(start + 10, start + 40) == plan.text[start + 10:start + 40]
    assert s.text_offset(start + 10) == 10
