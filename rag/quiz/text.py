"""Stem text: full-width punctuation, cutting a sentence to the clause that carries a fact,
and enumerations (「京津冀、环渤海、中原」) inside a sentence.

A stem is a contiguous piece of the source sentence (one or more whole clauses, plus a leading
time clause such as 「到2025年，」 when the fact's clause depends on it), printed with full-width
punctuation and ending in 。. :func:`clause_span` returns the piece's offsets in the sentence so
that the grounding check can compare it with the plan's text.

Not handled here: finding facts (facts.py), choosing distractors, building items.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.quiz.facts import token_boundaries

_FULL = {",": "，", ";": "；", ":": "：", "?": "？", "!": "！", "(": "（", ")": "）"}
_HALF_RE = re.compile(r"[,;:?!()]")
_CLAUSE_END = "，,；;：:。！？!?"
_TIME_LEAD = re.compile(r"^(?:到|至|力争到|争取到)(?:\d{4}年|“十四五”末)")
STEM_MAX = 100      # hard cap on a stem's length (characters)
_STEM_MIN = 20      # context (the clause without the phrase) shorter than this gets a neighbour
_STEM_SOFT = 70     # ... but only while the piece stays this short


def fullwidth(text: str) -> str:
    """Half-width , ; : ? ! ( ) as full-width, except between digits (1,000 / 10:30)."""
    def swap(m: re.Match) -> str:
        i = m.start()
        if m.group(0) in ",:" and 0 < i < len(text) - 1 and text[i - 1].isdigit() \
                and text[i + 1].isdigit():
            return m.group(0)
        return _FULL[m.group(0)]
    return _HALF_RE.sub(swap, text)


_OPEN, _CLOSE = "“（(《", "”）)》"
# A clause led by a coverb (依托…、围绕…) or ending in 「为主导」 is an adverbial: it needs the next one.
_ADVERBIAL_HEAD = re.compile(r"^(?:——)?(?:在|依托|围绕|按照|通过|借助|依靠|立足|聚焦|对标|针对|面向|结合|"
                             r"根据|基于|坚持以|构筑以|以)")
_ADVERBIAL_TAIL = re.compile(r"为(?:主导|主体|基础|重点|核心|支撑|载体|平台|抓手|引领|统领|牵引|依托|"
                             r"骨干|网底|补充)[，,]$")


def _clauses(text: str) -> list[tuple[int, int]]:
    """(start, end) of each clause, the end including its punctuation mark; never inside quotes
    or brackets."""
    out, start, depth = [], 0, 0
    for i, ch in enumerate(text):
        if ch in _OPEN:
            depth += 1
        elif ch in _CLOSE:
            depth = max(0, depth - 1)
        elif ch in _CLAUSE_END and depth == 0:
            out.append((start, i + 1))
            start = i + 1
    if start < len(text):
        out.append((start, len(text)))
    return out


def _adverbial(piece: str) -> bool:
    return bool(_ADVERBIAL_HEAD.match(piece) or _ADVERBIAL_TAIL.search(piece))


def clause_span(text: str, start: int, end: int) -> tuple[int, int] | None:
    """The piece of ``text`` to print as a stem for the phrase at [start, end).

    The clause holding the phrase; an adverbial clause (依托…，) takes the clause after it; then,
    while the text around the phrase is shorter than 20 characters, the clause before it (which
    often names the subject) or else the one after, as long as the piece stays within 70
    characters (an adverbial's clause may take it to :data:`STEM_MAX`). None when the phrase's
    own clause is already longer than that.
    """
    cl = _clauses(text)
    i = next(k for k, (a, b) in enumerate(cl) if a <= start < b)
    j = next(k for k, (a, b) in enumerate(cl) if a < end <= b)
    if cl[j][1] - cl[i][0] > STEM_MAX:
        return None

    def fits(a: int, b: int, limit: int = STEM_MAX) -> bool:
        return cl[b][1] - cl[a][0] <= limit

    while j < len(cl) - 1 and _adverbial(text[cl[j][0]:cl[j][1]]) and fits(i, j + 1):
        j += 1
    while cl[j][1] - cl[i][0] - (end - start) < _STEM_MIN:
        if i > 0 and fits(i - 1, j, _STEM_SOFT):
            i -= 1
        elif j < len(cl) - 1 and fits(i, j + 1, _STEM_SOFT):
            j += 1
        else:
            break
    return cl[i][0], cl[j][1]


def lead_clause(text: str) -> str:
    """The sentence's leading time clause (「到2025年,」) or ''."""
    first = _clauses(text)[0]
    piece = text[first[0]:first[1]]
    return piece if _TIME_LEAD.match(piece) and len(piece) <= 14 else ""


PAST_LEAD = "“十三五”时期，"  # stems from the 「“十三五”发展成就」 section say which period they report


def stem_text(text: str, a: int, b: int, start: int, end: int, mark: str,
              past: bool = False) -> str:
    """``text[a:b]`` with [start, end) replaced by ``mark``, a lead clause, full-width, ending in 。.

    ``past``: the sentence reports the previous plan period; the stem then starts with
    :data:`PAST_LEAD` unless the piece names that period itself.
    """
    piece = text[a:start] + mark + text[end:b]
    lead = lead_clause(text)
    if a > 0 and lead and not piece.startswith(lead):
        piece = lead + piece
    elif past and "十三五" not in piece:
        piece = PAST_LEAD + piece
    piece = piece.lstrip("—-－ ")
    piece = fullwidth(piece.rstrip("，,；;：:。"))
    return piece + "。"


def fill(stem: str, mark: str, answer: str) -> str:
    """The stem with its blank filled back (for the grounding check)."""
    return stem.replace(mark, answer, 1)


def in_sentence(stem: str, sentence: str) -> bool:
    """Whether a filled-in stem is a piece of ``sentence`` (full-width), its lead clause allowed."""
    piece, full = stem.rstrip("。"), fullwidth(sentence)
    if piece.startswith(PAST_LEAD):
        piece = piece[len(PAST_LEAD):]
    if piece in full:
        return True
    lead = fullwidth(lead_clause(sentence))
    return bool(lead) and piece.startswith(lead) and piece[len(lead):] in full


@dataclass(frozen=True)
class Enumeration:
    """A list of parallel phrases joined by 、 in a sentence; (start, end) covers the whole list."""

    start: int
    end: int
    members: tuple[str, ...]
    kind: str  # "place:city" etc. for gazetteer lists, "suffix:X" for lists sharing the ending X


_LIST_RE = re.compile(r"[\u4e00-\u9fff]{2,6}(?:、[\u4e00-\u9fff]{2,6}){2,7}")


def common_suffix(words) -> str:
    """The longest shared ending (at most 2 characters) of all ``words``, shorter than each."""
    for k in (2, 1):
        tails = {w[-k:] for w in words}
        if len(tails) == 1 and all(len(w) > k for w in words):
            return tails.pop()
    return ""


def _prefix(word: str, names) -> str | None:
    return next((word[:k] for k in range(len(word), 1, -1) if word[:k] in names), None)


def _suffix(word: str, names) -> str | None:
    return next((word[k:] for k in range(len(word) - 1) if word[k:] in names), None)


def enumerations(text: str, place_kinds: dict[str, str]) -> list[Enumeration]:
    """Lists of 3–8 members joined by 、, each a whole-token phrase of 2–6 characters.

    Two kinds: gazetteer names of one kind (cities, regions…), and parallel phrases of one
    length that share an ending of 1–2 characters (精准治污、科学治污、依法治污). The first and last
    members are cut to a gazetteer name or to the middle members' length, so the verb before a
    list or the noun after it never joins it.
    """
    bounds = token_boundaries(text)
    out = []
    for m in _LIST_RE.finditer(text):
        parts = m.group(0).split("、")
        mid = parts[1:-1]
        if all(p in place_kinds for p in mid):
            first, last = _suffix(parts[0], place_kinds), _prefix(parts[-1], place_kinds)
            members = (first, *mid, last)
            if None in members:
                continue
            kinds = {place_kinds[p] for p in members}
            kind = kinds.pop() if len(kinds) == 1 else None
        else:
            n = len(mid[0])
            if any(len(p) != n for p in mid) or len(parts[0]) < n or len(parts[-1]) < n:
                continue
            members = (parts[0][-n:], *mid, parts[-1][:n])
            tail = common_suffix(members)
            kind = f"suffix:{tail}" if tail else None
        start = m.start() + len(parts[0]) - len(members[0])
        end = m.end() - len(parts[-1]) + len(members[-1])
        if kind is None or len(set(members)) != len(members) or start not in bounds \
                or end not in bounds:
            continue
        out.append(Enumeration(start, end, members, kind))
    return out
