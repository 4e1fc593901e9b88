"""The direct-answer line: what the question asks, cut verbatim from the cited sentences.

An answer opens with one line a civil servant can paste: the value with its unit and time
frame for 多少/几/何时 questions, the named items for 哪些 questions, the defining clause for
是什么 questions, one point per section for broad questions (怎么说/有哪些部署/如何推进).
Every piece is a verbatim substring of a cited sentence (asserted); only the joining
punctuation and the [n] markers are added. The answer type is read from the question by
general means (question words, the asked unit, enumeration commas), never from a list of
this plan's phrases.

Not handled here: choosing the sentences (rag.answering), refusal (rag.refusal).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.evidence import ASKS_TIME, asks_number, asks_ordinal, holds_answer_type, ordinal
from rag.wordseg import token_spans, tokenize

VALUE, ITEMS, DEFINE, BROAD, OTHER = "value", "items", "define", "broad", "other"

_BROAD = re.compile(r"怎么说|如何(推进|发展|建设|部署|做|实现|落实|开展|加强|推动)|怎样(推进|发展|建设)|"
                    r"有(哪些|什么|啥)(部署|安排|举措|措施|任务|工作|要求|规划|打算|重点|政策)|"
                    r"(部署|安排|举措|措施|任务|打算|政策)(有哪些|是什么|有什么)|提到了?什么|说了什么|讲了什么|"
                    r"(怎么|怎样|如何)(安排|讲|部署)|(讲|说|提)了(哪些|什么)")
_ITEMS = re.compile(r"哪些|哪几|哪[一二三四五六七八九十两\d]+[个项座家类种条市]|包括什么|包含什么")
_DEFINE = re.compile(r"是什么|指什么|什么是|是指|含义|意思|内涵|指的是|是啥|啥是")
_SHARE = re.compile(r"(比重|比例|占比|率|增速|增长)[^，。？]{0,6}(多少|几)")
# clause boundaries inside a sentence; a clause keeps no boundary punctuation
_CLAUSE_END = "，,；;：:。！？!?"
_TIME = re.compile(r"(?:到|至|在|于)?(?:20\d\d年(?:底|末|前)?|“十[三四五]五”(?:时期|期间|末)?|十[三四五]五(?:时期|期间|末))")
_ENUM = re.compile(r"[^、，,；;：:。]+(?:、[^、，,；;：:。]+){1,}")
MAX_POINT = 90  # characters of one broad point before it is cut at a clause end
MAX_LINE = 90  # characters of a statement's cut: its best clause and whole neighbours


def question_kind(question: str) -> str:
    """What the question asks for: a value, named items, a definition, a broad overview."""
    if asks_number(question) or ASKS_TIME.search(question) or _SHARE.search(question):
        return VALUE
    if _BROAD.search(question):
        return BROAD
    if _DEFINE.search(question):
        return DEFINE
    if _ITEMS.search(question):
        return ITEMS
    return OTHER


_COUNTED = re.compile(r"哪([一二三四五六七八九十两]+|\d+)(个|项|座|家|类|种|条|大|批|方面)")


def states_count(question: str, text: str) -> bool:
    """Whether a sentence states the count a 「哪两大/哪三个…」 question asks about (「两大产业化
    基地」); False when the question asks no count."""
    m = _COUNTED.search(question)
    return bool(m) and m.group(1) + m.group(2) in text


def has_items(text: str) -> bool:
    """Whether a sentence names items: an enumeration (A、B、C) or a quoted name."""
    return bool(_ENUM.search(text)) or "“" in text


_DEFINES = re.compile(r"”?(是|即|指|包括|包含|涵盖|分别为|分别是)|[（(：:]")


def fits_kind(kind: str, text: str) -> int:
    """How well a sentence has the shape the answer type wants (2 best, 0 none)."""
    if kind == ITEMS:
        return 2 if _ENUM.search(text) else int("“" in text)
    if kind == DEFINE:
        return int(bool(_DEFINES.search(text)))
    return 0


_ASKS = re.compile(r"多少|几|哪|什么|何时|如何|怎么|怎样|是否|吗|啥|谁|(?<![很许诸众较好])多[大高长远宽深久](?![的家])")
_PART_SEP = re.compile(r"[、，,；;？?]|以及|并且|同时|另外|还有")


_RESPECTIVELY = "分别"
_CONJ = {"和", "与", "及", "以及", "跟", "同", "、"}
_PREP = {"在", "对", "就", "围绕", "关于", "对于", "从", "把"}
_STOP = set("，,；;：:。？?！!")
_CONJ_TAIL = re.compile(r"(?:这|那)?(?:两|三|四|几)?个?(?:方面|领域|项|件事)?上?$")


def split_respectively(question: str) -> list[str]:
    """「A和B…分别…」 asks the same of A and of B: one question per conjunct
    (「高端人才引进和劳动者技能提升，分别怎么安排」 → 「高端人才引进，怎么安排」 and
    「劳动者技能提升，怎么安排」); the question itself when it has no such shape. Conjunctions
    and prepositions are read from jieba's tokens (从 in 从业人员 is no preposition)."""
    at = question.find(_RESPECTIVELY)
    if at < 0:
        return [question]
    head = question[:at]
    toks = token_spans(head)
    conj = [i for i, (a, b) in enumerate(toks) if head[a:b] in _CONJ]
    if not conj:
        return [question]
    c = conj[-1]
    lo = c
    while lo > 0 and head[slice(*toks[lo - 1])] not in _STOP | _PREP:
        lo -= 1
    frame = _TIME.match(head, toks[lo][0])  # a time frame in front (到2025年粮食和蔬菜…)
    if frame and frame.end() > toks[lo][0]:  # belongs to every conjunct
        while lo < c and toks[lo][0] < frame.end():
            lo += 1
    hi = c
    while hi + 1 < len(toks) and head[slice(*toks[hi + 1])] not in _STOP:
        hi += 1
    start, end = toks[lo][0], toks[hi][1]
    span = head[start:end]
    groups: list[list[str]] = [[]]  # the conjuncts, as jieba tokens
    for a, b in token_spans(span):
        if span[a:b] in _CONJ:
            groups.append([])
        else:
            groups[-1].append(span[a:b])
    # a trailing 方面/上 of the last conjunct (…两方面分别) is the question's, not the conjunct's,
    # unless the other conjuncts end with it too (经济方面和社会方面); cut at a token boundary only
    tail = _CONJ_TAIL.search(span).group(0)
    if tail and "".join(groups[-1]).endswith(tail) and not any(
            "".join(g).endswith(tail) for g in groups[:-1]):
        last = "".join(groups[-1])[:-len(tail)]
        if last not in {"".join(groups[-1][:i]) for i in range(len(groups[-1]))}:
            tail = ""  # 重点项目: 项 is inside a word
        else:
            groups[-1] = [last] if last else []
    else:
        tail = ""
    conjuncts = ["".join(g).strip() for g in groups]
    if len(conjuncts) < 2 or any(len(x) < 2 for x in conjuncts):
        return [question]
    # a bare one-word modifier shares the last conjunct's head noun (粮食和蔬菜产量 → 粮食产量)
    shared = "".join(groups[-1][1:]) if len(groups[-1]) > 1 else ""
    conjuncts = [x + shared if len(g) == 1 and len(x) <= 2 and i < len(groups) - 1 else x
                 for i, (x, g) in enumerate(zip(conjuncts, groups))]
    post = re.sub(r"^(?:这|那)?(?:两|三|四|几)个?", "", tail) + head[end:] \
        + question[at + len(_RESPECTIVELY):]
    return [question[:start] + x + post for x in conjuncts]


