"""A conversation written out for a report: Markdown and Word (.docx, A4).

Input is the app's turn records (plain dicts kept in the browser session): each question,
its answer (direct line and text without the plain 来源 list), and every citation with its
label and quoted sentence. Both formats hold all of them, in order.

Not handled here: where the files go (rag.ui.handlers writes them to a per-request folder),
the chat display.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

TITLE = "规划问答记录"
SOURCE_LINE = "山西省国民经济和社会发展第十四个五年规划和2035年远景目标纲要"


def _cites(turn: dict) -> list[dict]:
    return [c for c in turn.get("citations") or [] if isinstance(c, dict)]


def to_markdown(turns: list[dict], when: datetime | None = None) -> str:
    """The conversation as Markdown: ## per question, answer, numbered sources with quotes."""
    when = when or datetime.now()
    out = [f"# {TITLE}", "", f"依据：《{SOURCE_LINE}》 · 导出于 {when:%Y-%m-%d %H:%M}", ""]
    for i, t in enumerate(turns, 1):
        out += [f"## 问题 {i}：{t['question']}", ""]
        if t.get("direct"):
            out += [f"**{t['direct']}**", ""]
        out += [t.get("answer", ""), ""]
        cites = _cites(t)
        if cites:
            out.append("来源：")
            out += [f"- [{c['n']}] 「{c['label']}」：“{' '.join(c['quote'].split())}”" for c in cites]
            out.append("")
    return "\n".join(out).rstrip() + "\n"


def write_docx(turns: list[dict], path: Path, when: datetime | None = None) -> Path:
    """The conversation as an A4 Word document (question heading, answer, sources table)."""
    from docx import Document
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    when = when or datetime.now()
    doc = Document()
    for sec in doc.sections:
        sec.page_width, sec.page_height = Mm(210), Mm(297)
        sec.left_margin = sec.right_margin = Mm(25)
    normal = doc.styles["Normal"]
    normal.font.size, normal.font.name = Pt(11), "SimSun"
    normal.element.rPr.rFonts.set(qn("w:eastAsia"), "宋体")  # CJK text needs the eastAsia font
    doc.add_heading(TITLE, level=1)
    doc.add_paragraph(f"依据：《{SOURCE_LINE}》 · 导出于 {when:%Y-%m-%d %H:%M}")
    for i, t in enumerate(turns, 1):
        doc.add_heading(f"问题 {i}：{t['question']}", level=2)
        if t.get("direct"):
            doc.add_paragraph().add_run(t["direct"]).bold = True
        for line in (t.get("answer") or "").splitlines():
            if line.strip():
                doc.add_paragraph(line.strip())
        cites = _cites(t)
        if cites:
            table = doc.add_table(rows=1, cols=3)
            table.style = "Table Grid"
            for cell, text in zip(table.rows[0].cells, ["编号", "出处", "引用原文"]):
                cell.text = text
            for c in cites:
                for cell, text in zip(table.add_row().cells,
                                      [f"[{c['n']}]", f"「{c['label']}」", " ".join(c["quote"].split())]):
                    cell.text = text
    path = Path(path)
    doc.save(str(path))
    return path
