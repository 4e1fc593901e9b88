"""Sentence-level evidence: score the sentences of retrieved sections for a question.

Every sentence of the plan is already an index unit (``kind='s'``) with its vector in
Chroma; the vectors are read once into a matrix so scoring a question's candidate
sentences is one matrix product, never a re-embedding. A sentence's score mixes

- cosine similarity with the question (the query vector retrieval already computed),
- IDF-weighted coverage of the question's jieba tokens (BM25-style term overlap),
- a small prior for the retrieval rank of its section

(weights in Settings: evidence_w_coverage, evidence_w_rank). The top sentences are checked
once for scope (:meth:`SentenceScorer.in_scope`: the asked value type, time frame and years)
and carry the result (``Scored.in_scope``) to the refusal features and the answer.

Not handled here: the refusal decision (refusal.py), composing the answer (answering.py),
citations (citations.py).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace

import numpy as np

from rag.chunking import Chunk
from rag.config import Settings
from rag.retrieval import Hit
from rag.store import Index
from rag.wordseg import tokenize

# A question asking for an amount / a time, and the unit it wants (longest first).
ASKS_NUMBER = re.compile(r"多少|(?<!哪)几[个项家座所年岁张套条种批倍]|百分之几|第几|(?<![很许诸众较好])多[大高长远宽深](?![的家])")
ASKS_TIME = re.compile(r"哪一年|哪年|什么时候|何时|哪一天|哪天|几月|几号|日期|什么日子")
# 几 that asks nothing: 这几年/前几年/近几年/好几个/十几个 (a few), and any 几 in a yes/no
# question (「能少跑几个部门吗」「是不是要多上几年班」: can I…, not how many)
_VAGUE_JI = re.compile(r"(?:这|那|前|近|头|过去|最近|好|十|数)几")
_YES_NO = re.compile(r"[吗么嘛][？?。！!\s]*$|是不是|是否|有没有|能不能|会不会|要不要|可不可以|没有[？?。\s]*$")
# an ordinal answers 第几: 第三, 三号, a quoted numbered period (“八五”), 首个
_ORDINAL = re.compile(r"第[0-9一二三四五六七八九十百]+|[0-9一二三四五六七八九十]+号|“[一二三四五六七八九]五”|首[个批次家位]")


def asks_number(question: str) -> bool:
    """Whether a question asks for an amount or an ordinal (多少, 几个, 百分之几, 第几); a
    vague 几 (这几年, 好几个, 几 in a yes/no question) does not ask for one."""
    yes_no = bool(_YES_NO.search(question))
    for m in ASKS_NUMBER.finditer(question):
        if not m.group(0).startswith("几"):
            return True
        if not yes_no and not _VAGUE_JI.search(question[max(0, m.start() - 2):m.end()]):
            return True
    return False


def ordinal(text: str) -> bool:
    """Whether a text states an ordinal (第三, 一号, “八五”)."""
    return bool(_ORDINAL.search(text))


def asks_ordinal(question: str) -> bool:
    """Whether a question asks which in order (第几, 排第几)."""
    return "第几" in question
_UNITS = sorted("""亿元 万元 元 亿吨 万吨 吨 万千瓦 千瓦 平方公里 公里 万人 人次 人 家 座 个 项 所 张 套 条 岁
年 亩 立方米 微克 户 倍 种 批 亿方""".split(), key=len, reverse=True)
_NUM = r"(?:[0-9０-９][0-9０-９.,，—\-~]*|[一二三四五六七八九十两百千]+)[万亿千百]?"
_ANY_NUMBER = re.compile(r"[0-9０-９]|[一二三四五六七八九十两百千]+(?:个|项|家|座|所|年|岁|张|套|条|倍|种|批|大)|百分之")
_A_YEAR = re.compile(r"(?:19|20)\d\d(?:年|[-/.]\d\d?[-/.]\d\d?)|年底|年前")
_PAST_SECTION = "十三五"  # the review section(s) of the previous plan: past facts, not targets
PLAN_YEARS = range(2021, 2026)  # the plan period (十四五); 2020 and before are records
_PLAN_YEARS = frozenset(map(str, PLAN_YEARS))
# a question asking for a target: a year from the plan's first on (到2020年 asks for a record)
_FUTURE_Q = re.compile(r"到20(?:2[1-9]|[3-9]\d)|十四五|末|要|目标|计划|将|力争|打算|以后|将来|今后")


SHORT_SENTENCE = 40  # characters; a shorter sentence is read with the one before it
LEAD_MAX = 24  # characters; a paragraph's one-clause first sentence this short is its heading
_PERIOD = re.compile(r"十([一二三四五六七八九])五|(?<!\d)((?:19|20)\d\d)(?!\d)")
_PERIODS = {"二": "十二五", "三": "十三五", "四": "十四五", "五": "十五五", "六": "十六五"}


def periods(text: str) -> frozenset[str]:
    """The plan periods a text speaks of: 十三五/十四五…, with years mapped to their period
    (2021–2025 → 十四五, 2016–2020 → 十三五) and far years kept as they are (2035)."""
    out = set()
    for m in _PERIOD.finditer(text):
        if m.group(1):
            out.add(_PERIODS.get(m.group(1), m.group(0)))
            continue
        year = int(m.group(2))
        out.add("十三五" if 2016 <= year <= 2020 else "十四五" if 2021 <= year <= 2025 else str(year))
    return frozenset(out)


def asked_unit(question: str) -> str | None:
    """The unit a 多少/几 question asks for (多少家 → 家), '%' for shares, else None."""
    m = re.search(r"(?:多少|几)(\S{0,4})", question)
    if m:
        for unit in _UNITS:
            if m.group(1).startswith(unit):
                return unit
    if "百分之几" in question or re.search(r"(比重|比例|占比|率)[^，。？]{0,6}多少", question):
        return "%"
    return None


def holds_answer_type(question: str, text: str) -> bool:
    """Whether a sentence holds the kind of value the question asks for (number, unit, year)."""
    if ASKS_TIME.search(question) and not _A_YEAR.search(text):
        return False
    if not asks_number(question):
        return True
    if asks_ordinal(question):
        return ordinal(text)
    unit = asked_unit(question)
    if unit == "%":
        return bool(re.search(r"%|％|百分点|百分之|[一二三四五六七八九]成", text))
    if unit is not None:
        return bool(re.search(_NUM + "(?:多|余|以上)?(?:" + _SAME_UNIT.get(unit, unit) + ")", text))
    return bool(_ANY_NUMBER.search(text))


# units a question may name for the plan's: 个 is the general measure word (多少个基站 → 12万座),
# 家 and 户 both count enterprises
_SAME_UNIT = {"个": "个|座|所|项|家|户|张|套|条|种|批|处|台|只|块", "家": "家|户", "户": "户|家"}


@dataclass(frozen=True)
class Scored:
    """One candidate sentence with its scores."""

    unit: Chunk
    hit: Hit  # the retrieved section it belongs to
    cosine: float
    coverage: float  # IDF-weighted share of question tokens found in the sentence
    score: float
    in_scope: bool = False  # holds the asked value type/time frame (checked for the top ones)


_CLAUSE_MARKS = re.compile(r"[。；;，,：:！？!?、]")


def is_statement(text: str) -> bool:
    """False for lines that state nothing: headings (第三节 …), 附件:, 扫一扫… page furniture.

    They stay in the index (retrieval matches titles) but are never quoted as an answer.
    """
    text = text.strip()
    return bool(_CLAUSE_MARKS.search(text.rstrip(":：")) or len(text) >= 25)


_ANNOUNCES = re.compile(r"(以下|如下)[^，,。；;]{0,16}[。:：]$|[:：]$")


_PUNCTUATED = re.compile(r"[，,。；;！？!?：:、]|\.(?!\d)")
TITLE_MIN = 13  # characters; a longer line with no punctuation at all is a title or heading


def is_announcement(text: str) -> bool:
    """A sentence that only announces what follows (…要努力实现以下主要目标。 / …远景目标是:),
    or a title or heading line (no punctuation at all: 「…2035年远景目标纲要」), which names
    a subject and says nothing of it."""
    text = text.strip()
    return announces(text) or (len(text) >= TITLE_MIN and not _PUNCTUATED.search(text))


def is_heading(unit: Chunk) -> bool:
    """Whether a sentence unit is its chapter's or section's heading line (第三章 …), which
    names a subject and says nothing of it."""
    text = " ".join(unit.text.split())
    return any(text == " ".join(part.split()) for part in unit.heading_path.split(" > "))


def announces(text: str) -> bool:
    """A sentence that announces what follows (its time frame frames what follows)."""
    return bool(_ANNOUNCES.search(text.strip()))


def _names(word: str, text: str) -> bool:
    """Whether ``text`` names ``word``: as a substring, or through all of its parts
    (粮食产量 in 「粮食总产量」)."""
    if word in text:
        return True
    parts = [t for t in tokenize(word) if t != word]
    return bool(parts) and all(t in text for t in parts)


class SentenceScorer:
    """Holds every sentence's vector and tokens; scores candidates for a question."""

    def __init__(self, index: Index, settings: Settings):
        self.index = index
        self.settings = settings
        self.sentences: dict[tuple, list[Chunk]] = {}  # (doc, chapter, section) -> sentences
        units = [u for u in index.units.values() if u.kind == "s"]
        for u in units:
            if is_statement(u.text):
                self.sentences.setdefault(u.key, []).append(u)
        self._frame: dict[str, frozenset[str]] = {}  # sentence id -> periods it speaks of
        self._prev: dict[str, Chunk] = {}  # sentence id -> the statement before it
        self._para: dict[str, tuple[list[Chunk], Chunk | None]] = {}  # id -> (paragraph, lead)
        for key in self.sentences:
            self.sentences[key].sort(key=lambda u: u.ordinal)
            current: frozenset[str] = frozenset()
            for u in self.sentences[key]:
                own = periods(u.text)
                if announces(u.text):  # 我省到2035年的远景目标是: frames what follows
                    current = own
                self._frame[u.id] = own or current
            for a, b in zip(self.sentences[key], self.sentences[key][1:]):
                self._prev[b.id] = a
            self._paragraphs(index, key)
        got = index.sentence_store._collection.get(include=["embeddings"])
        vecs = np.asarray(got["embeddings"], dtype=np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        self._row = {uid: i for i, uid in enumerate(got["ids"])}
        self._vecs = vecs
        self._tokens = {u.id: set(tokenize(u.text)) for u in units}
        df: dict[str, int] = {}
        for toks in self._tokens.values():
            for t in toks:
                df[t] = df.get(t, 0) + 1
        n = len(units)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._idf_unknown = math.log((n + 1) / 0.5)
        self._sec_cache: dict[tuple, set[str]] = {}  # section key -> tokens, filled lazily
        self.plan_years = {m.group(0) for s in index.sections
                           for m in re.finditer(r"(?:19|20)\d\d", s.text)}
        self._plan_text = "".join(s.text for s in index.sections)
        self._mentions: dict[str, bool] = {}

    def _paragraphs(self, index: Index, key: tuple) -> None:
        """Group a section's statements into paragraphs (a line break between two sentences
        starts a new one) and note each paragraph's lead: a short first sentence of one clause
        that heads the sentences after it (「创优环境引才。」)."""
        units = self.sentences[key]
        section = index.section(*key)
        paragraph: list[Chunk] = []
        for i, u in enumerate(units):
            if paragraph and "\n" in section.slice(units[i - 1].end, u.start):
                self._close(paragraph)
                paragraph = []
            paragraph.append(u)
        if paragraph:
            self._close(paragraph)

    def _close(self, paragraph: list[Chunk]) -> None:
        first = paragraph[0].text.strip()
        lead = len(paragraph) > 1 and len(first) <= LEAD_MAX \
            and not _CLAUSE_MARKS.search(first.rstrip("。；;:：")) and not announces(first)
        for u in paragraph:
            self._para[u.id] = (paragraph, paragraph[0] if lead else None)

    def inherits_frame(self, unit: Chunk, asked: frozenset[str]) -> bool:
        """Whether a sentence speaks of an asked period only through the announcement before
        it (「我省到2035年的远景目标是:」 frames the goals after it), i.e. is content of that
        period rather than a sentence naming it in passing."""
        return bool(asked & self._frame.get(unit.id, frozenset())) and not periods(unit.text)

    def paragraph(self, unit: Chunk) -> list[Chunk]:
        """The statements of the paragraph a sentence stands in, in order."""
        return self._para.get(unit.id, ([unit], None))[0]

    def lead_of(self, unit: Chunk) -> Chunk | None:
        """The lead sentence (a heading line) of the sentence's paragraph, if it has one."""
        return self._para.get(unit.id, ([unit], None))[1]

    def is_lead(self, unit: Chunk) -> bool:
        """Whether a sentence is a paragraph's lead: a heading whose content follows it."""
        lead = self.lead_of(unit)
        return lead is not None and lead.id == unit.id

    def knows(self, token: str) -> bool:
        """Whether a token occurs in some sentence of the plan."""
        return token in self._idf

    def mentions(self, word: str) -> bool:
        """Whether the plan's text contains ``word`` anywhere (memoised)."""
        if word not in self._mentions:
            self._mentions[word] = word in self._plan_text
        return self._mentions[word]

    def tokens_of(self, unit: Chunk) -> set[str]:
        """The jieba tokens of a sentence unit."""
        return self._tokens[unit.id]

    def idf(self, token: str) -> float:
        """Inverse sentence frequency; tokens unknown to the plan get the maximum."""
        return self._idf.get(token, self._idf_unknown)

    def coverage(self, q_tokens: list[str], tokens: set[str]) -> float:
        """IDF-weighted share of question tokens present in ``tokens``."""
        total = sum(self.idf(t) for t in q_tokens)
        if total <= 0:
            return 0.0
        return sum(self.idf(t) for t in q_tokens if t in tokens) / total

    def text_coverage(self, words: list[str], text: str) -> float:
        """IDF-weighted share of ``words`` that occur in ``text`` as substrings (煤 in 原煤):
        for topic words, where jieba's segmentation of question and plan may differ."""
        total = sum(self.idf(w) for w in words)
        if total <= 0:
            return 0.0
        low = text.lower()
        return sum(self.idf(w) for w in words if _names(w, low)) / total

    def with_context(self, unit: Chunk) -> str:
        """A short sentence with the one before it, which often names its subject
        (「…煤层气…。到2025年,地面抽采量达到250亿方。」)."""
        text = unit.text
        if len(text.strip()) >= SHORT_SENTENCE:
            return text
        prev = self._prev.get(unit.id)
        return prev.text + text if prev is not None else text

    def section_tokens(self, key: tuple) -> set[str]:
        """Tokens of a section's heading path and text (cached)."""
        if key not in self._sec_cache:
            sec = self.index.section(*key)
            self._sec_cache[key] = set(tokenize(sec.heading_path + "\n" + sec.text))
        return self._sec_cache[key]

    def score(self, question: str, qvec, hits: list[Hit]) -> list[Scored]:
        """Every sentence of the hit sections, best first; the top ones carry ``in_scope``."""
        w_cov, w_rank = self.settings.evidence_w_coverage, self.settings.evidence_w_rank
        q = np.asarray(qvec, dtype=np.float32)
        q /= np.linalg.norm(q) + 1e-12
        q_tokens = list(dict.fromkeys(tokenize(question)))
        asked = periods(question)
        # the asked time frame (2035年) counts as named by a sentence that inherits it from the
        # announcement before it (我省到2035年的远景目标是: …), not only by one naming it
        frame_tokens = {t for t in q_tokens if periods(t) & asked} if asked else set()
        out: list[Scored] = []
        for hit in hits:
            units = self.sentences.get(hit.key, [])
            if not units:
                continue
            rows = [self._row[u.id] for u in units]
            cos = self._vecs[rows] @ q
            for u, c in zip(units, cos):
                tokens = self._tokens[u.id]
                if frame_tokens and self._frame.get(u.id, frozenset()) & asked:
                    tokens = tokens | frame_tokens
                cov = self.coverage(q_tokens, tokens)
                s = float(c) + w_cov * cov + w_rank / hit.rank
                out.append(Scored(u, hit, float(c), cov, s))
        out.sort(key=lambda x: -x.score)
        top = self.settings.scope_top
        return [replace(x, in_scope=self.in_scope(question, x.unit, x.hit)) for x in out[:top]] \
            + out[top:]

    def in_scope(self, question: str, unit: Chunk, hit: Hit) -> bool:
        """A sentence can answer the question: right value type, time frame and years."""
        if not holds_answer_type(question, unit.text):
            return False
        if _FUTURE_Q.search(question) and _PAST_SECTION not in question \
                and _PAST_SECTION in hit.section_title:
            return False  # a target asked, a past achievement found
        years = set(re.findall(r"(?:19|20)\d\d", question))
        if _PAST_SECTION not in hit.section_title:
            years -= _PLAN_YEARS  # a 十四五 section's targets are for the plan's years, said or not
        if years:
            sec_text = self.index.section(*hit.key).text
            if any(y not in sec_text for y in years):
                return False
        asked, frame = periods(question), self._frame.get(unit.id, frozenset())
        if asked and frame and not asked & frame:
            return False  # a 2035 goal asked, a 十四五 target found (or the reverse)
        return True
