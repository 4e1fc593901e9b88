"""Answer questions with citations: extractive by default, an LLM when configured.

One base class, :class:`Answerer`; backends registered by name in :data:`REGISTRY`:

- ``extractive`` (default, no LLM): quotes 1–4 of the best-scored sentences (rag.evidence)
  verbatim with ``[n]`` markers and lists the sources;
- ``openai-compatible`` / ``llama-cpp`` (rag.llm): an LLM writes the answer from tagged
  source blocks; markers are validated; any failure falls back to extractive with a notice.

The query path, once per question (:meth:`Answerer.prepare`): clean → rewrite a follow-up
(rag.followup) → retrieve (hits + query vector) → score sentences with that vector, scope
checked once → refusal decision (rag.refusal). Every backend composes from that
:class:`Query`; citations are built by rag.citations.cite.

:class:`Pipeline` ties index, retriever and answerer together for the CLI and the app.

Not handled here: retrieval itself, sentence scoring, the refusal rule, the LLM clients,
rendering (rag.ui).
"""

from __future__ import annotations

import importlib
import re
import time
import unicodedata
from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Iterator
from weakref import WeakKeyDictionary

from rag import refusal as refusal_rule
from rag.citations import Citation, cite
from rag.config import Settings
from rag.direct import (BROAD, MAX_POINT, OTHER, DirectAnswer, Piece, question_kind,
                        split_parts, verbatim)
from rag.errors import ConfigError, RetrievalError
from rag.evidence import Scored, SentenceScorer, is_announcement
from rag.followup import Rewrite, rewrite_followup
from rag.refusal import REFUSAL  # noqa: F401  (re-exported: the phrase every answerer uses)
from rag.retrieval import Hit, Retriever
from rag.retrieval import clean_question as clean_text

FALLBACK_NOTICE = "大模型服务不可用，已改用抽取式回答：{reason}"
TRUNCATED_NOTICE = "问题过长，只使用了前 {n} 个字。"
MORE_POINTS = 5  # points given for 具体有哪些措施 / 这一节还说了什么
PART_ABSENT = "规划原文中未找到这一问的内容。"
MARKER_RE = re.compile(r"\[(\d+)\]")


@dataclass(frozen=True)
class Answer:
    """An answer with its citations; ``hits`` are shown as 可能相关 when refused."""

    question: str  # as asked
    standalone: str  # after follow-up rewriting (what was retrieved for)
    text: str  # the answer with [n] markers and the numbered sources
    refused: bool
    answerer: str
    citations: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = ()
    notice: str | None = None
    removed_markers: int = 0
    support: float | None = None  # refusal score (refusal.Features.refusal_score)
    timings: dict = field(default_factory=dict, compare=False)  # seconds per stage
    direct: str | None = None  # the direct-answer line (plan text with [n]); None when refused

    def to_json(self) -> dict:
        return {"answer": self.text, "direct": self.direct, "standalone": self.standalone,
                "refused": self.refused, "answerer": self.answerer,
                "citations": [c.to_json() for c in self.citations], "notice": self.notice}


@dataclass(frozen=True)
class Query:
    """A question after validation, truncation and follow-up rewriting, with its evidence."""

    question: str
    standalone: str
    chapter: int | None
    hits: tuple[Hit, ...]
    scored: tuple[Scored, ...]  # best first; the top ones carry in_scope
    support: float
    refused: bool
    notice: str | None
    timings: dict
    out_of_scope: bool = False  # an instruction or small talk, refused before retrieval
    more: bool = False  # a "more" follow-up: give the focused sections' other points
    shown: str = ""  # what the previous answer already said (for a "more" follow-up)


_SCORERS: "WeakKeyDictionary" = WeakKeyDictionary()  # Index -> SentenceScorer


def _scorer_for(retriever: Retriever) -> SentenceScorer:
    index = retriever.index
    if index not in _SCORERS:
        _SCORERS[index] = SentenceScorer(index, retriever.settings)
    return _SCORERS[index]


