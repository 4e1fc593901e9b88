"""Quality rules for quiz items: which facts may be asked, how recallable they are, and
plausible swaps for false 判断 items.

* :func:`askable` — a fact worth asking: not in the issuing notice (chapter 0), not the plan's
  own period (十四五, 2025年, 2035年…), a year only when the sentence has nothing else, a
  quoted term of at most 8 characters and not itself a list (a number keeps its unit at any
  length), not a count of the list right before it (太原、大同、临汾3个).
* :func:`level` — easy / medium / hard from how recallable the answer is: place names and
  slogans the plan repeats are easy; round targets medium; exact odd numbers and one-off terms
  hard.
* :func:`swap` — the false value for a 判断 item: a number scaled plausibly with the same unit
  and precision (a graded unit such as 千伏: another grade the plan uses), a place of the same
  kind, a numeral inside a slogan changed (两山七河 → 两山六河), or a same-length slogan of the
  same section that shares its first or last character. None when no swap keeps the sentence
  sensible.

Not handled here: finding facts (facts.py), choosing choice distractors (distractors.py).
"""

from __future__ import annotations

import re
from random import Random

from rag.quiz.facts import NUMBER, Fact, Sentence

LEVELS = ("easy", "medium", "hard")
PERIOD = re.compile(r"^(?:十[一二三四五六]五|[一二三四五六七八九十]+五)$")
_PLAN_YEARS = {"2020年", "2021年", "2025年", "2035年", "2050年"}
CN_DIGITS = "一二三四五六七八九十"
_CN_NUM = re.compile(f"[{CN_DIGITS}两]")
MAX_ANSWER = 8
GRADED_UNITS = {"千伏"}  # values are standard grades (10/35/110千伏): swap only for one the plan uses


def askable(fact: Fact, sent: Sentence) -> bool:
    """Whether ``fact`` may be the answer (or the swapped part) of an item from ``sent``."""
    if sent.section.chapter == 0:
        return False
    if fact.kind.startswith("quote"):
        return len(fact.text) <= MAX_ANSWER and not PERIOD.match(fact.text) \
            and "十四五" not in fact.text and "、" not in fact.text
    if _counts_the_list_before(fact, sent.text):
        return False
    if fact.kind == "year":
        others = [f for f in sent.facts if f.kind != "year"]
        return fact.text not in _PLAN_YEARS and not others
    return True


def _counts_the_list_before(fact: Fact, text: str) -> bool:
    """「太原、大同、临汾3个…城市」: the count of a list just before it gives itself away."""
    m = NUMBER.fullmatch(fact.text)
    if not m or m.group(2) or "." in m.group(1):
        return False
    head = re.split(r"[，,；;：:。“”（）]", text[:fact.start])[-1]
    return len(head.split("、")) == int(m.group(1)) > 1


def _round(text: str) -> bool:
    digits = text.replace(".", "")
    return bool(re.fullmatch(r"[1-9]0*|[1-9]5", digits))


def level(fact: Fact, plan_text: str) -> str:
    """How hard the fact is to recall: easy | medium | hard."""
    kind = fact.kind.split(":")[0]
    if kind in ("place", "org"):
        return "easy"
    if kind == "quote":
        n = plan_text.count(f"“{fact.text}”")
        return "easy" if n >= 3 else "medium" if n == 2 or len(fact.text) <= 3 else "hard"
    m = NUMBER.fullmatch(fact.text)
    if not m:
        return "medium"
    if m.group(2) or "." in m.group(1):
        return "hard"
    return "medium" if _round(m.group(1)) else "hard"


def _fmt(x: float, like: str) -> str:
    """``x`` written like ``like``: the same decimals, or for a whole number no more significant
    digits than it has (150 × 0.75 → 110, not 112)."""
    decimals = len(like.split(".")[1]) if "." in like else 0
    if decimals:
        return f"{x:.{decimals}f}"
    sig = max(1, len(like.rstrip("0")))
    return str(int(round(float(f"{x:.{sig}g}"))))


_FACTORS = {"easy": (2, 0.5, 3), "medium": (1.5, 0.6, 2, 0.5), "hard": (1.2, 0.8, 1.25, 0.75)}


def scaled_numbers(fact: Fact, difficulty: str) -> list[str]:
    """Same-unit, same-precision numbers near (hard) or far (easy) from the fact's number."""
    m = NUMBER.fullmatch(fact.text)
    if not m:
        return []
    first, dash, second, unit = m.groups()
    out = []
    for f in _FACTORS[difficulty]:
        a = _fmt(float(first) * f, first)
        b = _fmt(float(second) * f, second) if dash else None
        if float(a) <= 0 or a == first or (unit in ("%",) and float(b or a) > 100):
            continue
        if dash and (float(b) <= float(a) or b == second):
            continue
        text = f"{a}{dash}{b}{unit}" if dash else f"{a}{unit}"
        if text not in out:
            out.append(text)
    return out


def numeral_variants(term: str) -> list[str]:
    """The slogan with one count moved by one: 五个一批 → 四个一批 / 六个一批, 两山七河 → 两山六河.

    Only counts of 2–9 change (一 in 一带一路 or 一枚印章 is not a count), and 2 is written 两.
    """
    out = []
    for m in _CN_NUM.finditer(term):
        ch = m.group(0)
        if ch in "一十" or (m.end() < len(term) and term[m.end()] in CN_DIGITS) \
                or (m.start() and term[m.start() - 1] in CN_DIGITS):
            continue  # 十 and multi-digit numerals (十四) are left alone
        value = 2 if ch == "两" else CN_DIGITS.index(ch) + 1
        for v in (value + 1, value - 1):
            if 2 <= v <= 9:
                out.append(term[:m.start()] + ("两" if v == 2 else CN_DIGITS[v - 1]) + term[m.end():])
    return out


def swap(fact: Fact, sent: Sentence, pools, rng: Random, difficulty: str) -> str | None:
    """A same-class value to put in place of ``fact`` for a false 判断 item, or None."""
    kind = fact.kind.split(":")[0]
    if kind in ("num", "range") and fact.kind.split(":")[1] in GRADED_UNITS:
        cands = sorted(t for t in pools.facts.get(fact.kind, {}) if t != fact.text)
    elif kind in ("num", "range"):
        cands = scaled_numbers(fact, difficulty)
    elif kind in ("place", "org"):
        cands = sorted(t for t in pools.facts.get(fact.kind, {}) if t != fact.text)
    elif kind == "quote":
        cands = [v for v in numeral_variants(fact.text) if v not in pools.plan_text]
        if not cands:
            cands = [t for t, (_, sec, _) in sorted(pools.facts.get(fact.kind, {}).items())
                     if sec.key == sent.section.key and t != fact.text
                     and len(t) == len(fact.text)
                     and (t[0] == fact.text[0] or t[-1] == fact.text[-1])]
    else:
        cands = []
    cands = [c for c in cands if c not in sent.text and fact.text not in c
             and not (kind == "place" and len(c) > 2 and c[:2] in sent.text)]
    if not cands:
        return None
    return rng.choice(cands)
