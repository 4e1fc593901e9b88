"""The embed stage of a build, complete or quick (phase 1 of adding a plan).

A **complete** build embeds, through the embedding cache, every sentence, chunk and heading
path and every plan term of the vocabulary bridge (rag.bridge). A **quick** build, the first
phase of ``rag add``, embeds only what a plan needs to be searchable: its sentences and heading
paths. A chunk whose vector is not cached gets the normalised mean of the vectors of the
sentences it overlaps (its section's heading vector if it overlaps none), and a plan term whose
vector is not cached is left out of the bridge. Documents with a pooled chunk or a left-out
term are *pending*: the build's manifest lists them, and the next complete build (``rag add``'s
second phase, or any ``rag ingest``) embeds what they lack. Pooled vectors cost dense hit@1
(0.749 → 0.723 in-sample on the bundled plan), so a quick build is only ever a temporary state.

Each kind is embedded in its own calls and timed alone (``embed_sentences``, ``embed_chunks``,
``embed_headings``, ``embed_terms``; ``embed_units`` is the sum of the first three). A text's
vector does not depend on the call it is in, so the two phases give the same vectors as one.

Not handled here: what a build writes and when it switches (rag.store), the writer lock
(rag.locking), the embedding engines and the cache (rag.embeddings).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.bridge import bridge_texts, build_bridge, plan_terms
from rag.chunking import Chunk
from rag.corpus import Corpus


@dataclass
class Vectors:
    """The stage's result: one matrix per kind, what was embedded, and what is pending."""

    sentences: np.ndarray
    chunks: np.ndarray
    headings: np.ndarray
    embedded: int
    total: int
    terms: int
    pending: list = field(default_factory=list)
    pooled: int = 0
    terms_left_out: int = 0


def pooled_chunk_vectors(sentences: list[Chunk], sent_vecs: np.ndarray, chunks: list[Chunk],
                         heading_of) -> np.ndarray:
    """Per chunk, the normalised mean of the vectors of the sentences its span overlaps
    (``heading_of(chunk)`` if none does)."""
    by_section: dict[tuple, list[int]] = {}
    for i, s in enumerate(sentences):
        by_section.setdefault(s.key, []).append(i)
    out = []
    for c in chunks:
        idx = [i for i in by_section.get(c.key, ())
               if sentences[i].start < c.end and sentences[i].end > c.start]
        v = sent_vecs[idx].mean(axis=0) if idx else np.asarray(heading_of(c), dtype=np.float32)
        out.append(v / (np.linalg.norm(v) or 1.0))
    dim = sent_vecs.shape[1] if sent_vecs.size else 0
    return np.asarray(out, dtype=np.float32).reshape(len(chunks), dim)


def embed_stage(build: Path, corpus: Corpus, sentences: list[Chunk], chunks: list[Chunk], *,
                model, cache, prefix: bool, quick: bool, progress: bool,
                timings: dict) -> Vectors:
    """Embed a build's units and bridge terms (all of them, or in ``quick`` mode only the
    sentences and headings) and save the bridge into ``build``."""
    from rag.embeddings import embed_texts

    def embed(texts: list[str], desc: str) -> tuple[np.ndarray, int]:
        return embed_texts(model, texts, cache, progress=progress, desc=desc)

    sections = corpus.sections
    t = time.perf_counter()
    s_vecs, n_s = embed([u.index_text(prefix) for u in sentences], "sentences")
    timings["embed_sentences"], t = time.perf_counter() - t, time.perf_counter()
    h_vecs, n_h = embed([s.heading_path for s in sections], "headings")
    timings["embed_headings"], t = time.perf_counter() - t, time.perf_counter()
    c_texts = [u.index_text(prefix) for u in chunks]
    pending: set[str] = set()
    pooled = 0
    if quick:
        heading = {s.key: v for s, v in zip(sections, h_vecs)}
        c_vecs = pooled_chunk_vectors(sentences, s_vecs, chunks, lambda c: heading[c.key])
        for i, text in enumerate(c_texts):
            cached = cache.get(text)
            if cached is not None:
                c_vecs[i] = cached
            else:
                pooled += 1
                pending.add(chunks[i].doc_id)
        n_c = 0
    else:
        c_vecs, n_c = embed(c_texts, "chunks")
    timings["embed_chunks"], t = time.perf_counter() - t, time.perf_counter()
    timings["embed_units"] = (timings["embed_sentences"] + timings["embed_headings"]
                              + timings["embed_chunks"])
    left_out: set[str] = set()
    if quick:
        for doc in corpus.documents:
            missing = {x for x in plan_terms(bridge_texts(doc.sections)) if cache.get(x) is None}
            left_out |= missing
            if missing:
                pending.add(doc.id)
    keep = (lambda term: cache.get(term) is not None) if quick else None
    n_terms = build_bridge(build, bridge_texts(sections), lambda terms: embed(terms, "plan terms")[0],
                           keep=keep)
    timings["embed_terms"] = time.perf_counter() - t
    return Vectors(s_vecs, c_vecs, h_vecs, n_s + n_c + n_h,
                   len(sentences) + len(chunks) + len(sections), n_terms,
                   sorted(pending), pooled, len(left_out))