def clean_question(question, max_chars: int) -> tuple[str, str | None]:
    """Validate and normalise a question; returns (question, truncation notice or None)."""
    if not isinstance(question, str):
        raise RetrievalError("问题必须是文本")
    # rag.retrieval's rule also drops format characters and unpaired surrogates (the
    # embedder cannot encode those) and bounds the work on 100,000-character pastes
    q, cut = clean_text(unicodedata.normalize("NFC", question), max_chars)
    if not q:
        raise RetrievalError("问题为空（或只含空白、不可见字符）：请输入要查询的问题")
    return q, TRUNCATED_NOTICE.format(n=max_chars) if cut else None


class Answerer(ABC):
    """Base class: public ``answer``/``stream`` prepare the query; backends compose."""

    name: str = ""

    def __init__(self, settings: Settings, retriever: Retriever):
        self.settings = settings
        self.retriever = retriever
        self.scorer = _scorer_for(retriever)
        self.threshold = refusal_rule.load_threshold(settings)

    @property
    def display_name(self) -> str:
        return self.name

    def answer(self, question: str, history=None, chapter: int | None = None, *,
               doc_id: str | None = None) -> Answer:
        """Answer a question (optionally a follow-up to ``history``, within ``chapter``)."""
        final = None
        for item in self.stream(question, history=history, chapter=chapter, doc_id=doc_id):
            if isinstance(item, Answer):
                final = item
        assert final is not None, "stream() must end with an Answer"
        return final

    def stream(self, question: str, history=None, chapter: int | None = None, *,
               doc_id: str | None = None) -> Iterator[str | Answer]:
        """Text deltas, then the final :class:`Answer` as the last item."""
        query = self.prepare(question, history, chapter, doc_id=doc_id)
        yield from self._stream(query)

    def rewrite(self, question: str, history) -> Rewrite:
        """The follow-up rewritten by rule: standalone question, inherited chapter, focus."""
        return rewrite_followup(question, history)

    def prepare(self, question: str, history=None, chapter: int | None = None, *,
                doc_id: str | None = None) -> Query:
        """Validate, rewrite a follow-up, retrieve (in ``doc_id`` if given), score, decide refusal."""
        t0 = time.perf_counter()
        max_chars = self.settings.max_question_chars
        q, notice = clean_question(question, max_chars)
        if refusal_rule.out_of_scope(q):  # refused before anything is looked up
            return Query(q, q, chapter, (), (), -1.0, True, notice,
                         {"rewrite": time.perf_counter() - t0}, out_of_scope=True)
        # only emoji/punctuation: nothing to look up, and nothing to attach to a previous turn
        contentless = not re.search(r"[^\W_]", q)
        r = self.rewrite(q, history) if history and not contentless else Rewrite(q)
        standalone = r.standalone
        if standalone != q:  # a rewrite may carry text from the history: clean that too
            standalone = clean_text(standalone, max_chars)[0] or q
        if chapter is None:
            chapter = r.chapter
        focus = r.more or ((r.section,) if r.section else ())
        t1 = time.perf_counter()
        found = self.retriever.retrieve(standalone, chapter=chapter, doc_id=doc_id)
        hits = self._focus(found.hits, focus) if focus else found.hits
        qvec = found.qvec or self.retriever.embedder.get_query_embedding(standalone)
        t2 = time.perf_counter()
        scored = self.scorer.score(standalone, qvec, hits)
        support = refusal_rule.features(self.scorer, standalone, scored,
                                        self.settings).refusal_score()
        refused = refusal_rule.decide(support, self.threshold, contentless=contentless,
                                      has_evidence=bool(scored), focused=bool(focus))
        t3 = time.perf_counter()
        return Query(q, standalone, chapter, tuple(hits), tuple(scored), support, refused,
                     notice, {"rewrite": t1 - t0, "retrieve": t2 - t1, "score": t3 - t2},
                     more=bool(r.more), shown=r.shown)

    def _focus(self, hits: list[Hit], focus: tuple[tuple[int, int], ...]) -> list[Hit]:
        """Only the sections a follow-up points at (这一节, the last answer's sources), in order."""
        by_key = {(h.chapter, h.section): h for h in hits}
        keep = []
        for key in focus:
            if key in by_key:
                keep.append(by_key[key])
                continue
            units = [u for k, us in self.scorer.sentences.items() if k[1:] == key for u in us]
            if units:
                keep.append(Hit(chunk=units[0], score=1.0, rank=len(keep) + 1))
        return [replace(h, rank=i) for i, h in enumerate(keep, start=1)] or hits

    @abstractmethod
    def _stream(self, query: Query) -> Iterator[str | Answer]:
        """Compose the answer for a prepared query."""

    # shared helpers -------------------------------------------------------------

    def refusal(self, query: Query, notice: str | None = None, name: str | None = None) -> Answer:
        """The refusal answer: the fixed phrase plus the nearest sections as 可能相关."""
        text = refusal_rule.refusal_text([h.label for h in query.hits], query.out_of_scope)
        return Answer(query.question, query.standalone, text, True,
                      name or self.name, (), query.hits, _join(query.notice, notice), 0,
                      query.support, query.timings)


