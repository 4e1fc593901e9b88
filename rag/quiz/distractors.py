"""Wrong options for choice and multi items, drawn from the plan itself and of the answer's kind.

* Numbers: same-unit, same-precision numbers of the plan (never 2.38岁 against 3岁), closest in
  magnitude (hard) or farthest (easy), topped up with the answer scaled (rules.scaled_numbers)
  when the plan has too few (never for graded units such as 千伏).
* Quoted slogans: other slogans of the same shape (numeral-led 「三个一批」, code 「1331」, with +,
  or plain) and a similar length — plain ones only from the same chapter; numeral-led slogans
  also get their own numeral variants (两山七河一流域 → 两山六河一流域).
* Places: the same kind of place (city for city, region for region).
* 出自哪一节: the neighbouring sections of the same chapter.
* Multi items: for a list of places, other places of that kind; for a list of parallel phrases
  sharing an ending (精准治污…), phrases of the same length and ending (up to 2 characters) found in
  other lists or as words elsewhere in the plan, never in the item's own section; a list of
  places with a suffix (阳泉市、吕梁市) gets other places of that kind with it (never 低碳市).

Not handled here: finding facts (facts.py), swaps for 判断 (rules.py), building items.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from random import Random
from typing import Sequence

from rag.corpus import Section
from rag.quiz.facts import Fact, Sentence
from rag.quiz.rules import CN_DIGITS, GRADED_UNITS, PERIOD, numeral_variants, scaled_numbers
from rag.quiz.text import Enumeration
from rag.wordseg import token_spans


def _decimals(text: str) -> int:
    """Digits after the point of a number's first value (3岁 → 0, 2.38岁 → 2)."""
    m = re.match(r"\d+(?:\.(\d+))?", text)
    return len(m.group(1) or "") if m else 0


def shape(text: str) -> str:
    """Coarse shape of a quoted term: code, plus, numeral or plain."""
    if re.fullmatch(r"[\dA-Za-z]+", text):
        return "code"
    if "+" in text:
        return "plus"
    if text[0] in CN_DIGITS + "两双":
        return "numeral"
    return "plain"


def _closeness(fact: Fact, sent: Sentence, cand: tuple[str, Section, float | None]) -> tuple:
    """Sort key: smaller = a closer, harder distractor."""
    text, sec, value = cand
    other_chapter = sec.chapter != sent.section.chapter
    if fact.value is not None and value is not None and fact.value > 0 and value > 0:
        return (abs(math.log10(value) - math.log10(fact.value)), other_chapter, text)
    # terms: those sharing the answer's last character first, then same chapter, similar length
    return (text[-1] != fact.text[-1], other_chapter, abs(len(text) - len(fact.text)), text)


