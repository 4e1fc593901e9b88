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
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rag.quiz.generate import QUIZ_TYPES, TYPE_NAMES, QuizError, QuizItem

FORMATS = ("md", "csv", "json", "txt", "docx")
LETTERS = "ABCD"
TITLE = "山西省“十四五”规划纲要学习测验"
LEVEL_NAMES = {"easy": "易", "medium": "中", "hard": "难"}
_SECTION_NO = "一二三四五六"
_CSV_HEADER = ["编号", "题型", "题干", "选项A", "选项B", "选项C", "选项D", "答案", "分值", "难度",
               "章", "节", "解析", "出处"]
_SURVEY_TAG = {"cloze": "[填空题]", "choice": "[单选题]", "multi": "[多选题]", "judge": "[判断题]",
               "source": "[单选题]"}


@dataclass(frozen=True)
class QuizMeta:
    """What a printed quiz says about itself: scope (章节范围), seed, date (YYYY-MM-DD), difficulty."""

    scope: str = "全部章节"
    seed: int = 0
    date: str = ""
    difficulty: str = "mixed"

    def line(self) -> str:
        """「范围：全部章节　难度：混合　随机种子：7　日期：2026-12-01」"""
        diff = {"mixed": "混合", **{k: v for k, v in LEVEL_NAMES.items()}}.get(self.difficulty,
                                                                           self.difficulty)
        parts = [f"范围：{self.scope}", f"难度：{diff}", f"随机种子：{self.seed}"]
        return "　".join(parts + ([f"日期：{self.date}"] if self.date else []))


def scope_text(chapters=None, sections=None) -> str:
    """「第2章、第3章；节 2.1、2.3」 or 「全部章节」 for the printed quiz."""
    parts = []
    if chapters:
        parts.append("、".join(f"第{c}章" for c in chapters))
    if sections:
        parts.append("节 " + "、".join(map(str, sections)))
    return "；".join(parts) or "全部章节"


def groups(items: Sequence[QuizItem]) -> list[tuple[str, list[tuple[int, QuizItem]]]]:
    """[(heading, [(number, item)])] in type order; numbering runs across groups."""
    out, no = [], 0
    for t in QUIZ_TYPES:
        group = [it for it in items if it.type == t]
        if group:
            numbered = [(no + i, it) for i, it in enumerate(group, 1)]
            no += len(group)
            pts = sum(it.points for it in group)
            out.append((f"{_SECTION_NO[len(out)]}、{TYPE_NAMES[t]}（共 {len(group)} 题，{pts} 分）",
                        numbered))
    return out


def answer_text(item: QuizItem) -> str:
    """The answer as printed in a key: 「B. 5000家」, 「AB. 太原、大同」, or the text."""
    if item.type in ("choice", "multi", "source"):
        return f"{item.letters}. {item.answer}"
    return item.answer


def answer_code(item: QuizItem) -> str:
    """The answer as an exam template wants it: letters for choice/multi, text otherwise."""
    return item.letters if item.type in ("choice", "multi", "source") else item.answer


def key_note(item: QuizItem) -> str:
    """Explanation line of the key: the change of a false 判断 item, then the source sentence."""
    return (item.change + "。" if item.change else "") + "原文：" + item.explanation


def display_stem(item: QuizItem) -> str:
    """The stem as printed on paper (判断 items get their answer brackets)."""
    return item.stem + ("（　　）" if item.type == "judge" else "")


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