def _join(*notices: str | None) -> str | None:
    parts = [n for n in notices if n]
    return "；".join(parts) if parts else None


class ExtractiveAnswerer(Answerer):
    """Quotes the best sentences of the retrieved sections; invents nothing."""

    name = "extractive"

    @property
    def display_name(self) -> str:
        return "抽取式"

    def _stream(self, query: Query) -> Iterator[str | Answer]:
        parts = split_parts(query.standalone) if not query.out_of_scope else []
        answer = self.compose_parts(query, parts) if len(parts) > 1 else self.compose(query)
        yield answer.text
        yield answer

    def compose_parts(self, query: Query, parts: list[str]) -> Answer:
        """A multi-part question: each part answered on its own, with its own citations; a
        part the plan does not state is said to be absent for that part alone."""
        first_topic = "".join(refusal_rule.topic_words(parts[0])[:3])
        answers = []
        for part in parts:
            if not refusal_rule.topic_words(part):  # 「“十四五”末要达到多少」 asks about part 1's topic
                part = f"{first_topic}{part}"
            answers.append((part, self.compose(self.prepare(part, chapter=query.chapter))))
        if all(a.refused for _, a in answers):
            return self.refusal(query)
        citations: list[Citation] = []
        directs, quotes = [], []
        for i, (part, a) in enumerate(answers, start=1):
            if a.refused:
                directs.append(f"（{i}）{part}：{PART_ABSENT}")
                continue
            shift = len(citations)
            moved = [replace(c, n=c.n + shift) for c in a.citations]
            citations += moved
            line = MARKER_RE.sub(lambda m: f"[{int(m.group(1)) + shift}]", a.direct or "")
            directs.append(f"（{i}）{part}：{line}")
            quotes += [_with_marker(c.quote, c.n) for c in moved]
        lines = directs + ["", "根据规划原文："] + quotes + ["", "来源："]
        lines += [f"[{c.n}] 「{c.label}」" for c in citations]
        return Answer(query.question, query.standalone, "\n".join(lines), False, self.name,
                      tuple(citations), query.hits, query.notice, 0, query.support,
                      query.timings, direct="\n".join(directs))

    @staticmethod
    def candidates(query: Query) -> list[Scored]:
        """The scored sentences minus announcing ones (…要努力实现以下主要目标:), which say
        nothing on their own: the sentences they introduce compete on their own scores."""
        return [x for x in query.scored if not is_announcement(x.unit.text)]

    def select(self, query: Query, kind: str = OTHER) -> list[Scored]:
        """1–4 sentences: the best one, plus near-best ones from at most two sections (a
        broad question: the best sentence of each of up to four close sections)."""
        scored = self.candidates(query)
        if not scored:
            return []
        s = self.settings
        # the best in-scope sentence is cited first; the in-scope sentence within a small margin
        # that names the question's topic words best (if another) joins as the second, and the
        # direct-answer line is cut from it (on dev, letting it lead cost first-cited accuracy)
        typed = [x for x in scored[:s.scope_top] if x.in_scope]
        best = typed[0] if typed else scored[0]
        topic = refusal_rule.topic_words(query.standalone)
        close = [x for x in typed if x.score >= best.score - s.answer_topic_margin]
        topical = max(close, key=lambda x: (self._cover(topic, x), x.score), default=best)
        if kind == BROAD:
            return self._broad(scored, best)
        picked = [best]
        if topical is not best and self._cover(topic, topical) > self._cover(topic, best):
            picked.append(topical)
        sections = list(dict.fromkeys(x.hit.key for x in picked))
        seen = {" ".join(x.unit.text.split()) for x in picked}  # the notice header repeats lines
        for x in scored:
            if len(picked) >= s.answer_max_sentences:
                break
            if x in picked or x.score < best.score - s.answer_near_best:
                continue
            text = " ".join(x.unit.text.split())
            if text in seen:
                continue
            seen.add(text)
            if x.hit.key not in sections:
                if len(sections) >= s.answer_max_sections \
                        or x.score < best.score - s.answer_near_best_other:
                    continue
                sections.append(x.hit.key)
            picked.append(x)
        return picked

    def more_points(self, query: Query) -> list[Scored]:
        """A "more" follow-up (具体有哪些措施/这一节还说了什么): the focused sections' statements
        that the previous answer did not quote, in the order they stand, up to five."""
        shown = "".join(query.shown.split())
        by_id = {x.unit.id: x for x in query.scored}
        out = []
        for hit in query.hits:
            fresh = [u for u in self.scorer.sentences.get(hit.key, [])
                     if "".join(u.text.split()) not in shown and not is_announcement(u.text)
                     and len(u.text.strip()) > 8]
            out += [by_id.get(u.id) or Scored(u, hit, 0.0, 0.0, 0.0) for u in fresh]
        per = max(1, MORE_POINTS // max(1, len(query.hits)))
        picked, count = [], {}
        for x in out:
            if count.get(x.hit.key, 0) < per and len(picked) < MORE_POINTS:
                picked.append(x)
                count[x.hit.key] = count.get(x.hit.key, 0) + 1
        return picked

    def _cover(self, topic: list[str], x: Scored) -> float:
        """Share of the topic words a sentence names, in quarters (small differences are noise)."""
        return round(self.scorer.text_coverage(topic, x.unit.text) * 4) / 4 if topic else 0.0

    def _broad(self, scored: list[Scored], best: Scored) -> list[Scored]:
        """The best sentence of each section scoring close to the best one, up to four."""
        s = self.settings
        picked, sections = [best], {best.hit.key}
        for x in scored:
            if len(sections) >= s.answer_broad_sections:
                break
            if x.hit.key in sections or x.score < best.score - s.answer_broad_margin:
                continue
            sections.add(x.hit.key)
            picked.append(x)
        return picked

    def compose(self, query: Query, notice: str | None = None) -> Answer:
        """The extractive answer (or refusal) for a prepared query: the direct-answer line,
        then the quoted sentences with [n], then the numbered sources."""
        if query.refused:
            return self.refusal(query, notice)
        kind = BROAD if query.more else question_kind(query.standalone)
        picked = self.more_points(query) if query.more else self.select(query, kind)
        if not picked:
            return self.refusal(query, notice)
        order = []  # section keys in order of first pick (the best section first)
        for x in picked:
            if x.hit.key not in order:
                order.append(x.hit.key)
        citations: list[Citation] = []
        number: dict[str, int] = {}  # sentence id -> the citation that quotes it
        quotes = []
        for key in order:
            section = self.retriever.index.section(*key)
            units = sorted((x.unit for x in picked if x.hit.key == key), key=lambda u: u.ordinal)
            runs: list[list] = []  # adjacent sentences are quoted together as one source
            for u in units:
                if runs and u.ordinal == runs[-1][-1].ordinal + 1:
                    runs[-1].append(u)
                else:
                    runs.append([u])
            for run in runs:
                citations.append(cite(len(citations) + 1, section, run[0], run[-1]))
                number.update({u.id: citations[-1].n for u in run})
                quotes.append(_with_marker(citations[-1].quote, citations[-1].n))
        direct = self.direct_line(query.standalone, kind, picked, number, citations)
        lines = ([direct, ""] if direct else []) + ["根据规划原文："] + quotes
        lines.append("")
        lines.append("来源：")
        lines += [f"[{c.n}] 「{c.label}」" for c in citations]
        return Answer(query.question, query.standalone, "\n".join(lines), False, self.name,
                      tuple(citations), query.hits, _join(query.notice, notice), 0,
                      query.support, query.timings, direct=direct)

    def direct_line(self, question: str, kind: str, picked: list[Scored],
                    number: dict[str, int], citations: list[Citation]) -> str | None:
        """The direct-answer line (rag.direct), each piece checked to be verbatim plan text."""
        maker = DirectAnswer(self.scorer.idf)
        if kind == BROAD:
            pieces = [Piece(_short(maker.cut(question, OTHER, x.unit.text)), number[x.unit.id])
                      for x in picked]
        else:
            pieces = []
            topic = refusal_rule.topic_words(question)
            lead = max(picked[:2], key=lambda x: self._cover(topic, x))  # the topical one
            for x in [lead] + [y for y in picked if y is not lead]:
                text = maker.cut(question, kind, x.unit.text)
                if text:
                    pieces = [Piece(text, number[x.unit.id])]
                    break
            if not pieces:  # no sentence holds the asked value: the best one says what there is
                x = picked[0]
                pieces = [Piece(maker.cut(question, OTHER, x.unit.text), number[x.unit.id])]
        quotes = {c.n: c.quote for c in citations}
        for p in pieces:
            assert verbatim(p.text, quotes[p.n]), (p.text, quotes[p.n])
        return maker.line(question, pieces)


def _short(text: str) -> str:
    """A broad point cut at the last clause end within MAX_POINT characters."""
    if len(text) <= MAX_POINT:
        return text
    cut = max(text.rfind(ch, 0, MAX_POINT) for ch in "，,；;")
    return text[:cut] if cut > 10 else text[:MAX_POINT]


def _with_marker(quote: str, n: int) -> str:
    """A quoted sentence with its marker before the closing punctuation."""
    flat = " ".join(quote.split())
    m = re.search(r"[。！？；!?;]+$", flat)
    return (flat[:m.start()] + f"[{n}]" + flat[m.start():]) if m else f"{flat}[{n}]"


# name -> "module:Class"; LLM backends live in rag.llm and are imported only when chosen
REGISTRY: dict[str, str] = {
    "extractive": "rag.answering:ExtractiveAnswerer",
    "openai-compatible": "rag.llm:OpenAICompatibleAnswerer",
    "llama-cpp": "rag.llm:LlamaCppAnswerer",
}


def get_answerer(name: str, settings: Settings, retriever: Retriever) -> Answerer:
    """Build the answerer registered under ``name``; unknown names list the choices."""
    if name not in REGISTRY:
        raise ConfigError(f"未知的回答方式 {name!r}；可用：{', '.join(sorted(REGISTRY))}")
    module, cls = REGISTRY[name].split(":")
    return getattr(importlib.import_module(module), cls)(settings, retriever)


class Pipeline:
    """Index + retriever + answerer, loaded once; what the CLI and the app call."""

    def __init__(self, settings: Settings, retriever: Retriever, answerer: Answerer):
        self.settings = settings
        self.retriever = retriever
        self.index = retriever.index
        self.answerer = answerer

    @classmethod
    def from_settings(cls, settings: Settings, answerer: str | None = None) -> "Pipeline":
        """Open the index and build the named answerer (default: settings.answerer)."""
        retriever = Retriever.from_settings(settings)
        return cls(settings, retriever,
                   get_answerer(answerer or settings.answerer, settings, retriever))

    def ask(self, question: str, history=None, chapter: int | None = None, *,
            doc_id: str | None = None) -> Answer:
        """Answer one question (``doc_id``: only search that document)."""
        return self.answerer.answer(question, history=history, chapter=chapter, doc_id=doc_id)

    def stream(self, question: str, history=None, chapter: int | None = None, *,
               doc_id: str | None = None) -> Iterator[str | Answer]:
        """Stream one answer: text deltas, then the final Answer."""
        return self.answerer.stream(question, history=history, chapter=chapter, doc_id=doc_id)
