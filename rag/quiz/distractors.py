"""Wrong options for choice items and swaps for false judge items, drawn from the plan itself.

Choice distractors are facts of the same kind from elsewhere in the plan (same unit, same kind
of quote, same kind of place), or other section titles for 「出自哪一节」 items. ``difficulty``
picks them near (hard: close in magnitude / same chapter) or far (easy); when the plan has too
few numbers of a unit, same-unit numbers are made up near or far from the fact.

Not handled here: finding facts (facts.py), building items (generate.py).
"""

from __future__ import annotations

import math
from collections import defaultdict
from random import Random
from typing import Sequence

from rag.corpus import Section
from rag.quiz.facts import NUMBER, Fact, Sentence


def _fmt_number(x: float, like: str) -> str:
    decimals = len(like.split(".")[1]) if "." in like else 0
    return f"{x:.{decimals}f}" if decimals else str(int(round(x)))


def _synthetic(fact: Fact, difficulty: str) -> list[str]:
    """Same-unit numbers near (hard) or far (easy) from the fact, for when the plan has too few."""
    m = NUMBER.fullmatch(fact.text)
    if not m:
        return []
    first, dash, second, unit = m.groups()
    if fact.kind == "year":
        steps = {"hard": (1, -1, 2, -2, 3), "medium": (5, -5, 3, -3, 10), "easy": (10, -10, 15, -15, 5)}
        return [f"{int(first) + d}{unit}" for d in steps[difficulty]]
    factors = {"hard": (1.2, 0.8, 1.5, 0.75, 1.25), "medium": (1.5, 0.5, 2, 0.6, 3),
               "easy": (3, 0.2, 5, 0.1, 10)}[difficulty]
    out = []
    for f in factors:
        a = _fmt_number(float(first) * f, first)
        if unit == "%" and float(a) > 100:
            continue
        b = _fmt_number(float(second) * f, second) if dash else None
        if float(a) <= 0 or a == first:
            continue
        out.append(f"{a}{dash}{b}{unit}" if dash else f"{a}{unit}")
    return out


def _closeness(fact: Fact, sent: Sentence, cand: tuple[str, Section, float | None]) -> tuple:
    """Sort key: smaller = a closer, harder distractor."""
    text, sec, value = cand
    other_chapter = sec.chapter != sent.section.chapter
    if fact.value is not None and value is not None and fact.value > 0 and value > 0:
        return (abs(math.log10(value) - math.log10(fact.value)), other_chapter, text)
    return (other_chapter, abs(len(text) - len(fact.text)), text)


def _pick(cands: list, key, rng: Random, difficulty: str, k: int) -> list:
    """k of ``cands``: from the closest few (hard), the far half (easy) or all (medium)."""
    ordered = sorted(cands, key=key)
    if difficulty == "hard":
        ordered = ordered[:max(k + 2, len(ordered) // 4)]
    elif difficulty == "easy" and len(ordered) >= 2 * k:
        ordered = ordered[len(ordered) // 2:]
    return rng.sample(ordered, min(k, len(ordered)))


class Pools:
    """Facts and section titles of the whole plan, by kind, in document order."""

    def __init__(self, sentences: Sequence[Sentence], sections: Sequence[Section]):
        self.facts: dict[str, dict[str, tuple[str, Section, float | None]]] = defaultdict(dict)
        for s in sentences:
            for f in s.facts:
                self.facts[f.kind].setdefault(f.text, (f.text, s.section, f.value))
        self.titles = [sec for sec in sections if sec.section > 0]
        self.plan_text = "\n".join(sec.text for sec in sections)

    def distractors(self, fact: Fact, sent: Sentence, rng: Random, difficulty: str,
                    k: int = 3) -> list[str]:
        """k unique same-kind values, none equal to the fact or present in the sentence."""
        def ok(text: str) -> bool:
            return text != fact.text and text not in sent.text and fact.text not in text

        cands = [c for c in self.facts.get(fact.kind, {}).values() if ok(c[0])
                 and (fact.value is None or c[2] != fact.value)]
        out = [c[0] for c in _pick(cands, lambda c: _closeness(fact, sent, c), rng, difficulty, k)]
        if len(out) < k and fact.value is not None:
            for text in _synthetic(fact, difficulty):
                if len(out) < k and ok(text) and text not in out:
                    out.append(text)
        return out if len(out) == k else []

    def title_distractors(self, sent: Sentence, rng: Random, difficulty: str) -> list[str]:
        """Three other section titles (siblings when hard, other chapters when easy)."""
        me = sent.section
        cands = [t for t in self.titles if t.section_title != me.section_title]
        cands = list({t.section_title: t for t in cands}.values())
        key = lambda t: (t.chapter != me.chapter, abs(t.chapter - me.chapter),  # noqa: E731
                         abs(t.section - me.section), t.section_title)
        picked = _pick(cands, key, rng, difficulty, 3)
        return [t.section_title for t in picked] if len(picked) == 3 else []
