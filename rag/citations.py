"""Citations: built from chunk metadata, checked against what was actually sent.

A :class:`Citation` carries a :class:`SectionRef` and the exact quoted text with its span;
every answerer builds it with :func:`cite` (the file text between two units of one section),
never by hand and never parsed out of model text. For LLM answers this module

- validates ``[n]`` markers: a marker naming a source that was not sent is removed and
  counted (:func:`validate_markers`);
- attaches markers to an answer that has none, sentence by sentence, to the most similar
  source (:func:`attach_markers`, similarity given by the caller: cosine or term overlap);
- picks the quote for a cited source: the source sentence most similar to the answer.

Not handled here: choosing sources (retrieval/answering), rendering in the app.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from rag.chunking import Chunk, split_sentences
from rag.corpus import Section, SectionRef

MARKER = re.compile(r"\[(\d{1,3})\]")
# a marker written the way small models often do: [1, 2] / [1][2] are both handled by MARKER
_MULTI = re.compile(r"\[(\d{1,3}(?:\s*[,，、]\s*\d{1,3})+)\]")


@dataclass(frozen=True)
class Citation:
    """One numbered source of an answer: a section and the exact sentence(s) quoted."""

    n: int
    ref: SectionRef
    quote: str
    span: tuple[int, int]  # character span of the quote in the source file

    @property
    def label(self) -> str:
        """「第二章 第三节 培育一流创新主体」 without the corner brackets."""
        return self.ref.label

    @property
    def key(self) -> tuple[str, int, int]:
        return self.ref.key

    def to_json(self) -> dict:
        return {"n": self.n, **self.ref.to_json(), "quote": self.quote, "span": list(self.span)}


def trim_span(text: str, start: int) -> tuple[str, tuple[int, int]]:
    """Strip surrounding whitespace from a quoted text, keeping its span exact."""
    left = len(text) - len(text.lstrip())
    body = text.strip()
    return body, (start + left, start + left + len(body))


def cite(n: int, section: Section, first: Chunk, last: Chunk | None = None) -> Citation:
    """Citation n quoting the file text from ``first`` to ``last`` (default: ``first``) of
    one section, whitespace trimmed and the span kept exact."""
    last = last or first
    quote, span = trim_span(section.slice(first.start, last.end), first.start)
    return Citation(n, section.ref, quote, span)


def _expand_multi(text: str) -> str:
    return _MULTI.sub(lambda m: "".join(f"[{x}]" for x in re.split(r"\s*[,，、]\s*",
                                                                    m.group(1))), text)


def validate_markers(text: str, sent: Sequence[int]) -> tuple[str, int, list[int]]:
    """Remove ``[n]`` markers whose n was not sent; return (text, removed, used numbers).

    Args:
        text: the model's answer.
        sent: the source numbers that were actually in the prompt.
    """
    allowed = set(sent)
    removed = 0
    used: list[int] = []

    def keep(m: re.Match) -> str:
        nonlocal removed
        n = int(m.group(1))
        if n in allowed:
            if n not in used:
                used.append(n)
            return m.group(0)
        removed += 1
        return ""

    out = MARKER.sub(keep, _expand_multi(text))
    return out, removed, used


def answer_sentences(text: str) -> list[tuple[int, int]]:
    """Sentence spans of an answer text (the chunker's sentence rule)."""
    return [(a, b) for a, b in split_sentences(text) if text[a:b].strip()]


def attach_markers(text: str, sources: Sequence[str],
                   similarity: Callable[[str, str], float], min_sim: float = 0.0) -> str:
    """Put ``[n]`` after each sentence of a marker-less answer: n = most similar source.

    Args:
        text: the answer without markers.
        sources: source texts, numbered from 1 in order.
        similarity: ``f(sentence, source_text) -> float``.
        min_sim: sentences less similar than this to every source get no marker.
    """
    if not sources:
        return text
    out = []
    for a, b in answer_sentences(text):
        sent = text[a:b]
        body = sent.rstrip()
        tail = sent[len(body):]
        scores = [similarity(body, src) for src in sources]
        best = max(range(len(sources)), key=lambda i: scores[i])
        if scores[best] > min_sim and len(body.strip()) > 1:
            # the marker goes before the closing punctuation of the sentence
            m = re.search(r"[。！？；!?;]+$", body)
            if m:
                body = body[:m.start()] + f"[{best + 1}]" + body[m.start():]
            else:
                body = body + f"[{best + 1}]"
        out.append(body + tail)
    return "".join(out)


def overlap_similarity(tokenize: Callable[[str], list[str]]) -> Callable[[str, str], float]:
    """A term-overlap similarity: share of the sentence's tokens found in the source."""
    cache: dict[str, set[str]] = {}

    def sim(sentence: str, source: str) -> float:
        toks = set(tokenize(sentence))
        if not toks:
            return 0.0
        if source not in cache:
            cache[source] = set(tokenize(source))
        return len(toks & cache[source]) / len(toks)

    return sim
