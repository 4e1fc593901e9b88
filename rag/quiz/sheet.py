"""What every quiz export shares: the answer letters, the title and scope line, how items are
grouped by type, the answer key and the note on a false 判断 item (「原文为X，题干改为Y」).

Not handled here: writing any format (rag.quiz.export for text formats, rag.quiz.docx for Word).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from rag.quiz.generate import QUIZ_TYPES, TYPE_NAMES, QuizItem

LETTERS = "ABCD"
TITLE = "山西省“十四五”规划纲要学习测验"
LEVEL_NAMES = {"easy": "易", "medium": "中", "hard": "难"}
_SECTION_NO = "一二三四五六"


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


