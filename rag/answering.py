"""Answer questions with citations: extractive by default, an LLM when configured.

One base class, :class:`Answerer`; backends registered by name in :data:`REGISTRY`:

- ``extractive`` (default, no LLM, rag.extractive): a direct-answer line, then 1–4 of the
  best-scored sentences (rag.evidence) quoted verbatim with ``[n]`` markers, then the sources;
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

from rag import refusal as refusal_rule
from rag.config import Settings
from rag.errors import ConfigError, RetrievalError
from rag.citations import Citation
from rag.direct import split_parts
from rag.evidence import Scored, SentenceScorer
from rag.followup import FRAMES, WHOLE_CHAPTER, Rewrite, rewrite_followup, summary_request
from rag.refusal import REFUSAL  # noqa: F401  (re-exported: the phrase every answerer uses)
from rag.retrieval import Hit, Retriever
from rag.retrieval import clean_question as clean_text
from rag.wordseg import tagged_words

FALLBACK_NOTICE = "大模型服务不可用，已改用抽取式回答：{reason}"
TRUNCATED_NOTICE = "问题过长，只使用了前 {n} 个字。"


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
    doc_id: str | None = None  # the document filter the question was retrieved in
    # a multi-part question (rag.direct.split_parts): each part prepared on its own; the
    # question is refused only when every part is
    parts: tuple["Query", ...] = ()
    by_section: bool = False  # a chapter summary (这一章还讲了什么): points labelled by section
    deep: bool = False  # a "more" follow-up asking 具体…: the quoted paragraph goes on first


def _scorer_for(retriever: Retriever) -> SentenceScorer:
    """One scorer per Index, kept on the Index itself: a module-level WeakKeyDictionary would
    never free an Index (its scorer refers back to it), nor its build's reader lease."""
    index = retriever.index
    scorer = getattr(index, "_sentence_scorer", None)
    if scorer is None:
        scorer = index._sentence_scorer = SentenceScorer(index, retriever.settings)
    return scorer


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
                doc_id: str | None = None, split: bool = True, context: tuple = ()) -> Query:
        """Validate, rewrite a follow-up, retrieve (in ``doc_id`` if given), score, decide
        refusal; a multi-part question's parts too (``split``), each part on its own, its
        sections fused with the whole question's (``context``: a part alone says less)."""
        t0 = time.perf_counter()
        max_chars = self.settings.max_question_chars
        q, notice = clean_question(question, max_chars)
        if refusal_rule.out_of_scope(q):  # refused before anything is looked up
            return Query(q, q, chapter, (), (), -1.0, True, notice,
                         {"rewrite": time.perf_counter() - t0}, out_of_scope=True, doc_id=doc_id)
        # only emoji/punctuation: nothing to look up, and nothing to attach to a previous turn
        contentless = not re.search(r"[^\W_]", q)
        r = self.rewrite(q, history) if history and not contentless else \
            summary_request(q) or Rewrite(q)
        standalone = r.standalone
        if standalone != q:  # a rewrite may carry text from the history: clean that too
            standalone = clean_text(standalone, max_chars)[0] or q
        if chapter is None:
            chapter = r.chapter
        focus = self._sections(r.more, doc_id) or ((r.section,) if r.section else ())
        t1 = time.perf_counter()
        found = self.retriever.retrieve(standalone, chapter=chapter, doc_id=doc_id)
        hits = self._focus(found.hits, focus) if focus else found.hits
        if context:
            hits = fuse_rankings(hits, list(context), self.settings.rrf_k)
        if r.prefer and not focus:  # 它…: the earlier answer's sections first, the rest after
            first = self._focus(found.hits, r.prefer)
            keys = {h.key for h in first}
            hits = [replace(h, rank=i) for i, h in enumerate(
                first + [h for h in found.hits if h.key not in keys], start=1)]
        qvec = found.qvec or self.retriever.embedder.get_query_embedding(standalone)
        t2 = time.perf_counter()
        scored = self.scorer.score(standalone, qvec, hits)
        support = refusal_rule.features(self.scorer, standalone, scored,
                                        self.settings).refusal_score()
        refused = refusal_rule.decide(support, self.threshold, contentless=contentless,
                                      has_evidence=bool(scored), focused=bool(focus))
        t3 = time.perf_counter()
        parts: tuple[Query, ...] = ()
        pieces = split_parts(standalone) if split and not r.more and not focus else [standalone]
        if len(pieces) > 1:
            # each part is answered in the reading (with or without the first part's topic,
            # rag.answering._with_topic) the plan supports better, under its own words
            parts = tuple(replace(max((self.prepare(p, chapter=chapter, doc_id=doc_id, split=False,
                                                    context=tuple(hits)) for p in readings),
                                      key=lambda x: x.support), question=piece)
                          for piece, readings in zip(pieces, _with_topic(pieces)))
            support = max(p.support for p in parts)
            refused = all(p.refused for p in parts)
        t4 = time.perf_counter()
        return Query(q, standalone, chapter, tuple(hits), tuple(scored), support, refused,
                     notice, {"rewrite": t1 - t0, "retrieve": t2 - t1 + (t4 - t3),
                              "score": t3 - t2},
                     more=bool(r.more), shown=r.shown, doc_id=doc_id, parts=parts,
                     by_section=any(sec == WHOLE_CHAPTER for _, sec in r.more), deep=r.deep)

    def _sections(self, keys: tuple, doc_id: str | None) -> tuple[tuple[int, int], ...]:
        """(chapter, section) keys with (chapter, WHOLE_CHAPTER) expanded to the chapter's
        numbered sections, in order (its intro if it has none)."""
        out = []
        for chapter, section in keys:
            if section != WHOLE_CHAPTER:
                out.append((chapter, section))
                continue
            found = sorted({k[1:] for k in self.scorer.sentences
                            if k[1] == chapter and k[2] > 0 and doc_id in (None, k[0])})
            out += found or [(chapter, 0)]
        return tuple(dict.fromkeys(out))

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


