"""Checking quiz items and answers: the grounding check and practice grading.

``check_item`` re-verifies an item against the source files (span, section, citation, the
answer put back into the stem gives a piece of the sentence, options). ``is_correct`` /
``credit`` accept an option's text or letter (多选: 「ABD」, 「A,B,D」 or the texts), 对/错 for
判断, and for 填空 the answer's alternative forms: without its unit (3 for 3个), Chinese
numerals (二〇二五年, 十二万座), full-width digits and any dash in a range (1—2家 / 1-2家).
多选 is all-or-nothing by default; with ``partial=True`` a pick without wrong options earns
the share of correct options chosen. ``unanswered`` lists the items left blank.

Not handled here: building items (generate.py, items.py), exports (export.py, docx.py).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from rag.corpus import Section
from rag.quiz.facts import NUMBER
from rag.quiz.items import CHOICE_BLANK, CLOZE_BLANK, JUDGE_OPTIONS, QuizItem
from rag.quiz.text import fill, fullwidth, in_sentence


def check_item(item: QuizItem, doc_texts: dict[str, str], sections: Sequence[Section]) -> list[str]:
    """Problems with an item against the source files (empty list = grounded and well-formed)."""
    problems = []
    text = doc_texts.get(item.doc_id, "")
    a, b = item.span
    if fullwidth(text[a:b]) != item.explanation:
        problems.append("span 处的原文与解析不一致")
    sec = next((s for s in sections if s.key == (item.doc_id, item.chapter, item.section)), None)
    if sec is None or not any(x <= a and b <= y for x, y in sec.parts):
        problems.append("句子不在所引的节内")
    elif item.citation != f"「{sec.label}」":
        problems.append("出处标签与所在节不符")
    if item.kind == "section":
        if sec is None or item.answer != sec.section_title:
            problems.append("答案不是所在节的标题")
    elif not item.fact or fullwidth(item.fact) not in item.explanation:
        problems.append("答案（考点）不在所引句子中")
    if item.type in ("cloze", "choice") and item.kind != "section":
        mark = CLOZE_BLANK if item.type == "cloze" else CHOICE_BLANK
        filled = (fill(item.stem, mark, x) for x in (item.answer, f"（{item.answer}）"))
        if item.answer != item.fact or not any(in_sentence(f, item.explanation) for f in filled):
            problems.append("填回答案后与原句不一致")
    if item.type in ("choice", "multi", "source"):
        keys = item.correct if item.type == "multi" else (item.answer,)
        if len(item.options) != 4 or len(set(item.options)) != 4 \
                or sum(o in keys for o in item.options) != len(keys) or not keys:
            problems.append("选项不是 4 个互不相同且含全部正确答案")
    if item.type == "multi":
        if not 2 <= len(item.correct) <= 3 or any(c not in item.fact.split("、") for c in item.correct):
            problems.append("多选题的正确项不是原文列举的内容")
    if item.type == "judge":
        if item.options != JUDGE_OPTIONS or item.answer not in JUDGE_OPTIONS:
            problems.append("判断题选项或答案不合法")
        elif (item.answer == "正确") != in_sentence(item.stem, item.explanation):
            problems.append("判断题答案与题干是否为原文不符")
        elif item.answer == "错误" and not item.change:
            problems.append("错误的判断题没有说明改动")
    return problems


_CN = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0, "两": 2}
_CN_RUN = re.compile(r"[〇零一二三四五六七八九两十百千]+")


def _cn_number(run: str) -> str:
    """二〇二五 → 2025 (digit by digit), 十二 → 12, 三百 → 300 (positional)."""
    if not any(c in "十百千" for c in run):
        return "".join(str(_CN[c]) for c in run)
    total, digit = 0, 0
    for c in run:
        if c in _CN:
            digit = _CN[c]
        else:
            total += (digit or 1) * {"十": 10, "百": 100, "千": 1000}[c]
            digit = 0
    return str(total + digit)


def _norm(s: str) -> str:
    s = unicodedata.normalize("NFKC", str(s)).strip().lower()
    s = re.sub(r"[\s“”\"'「」《》。，,；;]", "", s)
    return re.sub(r"[—–\-~～至到]+", "-", s)


def _number_form(s: str) -> tuple[str, str] | None:
    """(number, unit) of an answer typed as a number, Chinese numerals converted."""
    s = _CN_RUN.sub(lambda m: _cn_number(m.group(0)), _norm(s))
    m = re.fullmatch(r"(\d+(?:\.\d+)?(?:-\d+(?:\.\d+)?)?)(.*)", s)
    if not m:
        return None
    nums = [float(x) for x in m.group(1).split("-")]
    return "-".join(f"{x:g}" for x in nums), m.group(2)


_TRUE = {"正确", "对", "是", "√", "✓", "t", "true", "y", "yes", "a"}
_FALSE = {"错误", "错", "否", "×", "✗", "f", "false", "n", "no", "b"}


def _picked(item: QuizItem, given) -> set[str] | None:
    """The options a multi answer names (letters or texts), None if it names something else."""
    parts = given if isinstance(given, (list, tuple, set)) else re.split(r"[,，、;；\s]+", str(given))
    parts = [p for p in (str(x).strip() for x in parts) if p]
    if len(parts) == 1 and re.fullmatch(r"[A-Da-d]{2,4}", parts[0]):
        parts = list(parts[0])
    out = set()
    for p in parts:
        if re.fullmatch(r"[A-Da-d]", p):
            out.add(item.options[ord(p.upper()) - 65])
        elif p in item.options:
            out.add(p)
        else:
            return None
    return out


def credit(item: QuizItem, given, partial: bool = False) -> float:
    """Share of the item's points earned by ``given`` (0 or 1; multi with partial: 0–1)."""
    if given is None or (isinstance(given, str) and not given.strip()) or given == []:
        return 0.0
    if item.type == "multi":
        picked = _picked(item, given)
        if not picked or picked - set(item.correct):
            return 0.0
        if picked == set(item.correct):
            return 1.0
        return len(picked) / len(item.correct) if partial else 0.0
    g = _norm(given)
    if item.type == "judge":
        return float(g in (_TRUE if item.answer == "正确" else _FALSE))
    if item.type in ("choice", "source"):
        if len(g) == 1 and "a" <= g <= "d" and ord(g) - 97 < len(item.options):
            return float(item.options[ord(g) - 97] == item.answer)
        return float(g == _norm(item.answer))
    if g == _norm(item.answer):
        return 1.0
    if NUMBER.fullmatch(item.answer):  # 2025 / 2025年 / 二〇二五年; 3 / 3个; 1-2家 / 1—2家
        mine, want = _number_form(given), _number_form(item.answer)
        return float(bool(mine and want) and mine[0] == want[0] and mine[1] in ("", want[1]))
    return 0.0


