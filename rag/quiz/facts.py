"""Testable facts in the plan's sentences: numbers with units, quoted terms, gazetteer names.

Facts are numbers with a unit (5000家, 50%, 1400万人次, 2025年), quoted programmes or slogans
(“1331”, “六新”) and place/organisation names from a small gazetteer. A fact always covers
whole jieba tokens and whole numbers, so blanking or swapping it never cuts a word in two.
:data:`NUMBER` is the one pattern for a number with its unit (distractors and grading use it).

Not handled here: choosing distractors (distractors.py), building or grading items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from rag.chunking import split_sentences
from rag.corpus import Section
from rag.wordseg import token_spans

_MIN_SENT, _MAX_SENT = 14, 160  # shorter: a heading-like fragment; longer: unreadable as a stem

# Longest first so 万千瓦 wins over 千瓦 and 个百分点 over 个.
UNITS = sorted("""万亿元 亿元 万元 亿美元 万美元 美元 亿公斤 万公斤 亿立方米 亿方 万千瓦 千瓦 亿吨 万吨 吨
万人次 万人 人次 万户 户 家 个百分点 万个 个 项 条 万座 座 万公里 公里 万平方公里 平方公里 万亩 亩 % 倍
岁 所 处 万辆 万套 千伏 年 万""".split(), key=len, reverse=True)
# groups: 1 first number, 2 range dash, 3 second number, 4 unit
NUMBER = re.compile(r"(?<![\d.．A-Za-z])(\d+(?:\.\d+)?)(?:([—\-~～])(\d+(?:\.\d+)?))?("
                    + "|".join(map(re.escape, UNITS)) + r")(?![\d.A-Za-z])")
_QUOTE = re.compile(r"“([^“”\n]{2,12})”")
# Small gazetteer: name -> kind. Longest match wins (太原理工大学 over 太原).
_PLACES = {
    **{c: "place:city" for c in "太原 大同 朔州 忻州 吕梁 晋中 阳泉 长治 晋城 临汾 运城".split()},
    **{r: "place:river" for r in "汾河 桑干河 滹沱河 漳河 沁河 涑水河 大清河 黄河".split()},
    **{m: "place:mountain" for m in "太行山 吕梁山 五台山 恒山 中条山".split()},
    **{g: "place:region" for g in "京津冀 长三角 粤港澳大湾区 雄安新区 关中平原城市群 中原城市群 环渤海"
       .split()},
    "黄河流域": "place:basin",  # a river basin is no city cluster: it is swapped with nothing
    **{g: "place:subregion" for g in "晋北 晋南 晋东南 晋中南".split()},
    **{u: "org:university" for u in "清华大学 北京大学 山西大学 太原理工大学 中北大学".split()},
}
_PLACE_RE = re.compile("|".join(sorted(map(re.escape, _PLACES), key=len, reverse=True)))
_SENT_PUNCT = "。！？；!?;"


@dataclass(frozen=True)
class Fact:
    """A testable phrase inside a sentence; start/end are relative to the sentence text."""

    start: int
    end: int
    text: str
    kind: str
    value: float | None = None  # numbers only (first number of a range)


@dataclass(frozen=True)
class Sentence:
    """A source sentence (whitespace-trimmed) with its file span and facts."""

    section: Section
    start: int
    end: int
    text: str
    facts: tuple[Fact, ...]


def token_boundaries(text: str) -> set[int]:
    """Offsets where a jieba token starts or ends (a blank must begin and end on these)."""
    out = {0, len(text)}
    for a, b in token_spans(text):
        out.update((a, b))
    return out


def _number_kind(m: re.Match) -> str:
    unit = m.group(4)
    if m.group(2):
        return f"range:{unit}"
    if unit == "年" and re.fullmatch(r"(19|20)\d\d", m.group(1)):
        return "year"
    return f"num:{unit}"


def find_facts(text: str) -> list[Fact]:
    """Numbers with units, quoted terms and gazetteer names in ``text``, aligned to jieba tokens."""
    bounds = token_boundaries(text)
    facts: list[Fact] = []
    for m in _QUOTE.finditer(text):
        inner = m.group(1)
        kind = "quote:code" if re.fullmatch(r"[\dA-Za-z+]+", inner) else "quote:term"
        facts.append(Fact(m.start(1), m.end(1), inner, kind))
    taken = [(f.start - 1, f.end + 1) for f in facts]  # the quote marks belong to the quote

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    for m in _PLACE_RE.finditer(text):
        if free(m.start(), m.end()) and m.start() in bounds and m.end() in bounds:
            facts.append(Fact(m.start(), m.end(), m.group(0), _PLACES[m.group(0)]))
            taken.append((m.start(), m.end()))
    for m in NUMBER.finditer(text):
        if free(m.start(), m.end()) and m.start() in bounds and m.end() in bounds:
            facts.append(Fact(m.start(), m.end(), m.group(0), _number_kind(m), float(m.group(1))))
    return sorted(facts, key=lambda f: f.start)


def section_sentences(section: Section) -> list[Sentence]:
    """Complete sentences of a section (ending in 。；！？) with their file spans and facts."""
    out, rel = [], 0
    for a, b in section.parts:
        piece = section.text[rel:rel + (b - a)]
        for s, e in split_sentences(piece, a):
            raw = piece[s - a:e - a]
            text = raw.strip()
            if not text or text[-1] not in _SENT_PUNCT:
                continue  # headings, list labels and metadata lines carry no sentence mark
            s += len(raw) - len(raw.lstrip())
            if not _MIN_SENT <= len(text) <= _MAX_SENT:
                continue
            out.append(Sentence(section, s, s + len(text), text, tuple(find_facts(text))))
        rel += b - a
    return out


@lru_cache(maxsize=4)
def analyse_sections(sections: tuple[Section, ...]) -> tuple[Sentence, ...]:
    """Every usable sentence of ``sections`` with its facts, in document order (cached)."""
    return tuple(s for sec in sections for s in section_sentences(sec))
