"""Readers (.docx/.pdf/.html/.txt) and the generalised structure: the real plan converted to
each format, a 示例市 plan with 篇/章/节, a special plan with 一、/（一）, and malformed files."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.corpus import DocumentInfo, load_corpus, parse_document
from rag.errors import CorpusError
from rag.readers import read_plan
from tests.conftest import REAL_CORPUS
from tests.plan_files import city_plan, special_plan, write_docx, write_html, write_pdf

WRITERS = {"docx": write_docx, "pdf": write_pdf, "html": write_html}


@pytest.fixture(scope="module")
def plan():
    return load_corpus(REAL_CORPUS).documents[0]


def _parse(path: Path, doc_id: str = "x", title: str = "x", named: bool = False):
    return parse_document(DocumentInfo(doc_id, title, path), named=named)


def _outline(doc):
    return [(s.chapter, s.section, s.chapter_title, s.section_title) for s in doc.sections]


def _lossless(doc) -> None:
    """The sections' texts, in order, are the extracted text minus the TOC block."""
    parts = [p for s in doc.sections for p in s.parts]
    assert "".join(doc.text[a:b] for a, b in parts) == doc.body
    covered = sum(b - a for a, b in parts)
    gap = [(b0, a1) for (_, b0), (a1, _) in zip(parts, parts[1:]) if a1 != b0]
    assert len(gap) <= 1 and covered + sum(b - a for a, b in gap) == len(doc.text)
    if gap:
        assert doc.text[gap[0][0]:gap[0][1]].lstrip().startswith("目")


@pytest.mark.parametrize("fmt", ["docx", "pdf", "html"])
def test_real_plan_round_trip(plan, tmp_path, fmt):
    doc = _parse(WRITERS[fmt](plan.text, tmp_path / f"plan.{fmt}"))
    assert len(doc.sections) == 82
    assert _outline(doc) == _outline(plan)
    assert [s.label for s in doc.sections] == [s.label for s in plan.sections]
    assert doc.toc == plan.toc
    _lossless(doc)


def test_pdf_drops_running_header_and_page_numbers(plan, tmp_path):
    text = read_plan(write_pdf(plan.text, tmp_path / "plan.pdf", header="山西省人民政府文件"))
    assert "山西省人民政府文件" not in text
    assert "— 7 —" not in text and "— 1 —" not in text
    # wrapped lines are joined again: a long paragraph of the plan comes back whole
    long_line = max(plan.text.split("\n"), key=len).strip()
    assert long_line in text


def test_html_drops_navigation_and_furniture(plan, tmp_path):
    text = read_plan(write_html(plan.text, tmp_path / "plan.html"))
    for junk in ("首页", "当前位置", "扫一扫", "打印本页", "关闭窗口", "网站标识码", "不是正文"):
        assert junk not in text
    assert "第二章 实施创新驱动发展" in text


@pytest.mark.parametrize("fmt", ["docx", "pdf"])
def test_city_plan_with_parts(tmp_path, fmt):
    doc = _parse(WRITERS[fmt](city_plan(), tmp_path / f"city.{fmt}"), "city", "示例市规划")
    assert [(s.part, s.chapter, s.section) for s in doc.sections][:5] == [
        (0, 0, 0), (1, 1, 0), (1, 1, 1), (1, 1, 2), (1, 2, 0)]
    s = doc.section(3, 2)
    assert (s.part, s.part_title) == (2, "创新驱动")
    assert s.label == "第二篇 第三章 第二节 创新人才"
    assert s.heading_path == "第二篇 创新驱动 > 第三章 科技创新 > 第二节 创新人才"
    intro = doc.section(4, 0)  # a 篇 heading and its intro open its first chapter's intro
    assert intro.text.startswith("第三篇") and "第四章" in intro.text
    assert len({s.key for s in doc.sections}) == len(doc.sections)
    assert (4, 1, "黄河流域保护") in doc.toc
    _lossless(doc)