def _pick(cands: list, key, rng: Random, difficulty: str, k: int) -> list:
    """k of ``cands``: from the closest few (hard), the far half (easy) or the closer half."""
    ordered = sorted(cands, key=key)
    if difficulty == "hard":
        ordered = ordered[:max(k + 1, len(ordered) // 4)]
    elif difficulty == "easy" and len(ordered) >= 2 * k:
        ordered = ordered[len(ordered) // 2:]
    elif len(ordered) >= 2 * k:
        ordered = ordered[:len(ordered) // 2]
    return rng.sample(ordered, min(k, len(ordered)))


class Pools:
    """Facts, section titles and list phrases of the whole plan, by kind, in document order."""

    def __init__(self, sentences: Sequence[Sentence], sections: Sequence[Section],
                 lists: Sequence[tuple[Sentence, Enumeration]] = ()):
        self.facts: dict[str, dict[str, tuple[str, Section, float | None]]] = defaultdict(dict)
        for s in sentences:
            for f in s.facts:
                self.facts[f.kind].setdefault(f.text, (f.text, s.section, f.value))
        self.sections = list(sections)
        self.plan_text = "\n".join(sec.text for sec in sections)
        self.phrases: dict[tuple[str, int], set[str]] = defaultdict(set)  # (ending, len)
        for _, e in lists:
            if e.kind.startswith("suffix"):
                for p in e.members:
                    for k in (1, 2):
                        self.phrases[(p[-k:], len(p))].add(p)
        self._words: dict[tuple[str, int], set[str]] | None = None

    def words(self) -> dict[tuple[str, int], set[str]]:
        """jieba words of the plan by (ending of 1 or 2 characters, length) (built on first use)."""
        if self._words is None:
            self._words = defaultdict(set)
            for sec in self.sections:
                for a, b in token_spans(sec.text):
                    w = sec.text[a:b]
                    if 2 <= len(w) <= 6 and re.fullmatch(r"[\u4e00-\u9fff]+", w):
                        for k in (1, 2):
                            self._words[(w[-k:], len(w))].add(w)
        return self._words

    def distractors(self, fact: Fact, sent: Sentence, rng: Random, difficulty: str,
                    k: int = 3) -> list[str]:
        """k unique same-kind values, none equal to the fact or present in the sentence."""
        def ok(text: str) -> bool:  # 中原城市群 is no distractor where the sentence names 中原
            return text != fact.text and text not in sent.text \
                and not any(f.text in text for f in sent.facts) \
                and not (fact.kind.startswith("place") and len(text) > 2 and text[:2] in sent.text)

        cands = [c for c in self.facts.get(fact.kind, {}).values() if ok(c[0])
                 and (fact.value is None
                      or (c[2] != fact.value and _decimals(c[0]) == _decimals(fact.text)))]
        if fact.kind.startswith("quote"):
            want = shape(fact.text)
            cands = [c for c in cands if shape(c[0]) == want and abs(len(c[0]) - len(fact.text)) <= 2
                     and not PERIOD.match(c[0]) and "十四五" not in c[0] and "、" not in c[0]]
            if want == "plain":  # plain slogans: only the same chapter's (same topic), else no item
                cands = [c for c in cands if c[1].chapter == sent.section.chapter]
            own = [v for v in numeral_variants(fact.text) if ok(v) and v not in self.plan_text]
            if own:
                rng.shuffle(own)
                cands = [(v, sent.section, None) for v in own[:2]] + cands
                out = [c[0] for c in cands[:min(2, len(own))]]
                rest = _pick(cands[len(out):], lambda c: _closeness(fact, sent, c), rng,
                             difficulty, k - len(out))
                out += [c[0] for c in rest]
                return out if len(out) == k else []
        out = [c[0] for c in _pick(cands, lambda c: _closeness(fact, sent, c), rng, difficulty, k)]
        if len(out) < k and fact.value is not None and fact.kind.split(":")[1] not in GRADED_UNITS:
            for text in scaled_numbers(fact, difficulty) + scaled_numbers(fact, "medium"):
                if len(out) < k and ok(text) and text not in out:
                    out.append(text)
        return out if len(out) == k else []

    def section_distractors(self, sent: Sentence, rng: Random) -> list[str]:
        """Three neighbouring section titles of the same chapter ([] when it has fewer than 4)."""
        me = sent.section
        same = [s for s in self.sections if s.doc_id == me.doc_id and s.chapter == me.chapter
                and s.section > 0 and s.section_title != me.section_title]
        same.sort(key=lambda s: (abs(s.section - me.section), s.section))
        return [s.section_title for s in same[:3]] if len(same) >= 3 else []

    def _place_kind(self, names: list[str]) -> str | None:
        kinds = {k for n in names for k, v in self.facts.items() if k.startswith("place") and n in v}
        return kinds.pop() if len(kinds) == 1 and all(
            any(n in v for k, v in self.facts.items() if k.startswith("place")) for n in names) else None

    def list_distractors(self, e: Enumeration, sent: Sentence, rng: Random, k: int) -> list[str]:
        """k wrong members of the list's kind, none in the item's section."""
        own = sent.section.text
        tail = e.kind.split(":", 1)[1]
        places = self._place_kind([m[:-len(tail)] for m in e.members]) \
            if e.kind.startswith("suffix") else None
        if places:  # 阳泉市、吕梁市、忻州市: other cities with 市, never 低碳市
            cands = sorted(t + tail for t in self.facts[places] if t + tail not in e.members)
        elif e.kind.startswith("suffix"):
            key = (tail, len(e.members[0]))
            cands = sorted(self.phrases.get(key, set()) - set(e.members))
            if len(cands) < k:
                cands += sorted(self.words().get(key, set()) - set(e.members) - set(cands))
        else:
            cands = sorted(t for t in self.facts.get(e.kind, {}) if t not in e.members)
        cands = [c for c in cands if c not in own]
        return rng.sample(cands, k) if len(cands) >= k else []
