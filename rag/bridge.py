"""Vocabulary bridge: everyday words in a question → the plan's own terms, for BM25.

The plan's terms are mined from the plan itself: its jieba tokens (rag.wordseg, two characters
or more, not bare numbers) and the programme names it quotes (“人人持证、技能社会”). They are
embedded once at ingest with the index's embedder (passage side, through the embedding cache,
so the shipped cache in corpus/cache/ covers them) and saved with the build as
``bridge.npz``. At query time the plan terms nearest the question's own vector are taken (no
extra embedding call; this also catches words jieba splits into single characters, 挖煤 → 挖,
煤), skipping terms the question already holds; the question's words the plan never uses are
reported with them. :meth:`Bridge.expand` can also match those words one by one from their own
vectors (``word_vectors``), but on dev.jsonl that added noise (几年 → 三年), so the retriever
does not pass them. The matched terms form a second BM25 query whose ranking is one more signal
for fusion; the expansion is returned so `search --json` can show why a section came up.

No synonym list is written by hand: what is added depends only on the plan's text and the
embedder. Not handled here: BM25 scoring and fusion (retrieval.py, fusion.py), building the
index (store.py calls :func:`build_bridge`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.wordseg import token_spans, tokenize

BRIDGE_FILE = "bridge.npz"
BRIDGE_VERSION = "1"
_QUOTED = re.compile(r"“([^”“]{2,16})”")
_NUMERIC = re.compile(r"^[\d.%+\-—/]+$")


def bridge_texts(sections) -> list[str]:
    """The texts terms are mined from: each section's text and heading path."""
    return [f"{s.text}\n{s.heading_path}" for s in sections]


def plan_terms(texts: list[str]) -> list[str]:
    """The plan's terms, sorted: jieba tokens of 2+ characters (not numbers) and quoted names."""
    terms: set[str] = set()
    for text in texts:
        terms.update(t for t in tokenize(text) if len(t) >= 2 and not _NUMERIC.match(t))
        terms.update(m.strip().lower() for m in _QUOTED.findall(text))
    return sorted(t for t in terms if t)


def build_bridge(folder: Path, texts: list[str], embed, keep=None) -> int:
    """Mine, embed (``embed(list[str]) -> np.ndarray``) and save the terms; returns how many.
    With ``keep``, only the terms it accepts (a quick build keeps the already-cached ones)."""
    terms = [t for t in plan_terms(texts) if keep is None or keep(t)]
    vectors = np.asarray(embed(terms), dtype=np.float32) if terms else np.zeros((0, 0))
    np.savez(Path(folder) / BRIDGE_FILE, terms=np.array(terms), vectors=vectors,
             version=np.array(BRIDGE_VERSION))
    return len(terms)


@dataclass(frozen=True)
class Expansion:
    """What the bridge added for one question: unknown words and the plan terms found."""

    unknown: tuple[str, ...]
    terms: tuple[tuple[str, float], ...]  # (plan term, cosine), best first

    @property
    def tokens(self) -> list[str]:
        return [t for t, _ in self.terms]

    def to_json(self) -> dict:
        return {"unknown_words": list(self.unknown),
                "added_terms": [{"term": t, "cosine": round(c, 4)} for t, c in self.terms]}


class Bridge:
    """Nearest plan terms for question words; loaded from a build folder."""

    def __init__(self, terms: list[str], vectors: np.ndarray):
        self.terms = terms
        self.vectors = vectors
        self._known = set(terms)

    @classmethod
    def load(cls, folder: Path) -> "Bridge | None":
        """The build's bridge, or None when the build has none (built before the bridge)."""
        path = Path(folder) / BRIDGE_FILE
        if not path.exists():
            return None
        with np.load(path, allow_pickle=False) as data:
            return cls(data["terms"].tolist(), data["vectors"].astype(np.float32))

    def unknown_words(self, tokens: list[str], known) -> list[str]:
        """Question tokens of 2+ characters that neither the plan terms nor ``known`` contain."""
        return [t for t in dict.fromkeys(tokens)
                if len(t) >= 2 and not _NUMERIC.match(t) and t not in self._known
                and not known(t)]

    def expand(self, tokens: list[str], word_vectors: np.ndarray | None,
               qvec: np.ndarray | None, *, known, per_word: int = 3, per_query: int = 5,
               min_cosine: float = 0.85, question: str = "") -> Expansion:
        """Plan terms near the unknown words (``word_vectors``, one row each, same order as
        :meth:`unknown_words`) and near the question vector. Terms the question already
        contains, and terms that contain one of the question's words (山西能力 for a question
        about 山西: the match comes from the shared word, not from a bridged meaning), are
        skipped."""
        if not len(self.terms):
            return Expansion((), ())
        unknown = self.unknown_words(tokens, known)
        have = set(tokens)
        words = {question[a:b] for a, b in token_spans(question) if b - a >= 2}
        found: dict[str, float] = {}

        def take(vec: np.ndarray, n: int) -> None:
            sims = self.vectors @ vec
            m = min(n * 3, len(sims))  # only the best m are read: partition, then sort those
            top = np.argpartition(-sims, m - 1)[:m] if 0 < m < len(sims) else np.arange(len(sims))
            for i in top[np.argsort(-sims[top])]:
                term, sim = self.terms[i], float(sims[i])
                if sim < min_cosine or n <= 0:
                    break
                if term in have or any(w in term for w in words):
                    continue
                found[term] = max(found.get(term, 0.0), sim)
                n -= 1

        if word_vectors is not None:
            for vec in np.asarray(word_vectors, dtype=np.float32)[:len(unknown)]:
                take(vec, per_word)
        if qvec is not None and per_query:
            take(np.asarray(qvec, dtype=np.float32), per_query)
        ranked = tuple(sorted(found.items(), key=lambda kv: -kv[1]))
        return Expansion(tuple(unknown), ranked)