def split_parts(question: str) -> list[str]:
    """The sub-questions of a multi-part question (「2020年粮食产量是多少、“十四五”末要达到
    多少」 → two; 「A和B分别…」 → one per conjunct), split where both sides ask something;
    one part when it asks one thing."""
    parts = _split_asking(question)
    out = [x for part in parts for x in split_respectively(part.strip())]
    return out if len(out) > 1 else [question]


def _split_asking(question: str) -> list[str]:
    """A question split at its punctuation and conjunctions where both sides ask something."""
    body = question.strip().rstrip("？?。")
    pieces, start = [], 0
    for m in _PART_SEP.finditer(body):
        left, right = body[start:m.start()], body[m.end():]
        if _ASKS.search(left) and _ASKS.search(right):
            pieces.append(left)
            start = m.end()
    pieces.append(body[start:])
    pieces = [p.strip() for p in pieces if p.strip()]
    return pieces if len(pieces) > 1 else [question]


_OPEN, _CLOSE = "“‘「『《（(【", "”’」』》）)】"


def _quoted(text: str) -> list[bool]:
    """Per character: whether it stands inside a quotation or bracket (「“家庭为主、托育补充,
    政策引导…”」 is one phrase); all False when the marks do not pair up."""
    depth, inside = 0, []
    for ch in text:
        if ch in _CLOSE and depth:
            depth -= 1
        inside.append(depth > 0)
        if ch in _OPEN:
            depth += 1
    return inside if depth == 0 else [False] * len(text)


def clauses(text: str) -> list[tuple[int, int]]:
    """Spans of the clauses of a sentence (between clause punctuation outside quotation marks
    and brackets), whitespace trimmed."""
    out, start = [], 0
    inside = _quoted(text) + [False]
    for i, ch in enumerate(text + "。"):
        if (ch in _CLAUSE_END and not inside[i]) or i == len(text):
            a, b = start, min(i, len(text))
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
            if b > a:
                out.append((a, b))
            start = i + 1
    return out


@dataclass(frozen=True)
class Piece:
    """A verbatim cut of a cited sentence and the citation number it carries."""

    text: str
    n: int


