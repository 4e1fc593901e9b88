"""Quiz exports: Markdown, CSV (UTF-8 with BOM for Excel), JSON and Word (.docx).

Markdown and Word print the questions grouped by type, then an answer key with each item's
explanation (the source sentence) and citation. CSV has one row per item with options in columns
A–D. JSON is the list of ``QuizItem.to_json()`` dicts, the form ``QuizItem.from_json`` reads back.

Not handled here: building items (generate.py), grading (grading.py).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Sequence

from rag.quiz.generate import QUIZ_TYPES, TYPE_NAMES, QuizError, QuizItem

FORMATS = ("md", "csv", "json", "docx")
LETTERS = "ABCD"
TITLE = "山西省“十四五”规划纲要学习测验"
_SECTION_NO = "一二三四五"
_CSV_HEADER = ["编号", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "解析（原文）", "出处"]


def _groups(items: Sequence[QuizItem]) -> list[tuple[str, list[tuple[int, QuizItem]]]]:
    """[(heading, [(number, item)])] in type order; numbering runs across groups."""
    out, no = [], 0
    for t in QUIZ_TYPES:
        group = [it for it in items if it.type == t]
        if group:
            numbered = [(no + i, it) for i, it in enumerate(group, 1)]
            no += len(group)
            out.append((f"{_SECTION_NO[len(out)]}、{TYPE_NAMES[t]}（共 {len(group)} 题）", numbered))
    return out


def answer_text(item: QuizItem) -> str:
    """The answer as printed in a key: 「B. 5000家」 for choice, the text otherwise."""
    if item.type == "choice":
        return f"{LETTERS[item.options.index(item.answer)]}. {item.answer}"
    return item.answer


def to_markdown(items: Sequence[QuizItem]) -> str:
    """Questions, then an answer key with explanations and citations."""
    lines = [f"# {TITLE}", ""]
    groups = _groups(items)
    for head, numbered in groups:
        lines += [f"## {head}", ""]
        for no, it in numbered:
            stem = it.stem + ("（正确 / 错误）" if it.type == "judge" else "")
            lines.append(f"{no}. {stem}")
            for letter, opt in zip(LETTERS, it.options if it.type == "choice" else ()):
                lines.append(f"   - {letter}. {opt}")
            lines.append("")
    lines += ["---", "", "## 答案与解析", ""]
    for _, numbered in groups:
        for no, it in numbered:
            lines += [f"{no}. **{answer_text(it)}**", f"   - 原文：{it.explanation}",
                      f"   - 出处：{it.citation}", ""]
    return "\n".join(lines)


def to_csv(items: Sequence[QuizItem]) -> str:
    """CSV text (no BOM; the file writer adds it)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(_CSV_HEADER)
    for it in items:
        opts = list(it.options if it.type == "choice" else ()) + [""] * 4
        w.writerow([it.id, TYPE_NAMES[it.type], it.stem, *opts[:4], answer_text(it),
                    it.explanation, it.citation])
    return buf.getvalue()


def to_json(items: Sequence[QuizItem]) -> str:
    """Pretty JSON list of item dicts (UTF-8, not escaped)."""
    return json.dumps([it.to_json() for it in items], ensure_ascii=False, indent=2) + "\n"


def render(items: Sequence[QuizItem], fmt: str) -> str:
    """Text form of md/csv/json (docx is binary: use export_quiz)."""
    renderers = {"md": to_markdown, "csv": to_csv, "json": to_json}
    if fmt not in renderers:
        raise QuizError(f"{fmt} 不是文本格式；可选 {', '.join(renderers)}")
    return renderers[fmt](items)


def _write_docx(items: Sequence[QuizItem], path: Path) -> None:
    from docx import Document
    from docx.enum.text import WD_BREAK
    from docx.oxml.ns import qn
    from docx.shared import Pt

    doc = Document()
    style = doc.styles["Normal"]
    style.font.size = Pt(11)
    style.font.name = "SimSun"  # creates the rFonts element the eastAsia attribute goes on
    # East Asian text needs the eastAsia font attribute or Word falls back to a Latin font.
    style.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")
    doc.add_heading(TITLE, level=1)
    doc.add_paragraph("姓名：__________    得分：__________")
    groups = _groups(items)
    for head, numbered in groups:
        doc.add_heading(head, level=2)
        for no, it in numbered:
            stem = it.stem + ("（正确 / 错误）" if it.type == "judge" else "")
            doc.add_paragraph(f"{no}. {stem}")
            if it.type == "choice":
                doc.add_paragraph("    ".join(f"{l}. {o}" for l, o in zip(LETTERS, it.options)))
    doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
    doc.add_heading("答案与解析", level=2)
    table = doc.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ["题号", "答案", "原文", "出处"]):
        cell.text = text
    for _, numbered in groups:
        for no, it in numbered:
            for cell, text in zip(table.add_row().cells,
                                  [str(no), answer_text(it), it.explanation, it.citation]):
                cell.text = text
    doc.save(str(path))


def export_quiz(items: Sequence[QuizItem], fmt: str, path) -> Path:
    """Write ``items`` to ``path`` as md | csv | json | docx and return the path.

    Raises:
        QuizError: unknown format or an unwritable path.
    """
    if fmt not in FORMATS:
        raise QuizError(f"未知导出格式：{fmt}；可选 {', '.join(FORMATS)}")
    path = Path(path)
    try:
        if fmt == "docx":
            _write_docx(items, path)
        elif fmt == "csv":
            # utf-8-sig: the BOM is what makes Excel read the file as UTF-8, not GBK
            path.write_text(to_csv(items), encoding="utf-8-sig", newline="")
        else:
            path.write_text(render(items, fmt), encoding="utf-8")
    except OSError as exc:
        raise QuizError(f"无法写入 {path}：{exc.strerror}") from None
    return path
