"""Checking quiz items and answers: the grounding check and practice grading.

``check_item`` re-verifies an item against the source files (span, section, citation, answer in
sentence, options); ``is_correct`` accepts an option's text or letter, 对/错 for judge items and
a cloze number typed without its unit; ``grade`` scores a practice attempt.

Not handled here: building items (generate.py), exports (export.py).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

from rag.corpus import Section
from rag.quiz.facts import NUMBER
from rag.quiz.generate import CHOICE_BLANK, CLOZE_BLANK, JUDGE_OPTIONS, QuizItem


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
    m = NUMBER.fullmatch(item.answer)  # a cloze number may be typed without its unit
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