def test_special_plan_numbered_items(tmp_path):
    doc = _parse(write_html(special_plan(), tmp_path / "special.html"), "eco", "生态规划")
    assert [(s.chapter, s.section) for s in doc.sections] == [
        (0, 0), (1, 0), (1, 1), (1, 2), (2, 0), (2, 1), (2, 2), (3, 0), (3, 1)]
    s = doc.section(1, 1)  # 「（一）指导思想。坚持……」: the title runs into the paragraph
    assert s.section_title == "指导思想" and "绿水青山" in s.text
    assert s.label == "一、（一）指导思想"
    assert doc.section(2, 0).label == "二、主要任务（章首）"
    assert doc.section(2, 2).heading_path == "二、主要任务 > （二）深入打好碧水保卫战"
    _lossless(doc)


def test_bundled_plan_ignores_item_numbering_inside_chapters(plan):
    assert all(s.numbering == "" and s.part == 0 for s in plan.sections)


def test_labels_name_the_document_when_several(tmp_path, plan):
    city = _parse(write_docx(city_plan(), tmp_path / "city.docx"), "city", "示例市规划", named=True)
    assert city.section(3, 2).label == "《示例市规划》第二篇 第三章 第二节 创新人才"
    assert city.section(3, 2).ref.to_json()["document"] == "示例市规划"
    assert "document" not in plan.section(2, 3).ref.to_json()


def test_chapters_restarting_in_each_part_are_refused(tmp_path):
    text = "第一篇 甲\n第一章 子\n正文。\n第二篇 乙\n第一章 丑\n正文。\n"
    p = tmp_path / "p.txt"
    p.write_text(text, encoding="utf-8")
    with pytest.raises(CorpusError, match="章号须全文连续") as exc:
        _parse(p)
    assert "p.txt:5" in str(exc.value)


# ------------------------------------------------------------------ malformed files


def test_encrypted_pdf(tmp_path):
    from reportlab.lib.pdfencrypt import StandardEncryption
    from reportlab.pdfgen import canvas

    p = tmp_path / "locked.pdf"
    c = canvas.Canvas(str(p), encrypt=StandardEncryption("secret", canPrint=0))
    c.drawString(72, 720, "secret plan")
    c.save()
    with pytest.raises(CorpusError, match="已加密"):
        read_plan(p)


def test_image_only_pdf(tmp_path):
    from reportlab.pdfgen import canvas

    p = tmp_path / "scan.pdf"
    c = canvas.Canvas(str(p))
    c.rect(72, 72, 400, 600, fill=1)
    c.showPage()
    c.save()
    with pytest.raises(CorpusError, match="扫描件"):
        read_plan(p)


def test_docx_without_headings(tmp_path):
    p = write_docx("只是一段文字。\n没有任何标题。\n", tmp_path / "plain.docx")
    with pytest.raises(CorpusError, match="没有找到任何章标题"):
        _parse(p)


@pytest.mark.parametrize("name, data, message", [
    ("fake.pdf", b"<html>not a pdf</html>", "不是有效的 PDF"),
    ("broken.docx", b"PK\x03\x04 truncated", "不是有效的 .docx"),
    ("old.doc", b"\xd0\xcf\x11\xe0", "另存为 .docx"),
])
def test_file_that_is_not_what_its_name_says(tmp_path, name, data, message):
    p = tmp_path / name
    p.write_bytes(data)
    with pytest.raises(CorpusError, match=message):
        read_plan(p)


@pytest.mark.parametrize("page", ["<html><head><title>t</title></head></html>",
                                  "<html><body>  </body></html>"])
def test_html_without_body(tmp_path, page):
    p = tmp_path / "empty.html"
    p.write_text(page, encoding="utf-8")
    with pytest.raises(CorpusError, match="没有正文"):
        read_plan(p)


@pytest.mark.parametrize("encoding, name", [("gbk", "GB18030"), ("utf-16", "UTF-16"),
                                            ("utf-16-le", "UTF-16")])
def test_txt_in_other_encodings_names_iconv(tmp_path, encoding, name):
    p = tmp_path / "plan.txt"
    p.write_bytes(city_plan().encode(encoding))
    with pytest.raises(CorpusError) as exc:
        read_plan(p)
    assert f"iconv -f {name} -t UTF-8" in str(exc.value) and "plan.txt" in str(exc.value)
