"""Split sections into sentences and token-budgeted chunks.

Sentences end after 。！？； (and their ASCII forms, which the published file also uses) or a
line break; the delimiter stays with its sentence. Chunks pack whole sentences up to a token
budget counted with tiktoken's cl100k_base, carrying ``overlap`` sentences into the next
chunk; a sentence longer than the budget is cut at ，、, and then by length. Nothing crosses
a section boundary (nor the gap the table of contents leaves inside the preamble).

Every unit records its character span in the source file; its display text is exactly
``file_text[start:end]``. Ids are stable: ``{doc}:{chapter}:{section}:{kind}{ordinal}``.

Not handled here: embedding or indexing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from rag.corpus import Corpus, Located, Section

CHUNKER_VERSION = "3"  # bumped when the index layout changes too (3: heading vectors)
_SENT_END = re.compile(r"[^。！？；!?;\n]*(?:[。！？；!?;]+[”’」』)]*|\n+|$)")
_CLAUSE_END = re.compile(r"[^，、,:：]*(?:[，、,:：]+|$)")


@lru_cache(maxsize=1)
def get_encoding():
    """cl100k_base from the BPE file llama-index-core ships (no download on this machine)."""
    import tiktoken

    if "TIKTOKEN_CACHE_DIR" not in os.environ:
        spec = importlib.util.find_spec("llama_index.core")
        if spec and spec.submodule_search_locations:
            cache = Path(list(spec.submodule_search_locations)[0]) / "_static" / "tiktoken_cache"
            os.environ["TIKTOKEN_CACHE_DIR"] = str(cache)
    return tiktoken.get_encoding("cl100k_base")


def count_tokens(text: str) -> int:
    """Number of cl100k_base tokens in ``text``."""
    return len(get_encoding().encode(text, disallowed_special=()))


@dataclass(frozen=True)
class Chunk(Located):
    """A retrievable unit: a sentence (``kind='s'``) or a packed chunk (``kind='c'``)."""

    id: str
    kind: str
    doc_id: str
    chapter: int
    chapter_title: str
    section: int
    section_title: str
    heading_path: str
    text: str  # the original span, for display and quoting
    start: int
    end: int
    ordinal: int
    part: int = 0  # the section's 篇, numbering style and document title (see Section)
    part_title: str = ""
    numbering: str = ""
    document: str = ""

    @property
    def span(self) -> tuple[int, int]:
        return (self.start, self.end)

    def index_text(self, prefix: bool) -> str:
        """Text given to an index: the span, optionally prefixed with its heading path."""
        body = self.text.strip()
        return f"{self.heading_path}\n{body}" if prefix else body

    @property
    def content_hash(self) -> str:
        return hashlib.sha1(self.text.encode("utf-8")).hexdigest()


def split_sentences(text: str, offset: int = 0) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` covering ``text`` exactly, shifted by ``offset``."""
    spans = []
    pos = 0
    while pos < len(text):
        m = _SENT_END.match(text, pos)
        end = m.end() if m and m.end() > pos else len(text)
        spans.append((offset + pos, offset + end))
        pos = end
    return spans


def _split_long(text: str, start: int, budget: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at clause marks, then by length, into spans within budget."""
    pieces: list[tuple[int, int]] = []
    pos = 0
    while pos < len(text):
        m = _CLAUSE_END.match(text, pos)
        end = m.end() if m and m.end() > pos else len(text)
        pieces.append((pos, end))
        pos = end
    out: list[tuple[int, int]] = []
    cur_start, cur_end = None, None
    for a, b in pieces:
        if count_tokens(text[a:b]) > budget:  # a single clause over budget: cut by length
            if cur_start is not None:
                out.append((cur_start, cur_end))
                cur_start = None
            step = max(1, budget // 2)  # CJK is 1–2 tokens a character
            while a < b:
                cut = min(b, a + step)
                while cut < b and count_tokens(text[a:cut + 1]) <= budget:
                    cut += 1
                out.append((a, cut))
                a = cut
            continue
        if cur_start is None:
            cur_start, cur_end = a, b
        elif count_tokens(text[cur_start:b]) <= budget:
            cur_end = b
        else:
            out.append((cur_start, cur_end))
            cur_start, cur_end = a, b
    if cur_start is not None:
        out.append((cur_start, cur_end))
    return [(start + a, start + b) for a, b in out]


def _sentence_spans(source: str, section: Section, budget: int) -> list[tuple[int, int]]:
    spans = []
    for a, b in section.parts:
        for s, e in split_sentences(source[a:b], a):
            if count_tokens(source[s:e]) > budget:
                spans.extend(_split_long(source[s:e], s, budget))
            else:
                spans.append((s, e))
    return spans


def _part_of(section: Section, pos: int) -> int:
    for i, (a, b) in enumerate(section.parts):
        if a <= pos < b:
            return i
    return len(section.parts) - 1


def chunk_section(source: str, section: Section, *, tokens: int = 160,
                  overlap: int = 1) -> tuple[list[Chunk], list[Chunk]]:
    """Sentences and packed chunks of one section.

    Args:
        source: the whole file text the section's spans point into.
        section: the section to split.
        tokens: chunk budget in cl100k_base tokens.
        overlap: sentences repeated at the start of the next chunk.

    Returns:
        ``(sentences, chunks)``; sentences that hold no visible text are dropped from the
        sentence list but their characters still belong to a chunk.
    """
    spans = _sentence_spans(source, section, tokens)

    def make(kind: str, ordinal: int, s: int, e: int) -> Chunk:
        return Chunk(id=f"{section.doc_id}:{section.chapter}:{section.section}:{kind}{ordinal}",
                     kind=kind, doc_id=section.doc_id, chapter=section.chapter,
                     chapter_title=section.chapter_title, section=section.section,
                     section_title=section.section_title, heading_path=section.heading_path,
                     text=source[s:e], start=s, end=e, ordinal=ordinal, part=section.part,
                     part_title=section.part_title, numbering=section.numbering,
                     document=section.document)

    sentences = [make("s", i, s, e) for i, (s, e) in
                 enumerate(sp for sp in spans if source[sp[0]:sp[1]].strip())]

    chunks: list[Chunk] = []
    i = 0
    while i < len(spans):
        j = i + 1
        part = _part_of(section, spans[i][0])
        while (j < len(spans) and _part_of(section, spans[j][0]) == part
               and count_tokens(source[spans[i][0]:spans[j][1]]) <= tokens):
            j += 1
        s, e = spans[i][0], spans[j - 1][1]
        if source[s:e].strip():
            chunks.append(make("c", len(chunks), s, e))
        if j >= len(spans):
            break
        # step back `overlap` sentences, but always move forward
        nxt = max(i + 1, j - overlap) if _part_of(section, spans[j][0]) == part else j
        i = nxt
    return sentences, chunks


def chunk_corpus(corpus: Corpus, *, tokens: int = 160,
                 overlap: int = 1) -> tuple[list[Chunk], list[Chunk]]:
    """Sentences and chunks of every section of every document, in document order."""
    sentences: list[Chunk] = []
    chunks: list[Chunk] = []
    for doc in corpus.documents:
        for sec in doc.sections:
            s, c = chunk_section(doc.text, sec, tokens=tokens, overlap=overlap)
            sentences.extend(s)
            chunks.extend(c)
    return sentences, chunks