def is_correct(item: QuizItem, given) -> bool:
    """Whether ``given`` fully answers the item."""
    return credit(item, given) == 1.0


def unanswered(items: Sequence[QuizItem], answers: dict) -> list[int]:
    """1-based numbers of the items without an answer (warn before grading these as wrong)."""
    return [i for i, it in enumerate(items, 1)
            if not str(answers.get(it.id) or "").strip() or answers.get(it.id) == []]


def grade(items: Sequence[QuizItem], answers: dict, partial: bool = False) -> tuple[float, list[dict]]:
    """Score a practice attempt: (items answered right, counting partial credit, and one result
    dict per item in quiz order).

    Each result: ``{"id","type","stem","given","answer","correct","credit","explanation",
    "change","citation"}``; a missing answer counts as wrong (see :func:`unanswered`).
    """
    results = []
    for it in items:
        given = answers.get(it.id)
        c = credit(it, given, partial)
        shown = "、".join(map(str, given)) if isinstance(given, (list, tuple)) else given
        results.append({"id": it.id, "type": it.type, "stem": it.stem,
                        "given": "" if shown is None else str(shown), "answer": it.answer,
                        "correct": c == 1.0, "credit": c, "explanation": it.explanation,
                        "change": it.change, "citation": it.citation})
    total = sum(r["credit"] for r in results)
    return (int(total) if total == int(total) else round(total, 2)), results