def fuse_rankings(first: list[Hit], second: list[Hit], k: int) -> list[Hit]:
    """Two section rankings fused by reciprocal rank (1/(k+rank) summed), as many sections as
    the first; each section keeps its hit from the first ranking when it has one, and a tie
    goes to the first ranking's order."""
    score: dict = {}
    by_key: dict = {}
    for ranking in (first, second):
        for h in ranking:
            score[h.key] = score.get(h.key, 0.0) + 1.0 / (k + h.rank)
            by_key.setdefault(h.key, h)
    own = {h.key: h.rank for h in first}  # ties: the first ranking's order
    order = sorted(score, key=lambda key: (-score[key], own.get(key, len(first) + 1)))[:len(first)]
    return [replace(by_key[key], rank=i) for i, key in enumerate(order, start=1)]


def _with_topic(parts: list[str]) -> list[list[str]]:
    """The readings of each part: a part that names no topic (「“十四五”末要达到多少」) asks
    about the first part's topic; one whose predicate has no subject after its time frame may
    (「到2025年要建成什么基地」) or may not (「到2025年要突破多少项国际前沿新技术」): both readings."""
    first_topic = "".join(refusal_rule.topic_words(parts[0])[:3])
    out = [[parts[0]]]
    for p in parts[1:]:
        own = bool(refusal_rule.topic_words(p))
        out.append([p] if own and not _subjectless(p) else
                   [f"{first_topic}{p}"] + ([p] if own else []))
    return out


def _subjectless(part: str) -> bool:
    """Whether a part starts (after its time frame) with its verb: 要建成… / 将达到…"""
    frame = FRAMES.match(part.strip())
    body = part.strip()[frame.end():] if frame else part.strip()
    tagged = [(w, f) for w, f in tagged_words(body.lstrip("，,、 ")) if w.strip()]
    return bool(tagged) and tagged[0][1] == "v"


def _join(*notices: str | None) -> str | None:
    parts = [n for n in notices if n]
    return "；".join(parts) if parts else None


# name -> "module:Class"; LLM backends live in rag.llm and are imported only when chosen
REGISTRY: dict[str, str] = {
    "extractive": "rag.extractive:ExtractiveAnswerer",
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
