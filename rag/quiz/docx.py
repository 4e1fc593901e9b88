"""Word (.docx) export of a quiz: A4 pages numbered in the footer, a title block with scope,
seed and date, the questions by type, then on a new page an answer key (题号, 答案, 解析 — with
「原文为X，题干改为Y」 for false 判断 items — and 出处).

The file is byte-identical for the same items and meta: the zip entries get a fixed timestamp
and the document properties a fixed creation time (the quiz date).

Not handled here: the text formats (export.py), building items.
"""

from __future__ import annotations

import io
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Sequence

from rag.quiz.sheet import (LETTERS, TITLE, QuizMeta, answer_text, display_stem, groups,
                             key_note)
from rag.quiz.items import QuizItem


def _page_field(paragraph) -> None:
    """Append 「第 {PAGE} 页」 with a real PAGE field (Word fills in the number)."""
    from docx.oxml import OxmlElement
    from docx.oxml.ns import qn

    paragraph.add_run("第 ")
    run = paragraph.add_run()
    for kind, text in (("begin", None), (None, " PAGE "), ("separate", None), (None, "1"),
                       ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText" if text.strip() == "PAGE" else "w:t")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._r.append(el)
    paragraph.add_run(" 页")


def _fixed_zip(raw: bytes, when: tuple) -> bytes:
    """Rewrite the zip with every entry dated ``when``, so equal content gives equal bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(raw)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=when)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))
    return out.getvalue()


def write_docx(items: Sequence[QuizItem], path: Path, meta: QuizMeta) -> None:
    """Write the quiz as an A4 Word document with numbered pages and an answer key."""
    from docx import Document
    from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    doc = Document()
    section = doc.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(25)
    section.top_margin = section.bottom_margin = Mm(25)
    style = doc.styles["Normal"]
    style.font.size = Pt(11)
    style.font.name = "SimSun"  # creates the rFonts element the eastAsia attribute goes on
    # East Asian text needs the eastAsia font attribute or Word falls back to a Latin font.
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    footer = section.footer.paragraphs[0]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    _page_field(footer)
    when = datetime.strptime(meta.date, "%Y-%m-%d") if meta.date else datetime(2021, 4, 13)
    doc.core_properties.created = doc.core_properties.modified = when
    doc.core_properties.title = TITLE
    doc.core_properties.revision = 1

    title = doc.add_heading(TITLE, level=1)
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    info = doc.add_paragraph(meta.line())
    info.alignment = WD_ALIGN_PARAGRAPH.CENTER
    total = sum(it.points for it in items)
    doc.add_paragraph(f"共 {len(items)} 题，满分 {total} 分。　姓名：__________　单位：__________　"
                      "得分：__________")
    gs = groups(items)
    for head, numbered in gs:
        doc.add_heading(head, level=2)
        for no, it in numbered:
            doc.add_paragraph(f"{no}. {display_stem(it)}")
            if it.type != "judge" and it.options:
                for letter, opt in zip(LETTERS, it.options):
                    doc.add_paragraph(f"{letter}. {opt}").paragraph_format.left_indent = Mm(8)
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_heading("答案与解析", level=2)
    table = doc.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ["题号", "答案", "解析", "出处"]):
        cell.text = text
    for _, numbered in gs:
        for no, it in numbered:
            for cell, text in zip(table.add_row().cells,
                                  [str(no), answer_text(it), key_note(it), it.citation]):
                cell.text = text
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(_fixed_zip(buf.getvalue(), when.timetuple()[:6]))
