"""What happens to a quiz after generation: exports, practice grading and the grounding check.

Exports: Markdown, CSV (UTF-8 with BOM for Excel), JSON and Word (.docx).

Markdown and Word print the questions grouped by type, then an answer key with each item's
explanation (the source sentence) and citation. CSV has one row per item with options in columns
A–D. JSON is the list of ``QuizItem.to_json()`` dicts, the form ``QuizItem.from_json`` reads back.

``grade`` scores a practice attempt (``rag.quiz.grade`` delegates here); ``check_item`` re-verifies
an item against the source files (span, section, citation, answer in sentence, options).

Not handled here: building items (rag/quiz.py).
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from pathlib import Path
from typing import Sequence

from rag.corpus import Section
from rag.quiz import (_NUMBER, CHOICE_BLANK, CLOZE_BLANK, JUDGE_OPTIONS, QUIZ_TYPES, TYPE_NAMES,
                      QuizError, QuizItem, generate_quiz)

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


# ------------------------------------------------------------------ checks and grading (re-exported by rag.quiz)


def check_item(item: QuizItem, doc_texts: dict[str, str], sections: Sequence[Section]) -> list[str]:
    """Problems with an item against the source files (empty list = grounded and well-formed)."""
    problems = []
    text = doc_texts.get(item.doc_id, "")
    a, b = item.span
    if text[a:b] != item.explanation:
        problems.append("span 处的原文与解析不一致")
    sec = next((s for s in sections if (s.doc_id, s.chapter, s.section)
                == (item.doc_id, item.chapter, item.section)), None)
    if sec is None or not any(x <= a and b <= y for x, y in sec.parts):
        problems.append("句子不在所引的节内")
    elif item.citation != f"「{sec.label}」":
        problems.append("出处标签与所在节不符")
    if item.kind == "section":
        if sec is None or item.answer != sec.section_title:
            problems.append("答案不是所在节的标题")
    elif not item.fact or item.fact not in item.explanation:
        problems.append("答案（考点）不在所引句子中")
    if item.type in ("cloze", "choice") and item.kind != "section":
        mark = CLOZE_BLANK if item.type == "cloze" else CHOICE_BLANK
        if item.answer != item.fact or item.stem.replace(mark, item.answer, 1) != item.explanation:
            problems.append("填回答案后与原句不一致")
    if item.type == "choice":
        if len(item.options) != 4 or len(set(item.options)) != 4 or item.options.count(item.answer) != 1:
            problems.append("选项不是 4 个互不相同且恰含一个正确答案")
    if item.type == "judge":
        if item.options != JUDGE_OPTIONS or item.answer not in JUDGE_OPTIONS:
            problems.append("判断题选项或答案不合法")
        elif (item.answer == "正确") != (item.stem == item.explanation):
            problems.append("判断题答案与题干是否为原句不符")
        elif item.answer == "错误" and item.stem in "\n".join(s.text for s in sections):
            problems.append("改动后的句子仍是原文中的句子")
    return problems


def _norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", str(s)).strip().lower()
    return re.sub(r"[\s“”\"'「」]", "", s)


_TRUE = {"正确", "对", "是", "√", "✓", "t", "true", "y", "yes"}
_FALSE = {"错误", "错", "否", "×", "✗", "f", "false", "n", "no"}


def is_correct(item: QuizItem, given: str | None) -> bool:
    """Whether ``given`` answers the item: option text or letter A–D, 对/错, or the cloze phrase."""
    if given is None or not str(given).strip():
        return False
    g = _norm(given)
    if item.type == "judge":
        return g in (_TRUE if item.answer == "正确" else _FALSE)
    if item.type == "choice":
        if len(g) == 1 and "a" <= g <= "d" and ord(g) - 97 < len(item.options):
            return item.options[ord(g) - 97] == item.answer
        return g == _norm(item.answer)
    if g == _norm(item.answer):
        return True
    m = _NUMBER.fullmatch(item.answer)  # a cloze number may be typed without its unit
    return bool(m) and g == _norm(item.answer[:m.start(4)])


def grade(items: Sequence[QuizItem], answers: dict[str, str]) -> tuple[int, list[dict]]:
    """Score a practice attempt: (number correct, one result dict per item in quiz order).

    Each result: ``{"id","type","stem","given","answer","correct","explanation","citation"}``;
    a missing answer counts as wrong.
    """
    results = []
    for it in items:
        given = answers.get(it.id)
        results.append({"id": it.id, "type": it.type, "stem": it.stem,
                        "given": "" if given is None else str(given), "answer": it.answer,
                        "correct": is_correct(it, given), "explanation": it.explanation,
                        "citation": it.citation})
    return sum(r["correct"] for r in results), results


# ------------------------------------------------------------------ CLI


def _int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.replace("，", ",").split(",") if x.strip()]
    except ValueError:
        raise QuizError(f"{what} 应为逗号分隔的整数，如 2,3；收到「{text}」") from None


def run_cli(args, settings) -> int:
    """``python -m rag quiz``: generate, then print (md/json) or write --out."""
    import sys

    from rag.corpus import load_corpus

    if args.format not in FORMATS:
        raise QuizError(f"未知格式：{args.format}；可选 {', '.join(FORMATS)}")
    if args.format in ("csv", "docx") and not args.out:
        raise QuizError(f"{args.format} 格式需要用 --out 指定输出文件")
    corpus = load_corpus(settings.corpus_dir)
    sections_arg = None
    if args.sections:
        sections_arg = [k for k in args.sections.replace("，", ",").split(",") if k.strip()]
    items = generate_quiz(corpus.sections, n=args.n, types=args.types, seed=args.seed,
                          difficulty=args.difficulty, chapters=_int_list(args.chapters, "--chapters"),
                          section_keys=sections_arg)
    if args.out:
        path = export_quiz(items, args.format, args.out)
        counts = {TYPE_NAMES[t]: sum(i.type == t for i in items) for t in QUIZ_TYPES}
        print(f"已生成 {len(items)} 道题（" + "，".join(f"{k} {v}" for k, v in counts.items() if v)
              + f"）：{path}", file=sys.stderr)
    else:
        sys.stdout.write(render(items, args.format))
    return 0
