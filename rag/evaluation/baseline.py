"""The naive baseline: the LlamaIndex default recipe, ranked back to the plan's sections.

SentenceSplitter 1024/200 over each raw file (no heading metadata), the same embedder, cosine
top-k over the nodes; each node maps to the sections its character span overlaps, largest
overlap first. Its vectors are cached in the data folder (and shipped in corpus/cache/).

Not handled here: the system's own retrieval (rag.retrieval), scoring (metrics.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.corpus import Corpus
from rag.evaluation.metrics import DEPTH, Key, dedupe
from rag.store import SHIPPED_CACHE_DIR

NAIVE_CHUNK_SIZE, NAIVE_OVERLAP = 1024, 200


class NaiveRetriever:
    """The LlamaIndex default recipe over raw text, ranked back to sections by char overlap."""

    def __init__(self, corpus: Corpus, settings: Settings, embedder, progress: bool = True):
        from llama_index.core import Document
        from llama_index.core.node_parser import SentenceSplitter

        from rag.embeddings import EmbeddingCache, embed_texts, embedder_slug

        self.embedder = embedder
        splitter = SentenceSplitter(chunk_size=NAIVE_CHUNK_SIZE, chunk_overlap=NAIVE_OVERLAP)
        self.node_sections: list[list[Key]] = []
        texts: list[str] = []
        for doc in corpus.documents:
            for node in splitter.get_nodes_from_documents([Document(text=doc.text)]):
                texts.append(node.get_content())
                self.node_sections.append(self._sections_of(doc, node.start_char_idx,
                                                            node.end_char_idx, node.get_content()))
        slug = f"naive-{embedder_slug(settings.embedder)}"
        cache = EmbeddingCache(Path(settings.data_dir) / "embed-cache" / f"{slug}.npz",
                               settings.embedder, shipped=SHIPPED_CACHE_DIR / f"{slug}.npz")
        if not all(cache.get(t) is not None for t in texts):
            # long texts embed at seconds each on a small CPU: trust the shipped vectors
            # once one sample re-embeds identically
            cache.load_shipped(embedder, sample=1)
        vectors, self.embedded = embed_texts(embedder, texts, cache, progress=progress,
                                             desc="naive 基线嵌入")
        if cache.dirty:
            cache.save()
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        self.matrix = vectors / np.where(norms == 0, 1.0, norms)
        self.nodes = len(texts)

    @staticmethod
    def _sections_of(doc, start: int | None, end: int | None, text: str) -> list[Key]:
        """Sections a node's span overlaps, largest overlap first (ties: document order)."""
        if start is None or end is None:  # llama-index could not place the node: find it
            start = doc.text.find(text)
            if start < 0:
                return []
            end = start + len(text)
        overlaps = []
        for i, s in enumerate(doc.sections):
            o = sum(max(0, min(end, b) - max(start, a)) for a, b in s.parts)
            if o > 0:
                overlaps.append((-o, i, s.key))
        return [key for _, _, key in sorted(overlaps)]

    def search(self, question: str, k: int = DEPTH) -> list[Key]:
        """Top-k sections from the top-k nodes by cosine similarity."""
        q = np.asarray(self.embedder.get_query_embedding(question), dtype=np.float32)
        q /= np.linalg.norm(q) or 1.0
        order = np.argsort(-(self.matrix @ q), kind="stable")[:k]
        return dedupe(key for i in order for key in self.node_sections[i])[:k]
