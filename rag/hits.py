"""What a retrieval returns: :class:`Hit` (one section, as its best chunk), :class:`Retrieval`
(the hits, the query vector, the bridge's expansion), the question cleaner, and :class:`Steps`,
an optional per-step clock the benchmark uses to split a hybrid query's time.

Not handled here: computing the hits (retrieval.py).
"""

from __future__ import annotations

import time
import unicodedata
from dataclasses import dataclass

from rag.bridge import Expansion
from rag.chunking import Chunk

SectionKey = tuple[str, int, int]  # (doc_id, chapter, section)


_MAX_SCAN = 1_000_000


def clean_question(text: str, max_chars: int) -> tuple[str, bool]:
    """The question as the pipeline uses it, and whether it was cut to ``max_chars``.

    Control and format characters (NUL, escape sequences, zero-width and bidi marks) and
    unpaired surrogates are dropped: they carry no meaning and the embedder's tokenizer cannot
    encode surrogates. Runs of whitespace become one space.
    """
    if not isinstance(text, str):
        return "", False
    cut = len(text) > _MAX_SCAN
    text = text[:_MAX_SCAN]  # bound the work; a 100,000-character paste is cleaned in ~30 ms
    kept = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
                   or ch in "\t\n")
    kept = " ".join(kept.split())
    return kept[:max_chars], cut or len(kept) > max_chars


def _of_chunk(name: str) -> property:
    """A read-only attribute of a Hit that is its chunk's attribute ``name``."""
    return property(lambda self: getattr(self.chunk, name), doc=f"The chunk's {name}.")


@dataclass(frozen=True)
class Hit:
    """One retrieved section, represented by its best chunk, with everything a citation needs."""

    chunk: Chunk
    score: float  # fused score (RRF) in hybrid mode; cosine or BM25 score otherwise
    rank: int  # 1-based

    # what a citation needs, read from the chunk
    doc_id = _of_chunk("doc_id")
    chapter = _of_chunk("chapter")
    chapter_title = _of_chunk("chapter_title")
    section = _of_chunk("section")
    section_title = _of_chunk("section_title")
    text = _of_chunk("text")
    span = _of_chunk("span")
    key = _of_chunk("key")  # SectionKey
    ref = _of_chunk("ref")  # rag.corpus.SectionRef

    @property
    def label(self) -> str:
        return self.chunk.ref.label

    def to_json(self) -> dict:
        return {"rank": self.rank, "score": round(self.score, 6), "doc_id": self.doc_id,
                "chapter": self.chapter, "chapter_title": self.chapter_title,
                "section": self.section, "section_title": self.section_title,
                "chunk_id": self.chunk.id, "text": self.text}


@dataclass(frozen=True)
class Retrieval:
    """The hits of one question and its query vector (None when no dense list ran)."""

    hits: list[Hit]
    qvec: list[float] | None
    expansion: Expansion | None = None  # what the vocabulary bridge added (hybrid mode)


class Steps:
    """Seconds per named step of retrievals, timed back to back (``lap`` ends the current step
    and starts the next), so the steps add up to the whole call; ``cpu=True`` counts the calling
    thread's CPU time instead of wall time (steadier on a shared machine)."""

    def __init__(self, cpu: bool = False):
        self._now = time.thread_time if cpu else time.perf_counter
        self.seconds: dict[str, float] = {}
        self._t = self._now()

    def start(self) -> None:
        self._t = self._now()

    def lap(self, name: str) -> None:
        now = self._now()
        self.seconds[name] = self.seconds.get(name, 0.0) + now - self._t
        self._t = now
