"""Quiz exports: Markdown, CSV (UTF-8 with BOM for Excel), JSON, survey-tool text and Word.

* Markdown: title, scope/seed/date line, questions grouped by type, then an answer key with each
  item's explanation (the source sentence), the change of a false 判断 item and the citation.
* CSV: one row per item — options in columns A–D, the answer as letters (单选 「B」, 多选 「ABD」,
  判断 正确/错误, 填空 the text), then 分值, 难度 (易/中/难), 章, 节, 解析, 出处.
* txt: the plain-text import format of survey/exam tools (问卷星-style): 「1.题干[单选题]」, option
  lines 「A.…」–「D.…」, 「答案：」 and 「解析：」 lines, a blank line between items; tags
  [单选题] [多选题] [填空题] [判断题]; 判断 has no option lines and 「答案：正确|错误」.
* JSON: the list of ``QuizItem.to_json()`` dicts, the form ``QuizItem.from_json`` reads back.
* docx: see rag.quiz.docx.

Not handled here: building items (generate.py), grading (grading.py), the Word layout (docx.py).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Sequence

from rag.quiz.generate import TYPE_NAMES, QuizError, QuizItem
from rag.quiz.sheet import (LETTERS, LEVEL_NAMES, TITLE, QuizMeta, answer_code,  # noqa: F401
                             answer_text, display_stem, groups, key_note, scope_text)

FORMATS = ("md", "csv", "json", "txt", "docx")
_CSV_HEADER = ["编号", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "分值", "难度",
               "章", "节", "解析", "出处"]
_SURVEY_TAG = {"cloze": "[填空题]", "choice": "[单选题]", "multi": "[多选题]", "judge": "[判断题]",
               "source": "[单选题]"}


def to_markdown(items: Sequence[QuizItem], meta: QuizMeta | None = None) -> str:
    """Questions, then an answer key with explanations, changes and citations."""
    lines = [f"# {TITLE}", ""] + ([meta.line(), ""] if meta else [])
    gs = groups(items)
    for head, numbered in gs:
        lines += [f"## {head}", ""]
        for no, it in numbered:
            lines.append(f"{no}. {display_stem(it)}")
            if it.type != "judge":
                lines += [f"   - {letter}. {opt}" for letter, opt in zip(LETTERS, it.options)]
            lines.append("")
    lines += ["---", "", "## 答案与解析", ""]
    for _, numbered in gs:
        for no, it in numbered:
            if it.change:
                lines.append(f"{no}. **{answer_text(it)}**（{it.change}）")
            else:
                lines.append(f"{no}. **{answer_text(it)}**")
            lines += [f"   - 原文：{it.explanation}", f"   - 出处：{it.citation}", ""]
    return "\n".join(lines)


def to_csv(items: Sequence[QuizItem], meta: QuizMeta | None = None) -> str:
    """CSV text (no BOM; the file writer adds it). ``meta`` is not printed (one row per item)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(_CSV_HEADER)
    for it in items:
        opts = list(it.options if it.type != "judge" else ()) + [""] * 4
        w.writerow([it.id, TYPE_NAMES[it.type], it.stem, *opts[:4], answer_code(it), it.points,
                    LEVEL_NAMES.get(it.difficulty, it.difficulty), it.chapter, it.section,
                    key_note(it), it.citation])
    return buf.getvalue()


def to_survey_text(items: Sequence[QuizItem], meta: QuizMeta | None = None) -> str:
    """The survey-tool plain-text import format (see the module docstring)."""
    blocks = []
    for no, it in enumerate(items, 1):
        lines = [f"{no}.{it.stem}{_SURVEY_TAG[it.type]}"]
        if it.type in ("choice", "multi", "source"):
            lines += [f"{letter}.{opt}" for letter, opt in zip(LETTERS, it.options)]
        lines += [f"答案：{answer_code(it)}", f"解析：{key_note(it)}（出处：{it.citation}）"]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def to_json(items: Sequence[QuizItem], meta: QuizMeta | None = None) -> str:
    """Pretty JSON list of item dicts (UTF-8, not escaped)."""
    return json.dumps([it.to_json() for it in items], ensure_ascii=False, indent=2) + "\n"


_TEXT = {"md": to_markdown, "csv": to_csv, "json": to_json, "txt": to_survey_text}


def render(items: Sequence[QuizItem], fmt: str, meta: QuizMeta | None = None) -> str:
    """Text form of md/csv/json/txt (docx is binary: use export_quiz)."""
    if fmt not in _TEXT:
        raise QuizError(f"{fmt} 不是文本格式；可选 {', '.join(_TEXT)}")
    return _TEXT[fmt](items, meta)


def export_quiz(items: Sequence[QuizItem], fmt: str, path, meta: QuizMeta | None = None) -> Path:
    """Write ``items`` to ``path`` as md | csv | json | txt | docx and return the path.

    Raises:
        QuizError: unknown format or an unwritable path.
    """
    if fmt not in FORMATS:
        raise QuizError(f"未知导出格式：{fmt}；可选 {', '.join(FORMATS)}")
    path = Path(path)
    try:
        if fmt == "docx":
            from rag.quiz.docx import write_docx

            write_docx(items, path, meta or QuizMeta())
        elif fmt == "csv":
            # utf-8-sig: the BOM is what makes Excel read the file as UTF-8, not GBK
            path.write_text(to_csv(items), encoding="utf-8-sig", newline="")
        else:
            path.write_text(render(items, fmt, meta), encoding="utf-8", newline="\n")
    except OSError as exc:
        raise QuizError(f"无法写入 {path}：{exc.strerror}") from None
    return path