class DirectAnswer:
    """Builds the direct-answer line from the cited sentences of an extractive answer."""

    def __init__(self, idf):
        self.idf = idf  # token -> inverse sentence frequency (rag.evidence.SentenceScorer.idf)

    def topic(self, question: str) -> list[str]:
        """The question's content tokens (question words and one-character function words dropped)."""
        drop = set(tokenize("多少 几 哪些 什么 怎么 如何 怎样 是否 目标 要求 规划 提出 达到 主要 全省 山西"))
        return [t for t in dict.fromkeys(tokenize(question))
                if t not in drop and (len(t) > 1 or re.fullmatch(r"[A-Za-z0-9]+", t))]

    def _cover(self, topic: list[str], text: str) -> float:
        toks = set(tokenize(text))
        total = sum(self.idf(t) for t in topic) or 1.0
        return sum(self.idf(t) for t in topic if t in toks) / total

    def cut(self, question: str, kind: str, sentence: str) -> str:
        """The part of one sentence that answers the question (verbatim, maybe the whole)."""
        spans = clauses(sentence)
        if not spans:
            return sentence.strip()
        topic = self.topic(question)
        scored = []
        for i, (a, b) in enumerate(spans):
            text = sentence[a:b]
            fits = True
            if kind == VALUE:
                fits = holds_answer_type(question, text) and _quantity(question, text)
            elif kind == ITEMS:
                fits = fits_kind(ITEMS, text)
            scored.append((fits, self._cover(topic, text), -i, (a, b)))
        fitting = [s for s in scored if s[0]]
        if not fitting:
            if kind == VALUE:
                return ""
            fitting = scored
        best = max(fitting, key=lambda s: (s[0], s[1], s[2]))
        a, b = best[3]
        idx = spans.index((a, b))
        if kind in (OTHER, DEFINE, ITEMS):  # a statement reads as a whole: grow to its neighbours
            return sentence[slice(*_grow(spans, idx, MAX_LINE))].strip()
        # a value clause that does not name the topic borrows the clause before it
        # (「全省高新技术企业, 达到5000家」)
        if kind in (VALUE, ITEMS) and idx > 0 and best[1] < 0.34:
            prev = spans[idx - 1]
            if self._cover(topic, sentence[prev[0]:b]) > best[1]:
                a = prev[0]
        if kind in (DEFINE, OTHER) and idx + 1 < len(spans) and b - a < 12:
            b = spans[idx + 1][1]  # a short clause says little alone: take the next one too
        piece = sentence[a:b]
        if kind == VALUE:
            piece = self._with_time(sentence, a, piece)
        return piece

    @staticmethod
    def _with_time(sentence: str, start: int, piece: str) -> str:
        """Prefix the sentence's own time frame (到2025年…) when the cut leaves it out."""
        if _TIME.search(piece):
            return piece
        frames = [m for m in _TIME.finditer(sentence) if m.end() <= start]
        if not frames:
            return piece
        return f"{frames[-1].group(0)}，{piece}"

    def line(self, question: str, pieces: list[Piece]) -> str | None:
        """The direct-answer line from (text, n) pieces; None when nothing fits."""
        pieces = [p for p in pieces if p.text]
        if not pieces:
            return None
        if len(pieces) == 1:
            return _end(pieces[0].text, pieces[0].n)
        return "\n".join(f"{i}. {_end(p.text, p.n)}" for i, p in enumerate(pieces, start=1))


def _grow(spans: list[tuple[int, int]], idx: int, limit: int) -> tuple[int, int]:
    """The clause ``idx`` widened by whole neighbouring clauses (the one after first) while
    the cut stays within ``limit`` characters."""
    lo = hi = idx
    while True:
        a, b = spans[lo][0], spans[hi][1]
        if hi + 1 < len(spans) and spans[hi + 1][1] - a <= limit:
            hi += 1
        elif lo > 0 and b - spans[lo - 1][0] <= limit:
            lo -= 1
        else:
            return a, b


_YEARS = re.compile(r"(?:19|20)\d\d(?:[-/.]\d\d?[-/.]\d\d?|(?:—|-|－)?(?:(?:19|20)\d\d)?年?)")


def _quantity(question: str, text: str) -> bool:
    """Whether a clause states an amount (a year alone is a time, not an amount, unless the
    question asks when)."""
    if ASKS_TIME.search(question):
        return bool(_YEARS.search(text))
    if asks_ordinal(question):
        return ordinal(text)
    rest = _YEARS.sub("", text)
    # 一批 (a batch) names no amount
    return bool(re.search(r"\d|[一二三四五六七八九十两百千万]+(?:个|项|家|座|所|倍|种|条|大|成)", rest))


def _end(text: str, n: int) -> str:
    """A piece with its marker and a full stop."""
    body = text.rstrip(_CLAUSE_END + " ")
    return f"{body}[{n}]。"


def verbatim(piece: str, source: str) -> bool:
    """Whether every part of a piece (split at the joining 「，」「：」 we may add) stands in
    ``source``."""
    return all(part in source for part in re.split("[，：]", piece) if part)
