"""Dense, BM25 and hybrid retrieval at section level, with citations on every hit.

Four ranked lists are computed per question and fused by weighted reciprocal rank fusion
at *section* level (RRF: ``sum_i w_i / (k + rank_i)``):

- dense sentences: every sentence embedded alone; a section scores its best sentence
  (max-pooling), which measured best for pinpoint questions;
- dense chunks: ~350-token chunks (~250 characters), for questions whose words are spread over sentences;
- dense headings: each section's ``章标题 > 节标题`` (low weight), for broad questions whose
  answer is a whole section or a chapter intro;
- BM25 over chunks (jieba tokens), for names and numbers.

Weights and k (settings: weight_*, rrf_k) were chosen on eval/datasets/dev.jsonl: a small
k (10) that lets the first ranks dominate lifted MRR@10 from 0.886 to 0.914, on both halves.
The result is the best chunk of each of the top sections (one section never fills the list).
For the learned fusion, optional lists (settings, off: none won out-of-fold on dev.jsonl) add
sentence windows (rag.windows), BM25 with pseudo-relevance feedback (rag.prf), a dense query
of the question plus the bridge's terms.

:meth:`Retriever.search` validates and cleans a question (the CLI's entry);
:meth:`Retriever.retrieve` takes a question already cleaned by the caller (the answer
pipeline cleans once) and returns the hits together with the query vector, so nothing
downstream embeds the question again. Depths per list are Settings (depth_*).

Not handled here: composing answers (answering.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rag import fusion
from rag.bridge import Bridge
from rag.chunking import Chunk
from rag.config import MODES, Settings
from rag.embeddings import embedder_for
from rag.errors import ConfigError, RetrievalError
from rag.hits import Hit, Retrieval, SectionKey, Steps, clean_question  # also imported from here
from rag.prf import Feedback
from rag.store import Index, heading_id
from rag.windows import Windows
from rag.wordseg import tokenize


@dataclass
class _Ranked:
    """Per-section best score and unit of one ranked list."""

    scores: dict[SectionKey, float] = field(default_factory=dict)
    units: dict[SectionKey, str] = field(default_factory=dict)

    def offer(self, key: SectionKey, score: float, unit_id: str) -> None:
        if key not in self.scores or score > self.scores[key]:
            self.scores[key] = score
            self.units[key] = unit_id

    def ranks(self) -> dict[SectionKey, int]:
        order = sorted(self.scores, key=lambda k: -self.scores[k])
        return {k: i + 1 for i, k in enumerate(order)}


class Retriever:
    """Section-level retriever over an opened :class:`Index`."""

    def __init__(self, index: Index, settings: Settings | None = None):
        self.index = index
        self.settings = settings or index.settings
        self.embedder = embedder_for(self.settings)
        self._chunk_chapter = np.array([c.chapter for c in index.chunks])
        # section -> its chunks, for picking the chunk to show
        self._by_section: dict[SectionKey, list[Chunk]] = {}
        for c in index.chunks:
            self._by_section.setdefault(c.key, []).append(c)
        self._counts: dict[int, int] = {}
        self._heading_keys = {heading_id(sec): sec.key
                              for sec in index.sections}
        self._vocab = getattr(index.bm25, "vocab_dict", None) or {}
        self.bridge = Bridge.load(index.root) \
            if self.settings.bridge else None
        self.windows = Windows.load(index.root) if self.settings.sentence_windows else None
        self._feedback = Feedback(index.sections)
        self._fusion_model = None
        self._tokens: dict[SectionKey, tuple[set, set]] | None = None
        self._idf_table: dict[str, float] = {}
        self.steps: Steps | None = None  # set by the benchmark to split a query's time

    def _lap(self, name: str) -> None:
        if self.steps is not None:
            self.steps.lap(name)

    def _knows(self, token: str) -> bool:
        return token in self._vocab if self._vocab else True

    @property
    def fusion_model(self) -> fusion.FusionModel:
        if self._fusion_model is None:
            model = fusion.load_model(self.settings.fusion_model)
            s = self.settings
            missing = model.lists() - {n for n, on in (("win", s.sentence_windows), (
                "bm25p", s.prf_sections > 0), ("sentx", s.bridge_dense and s.bridge)) if on}
            if missing:
                raise ConfigError(f"学习融合模型要用 {', '.join(sorted(missing))} 信号，但对应设置"
                                  "（sentence_windows / prf_sections / bridge_dense）未开启")
            self._fusion_model = model
        return self._fusion_model

    def _section_token_table(self) -> dict[SectionKey, tuple[set, set]]:
        """Per section: tokens of its text and headings, and of its headings alone (lazy)."""
        if self._tokens is None:
            table = {}
            for sec in self.index.sections:
                head = set(tokenize(sec.heading_path))
                table[sec.key] = (set(tokenize(sec.text)) | head, head)
            n = len(table)
            df: dict[str, int] = {}
            for toks, _ in table.values():
                for t in toks:
                    df[t] = df.get(t, 0) + 1
            self._idf_table = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
            self._idf_unknown = math.log((n + 1) / 0.5)
            self._tokens = table
        return self._tokens

    def _section_tokens(self, key: SectionKey) -> set:
        return self._section_token_table().get(key, (set(), set()))[0]

    def _heading_tokens(self, key: SectionKey) -> set:
        return self._section_token_table().get(key, (set(), set()))[1]

    def _idf(self, token: str) -> float:
        self._section_token_table()
        return self._idf_table.get(token, self._idf_unknown)

    @classmethod
    def from_settings(cls, settings: Settings) -> "Retriever":
        return cls(Index(settings), settings)

    # ------------------------------------------------------------ public API

    def search(self, question: str, k: int | None = None, mode: str | None = None,
               chapter: int | None = None, doc_id: str | None = None) -> list[Hit]:
        """Top-k sections for a question, each as its best chunk.

        Args:
            question: the question in natural language.
            k: number of sections (default: settings.top_k).
            mode: hybrid, dense or bm25 (default: settings.mode).
            chapter: only search this chapter (0 = preamble).
            doc_id: only search this document.

        Raises:
            RetrievalError: empty question, unknown mode, chapter that does not exist.
        """
        return self.search_full(question, k, mode, chapter, doc_id).hits

    def search_full(self, question: str, k: int | None = None, mode: str | None = None,
                    chapter: int | None = None, doc_id: str | None = None) -> Retrieval:
        """:meth:`search` returning the whole :class:`Retrieval` (hits and bridge expansion)."""
        question, _ = clean_question(question, self.settings.max_question_chars)
        if not question:
            raise RetrievalError("问题为空（或只含空白、不可见字符）：请输入要查询的问题")
        return self.retrieve(question, k=k, mode=mode, chapter=chapter, doc_id=doc_id)

    def explain(self, retrieval: Retrieval) -> list[dict]:
        """Each hit's JSON plus the expansion terms found in its section (``search --json``)."""
        exp = retrieval.expansion
        out = []
        for h in retrieval.hits:
            row = h.to_json()
            if exp is not None:
                toks = self._section_tokens(h.key)
                row["expansion"] = exp.to_json() | {"matched_terms": [
                    t for t in exp.tokens if set(tokenize(t)) & toks]}
            out.append(row)
        return out

    def retrieve(self, question: str, k: int | None = None, mode: str | None = None,
                 chapter: int | None = None, doc_id: str | None = None) -> Retrieval:
        """Like :meth:`search` for a question the caller has already cleaned (non-empty);
        returns the query vector with the hits."""
        mode = mode or self.settings.mode
        if mode not in MODES:
            raise RetrievalError(f"未知检索模式 {mode!r}；可用：{', '.join(MODES)}")
        k = k or self.settings.top_k
        if k < 1:
            raise RetrievalError("k 必须为正整数")
        if chapter is not None and chapter not in {s.chapter for s in self.index.sections}:
            raise RetrievalError(f"第 {chapter} 章不存在")
        return self._search(question, k, mode, chapter, doc_id)

    # ------------------------------------------------------------ internals

    @staticmethod
    def _where(chapter: int | None, doc_id: str | None) -> dict | None:
        """A Chroma ``where`` clause for the optional chapter/document filter."""
        clauses = []
        if chapter is not None:
            clauses.append({"chapter": chapter})
        if doc_id is not None:
            clauses.append({"doc_id": doc_id})
        if len(clauses) > 1:
            return {"$and": clauses}
        return clauses[0] if clauses else None

    def _dense(self, store, qvec: list[float], n: int, chapter, doc_id,
               keys: dict[str, SectionKey] | None = None) -> _Ranked:
        # The collection behind llama-index's ChromaVectorStore, queried for ids and distances
        # only: rebuilding llama-index nodes from metadata for 80 hits cost more than the search.
        ranked = _Ranked()
        collection = store.client
        if id(store) not in self._counts:  # the index is immutable once built: count once
            self._counts[id(store)] = collection.count()
        n = min(n, self._counts[id(store)])
        if n == 0:
            return ranked
        res = collection.query(query_embeddings=[qvec], n_results=n,
                               where=self._where(chapter, doc_id), include=["distances"])
        for uid, dist in zip(res["ids"][0], res["distances"][0]):
            unit = self.index.units.get(uid)
            key = unit.key if unit is not None else (keys or {}).get(uid)
            if key is not None:
                ranked.offer(key, 1.0 - float(dist), uid)  # cosine space: d = 1 - cos
        return ranked

    def _bm25(self, tokens: list[str], chapter, doc_id) -> _Ranked:
        tokens = [t for t in tokens if self._knows(t)]
        return self._bm25_ranked(self.index.bm25.get_scores(tokens) if tokens else None,
                                 chapter, doc_id)

    def _bm25_prf(self, tokens: list[str], terms: list[tuple[str, float]], chapter,
                  doc_id) -> _Ranked:
        """BM25 of the question interpolated with the feedback terms (rag.prf, RM3)."""
        lam, bm = self.settings.prf_weight, self.index.bm25
        scores = (1 - lam) * bm.get_scores(tokens) / len(tokens) if tokens else 0.0
        for t, w in terms:
            scores = scores + lam * w * bm.get_scores([t])
        return self._bm25_ranked(scores if tokens or terms else None, chapter, doc_id)

    def _bm25_ranked(self, scores, chapter, doc_id) -> _Ranked:
        ranked = _Ranked()
        if scores is None:
            return ranked
        if chapter is not None:
            scores = np.where(self._chunk_chapter == chapter, scores, 0.0)
        top = np.argsort(-scores)[:self.settings.depth_bm25]
        for i in top:
            if scores[i] <= 0:
                break
            c = self.index.chunks[i]
            if doc_id is None or c.doc_id == doc_id:
                ranked.offer(c.key, float(scores[i]), c.id)
        return ranked

    def _lists(self, question: str, mode: str, chapter, doc_id):
        """The ranked lists of one question (name → _Ranked), the query vector, the expansion."""
        s = self.settings
        qvec, expansion = None, None
        lists: dict[str, _Ranked] = {}
        if mode in ("hybrid", "dense"):
            qvec = self.embedder.get_query_embedding(question)
            self._lap("embed")
            lists["sent"] = self._dense(self.index.sentence_store, qvec, s.depth_sentences,
                                        chapter, doc_id)
            self._lap("chroma_sentences")
            lists["chunk"] = self._dense(self.index.chunk_store, qvec, s.depth_chunks, chapter,
                                         doc_id)
            self._lap("chroma_chunks")
            if s.weight_heading or s.fusion == "learned":
                lists["head"] = self._dense(self.index.heading_store, qvec, s.depth_headings,
                                            chapter, doc_id, self._heading_keys)
                self._lap("chroma_headings")
        if mode in ("hybrid", "bm25"):
            tokens = tokenize(question)
            self._lap("jieba")
            lists["bm25"] = self._bm25(tokens, chapter, doc_id)
            self._lap("bm25")
            if mode == "hybrid" and self.bridge is not None and s.bridge and s.bridge_terms:
                expansion = self.bridge.expand(tokens, None, np.asarray(qvec), known=self._knows,
                                               per_query=s.bridge_terms,
                                               min_cosine=s.bridge_min_cosine,
                                               question=question)
                self._lap("bridge")
                extra = [t for term in expansion.tokens for t in tokenize(term)]
                lists["bm25x"] = self._bm25(extra, chapter, doc_id)
                self._lap("bm25_bridge")
        return lists, qvec, expansion

    def signals(self, question: str, chapter=None, doc_id=None):
        """Hybrid signals of a cleaned question: (candidate sections, feature matrix, lists,
        query vector, expansion). The learned fusion scores the matrix; training reads it."""
        lists, qvec, expansion = self._lists(question, "hybrid", chapter, doc_id)
        rrf = self._rrf(lists, "hybrid")
        self._lap("rrf")
        self._extra_lists(question, lists, rrf, qvec, expansion, chapter, doc_id)
        self._lap("optional_lists")
        candidates = sorted(set(rrf).union(*(lists[n].scores for n in fusion.EXTRA_LISTS
                                              if n in lists)))
        exp_cos: dict[str, float] = {}
        for term, cos in (expansion.terms if expansion else ()):
            for t in tokenize(term):
                exp_cos[t] = max(exp_cos.get(t, 0.0), cos)
        sig = fusion.Signals({n: r.scores for n, r in lists.items()},
                             {t: self._idf(t) for t in set(tokenize(question))},
                             tuple(exp_cos), rrf, question, exp_cos)
        self._lap("signals")
        X = fusion.feature_matrix(sig, candidates, self._section_tokens, self._heading_tokens,
                                  lambda key: self.index.section(*key).section_title)
        self._lap("feature_matrix")
        return candidates, X, lists, qvec, expansion

    def _extra_lists(self, question: str, lists: dict, first: dict, qvec, expansion,
                     chapter, doc_id) -> None:
        """The optional lists (settings): sentence windows, BM25 with feedback, dense query
        with the bridge's terms; added to ``lists`` in place. ``first`` is the RRF first pass."""
        s = self.settings
        if s.sentence_windows:
            if self.windows is None:
                raise RetrievalError("索引中没有句窗向量：请运行 `python -m rag ingest --rebuild`")
            lists["win"] = _Ranked()
            for key, cos, uid in self.windows.top(qvec, s.depth_windows, lambda key: (
                    chapter is None or key[1] == chapter) and doc_id in (None, key[0])):
                lists["win"].offer(key, cos, uid)
        if s.prf_sections:
            top = sorted(first.items(), key=lambda kv: -kv[1])[:s.prf_sections]
            tokens = [t for t in tokenize(question) if self._knows(t)]
            terms = self._feedback.terms(top, set(tokens), s.prf_terms, self._knows)
            lists["bm25p"] = self._bm25_prf(tokens, terms, chapter, doc_id)
        if s.bridge_dense and s.bridge:
            extra = "、".join(expansion.tokens if expansion else [])
            lists["sentx"] = self._dense(
                self.index.sentence_store, self.embedder.get_query_embedding(
                    f"{question}：{extra}"), s.depth_sentences, chapter, doc_id) \
                if extra else lists["sent"]

    def _rrf(self, lists: dict[str, "_Ranked"], mode: str) -> dict[SectionKey, float]:
        s = self.settings
        weights = {"sent": s.weight_sentence, "chunk": s.weight_chunk, "head": s.weight_heading,
                   "bm25": s.weight_bm25 if mode == "hybrid" else 1.0, "bm25x": 0.0}
        fused: dict[SectionKey, float] = {}
        for name, ranked in lists.items():
            if not weights.get(name):
                continue
            for key, r in ranked.ranks().items():
                fused[key] = fused.get(key, 0.0) + weights[name] / (s.rrf_k + r)
        return fused

    def _search(self, question: str, k: int, mode: str, chapter, doc_id) -> Retrieval:
        self._lap("clean")
        if mode == "hybrid" and self.settings.fusion == "learned":
            candidates, X, lists, qvec, expansion = self.signals(question, chapter, doc_id)
            scores = self.fusion_model.score(X) if len(candidates) else np.zeros(0)
            fused = dict(zip(candidates, scores.tolist()))
            self._lap("fusion_score")
        else:
            lists, qvec, expansion = self._lists(question, mode, chapter, doc_id)
            fused = self._rrf(lists, mode)
            self._lap("rrf")
        order = sorted(fused, key=lambda key: -fused[key])[:k]
        empty = _Ranked()
        sent, chunk, bm = (lists.get(n, empty) for n in ("sent", "chunk", "bm25"))

        hits = []
        for rank, key in enumerate(order, start=1):
            dense = max(sent.scores.get(key, 0.0), chunk.scores.get(key, 0.0))
            score = fused[key] if mode == "hybrid" else (
                dense if mode == "dense" else bm.scores.get(key, 0.0))
            hits.append(Hit(chunk=self._pick_chunk(key, sent.units.get(key), chunk, bm),
                            score=score, rank=rank))
        self._lap("hits")
        return Retrieval(hits, qvec, expansion)

    def _pick_chunk(self, key: SectionKey, sentence_id: str | None, chunk: _Ranked,
                    bm: _Ranked) -> Chunk:
        """The chunk to show for a section: the one holding its best sentence, else best scored."""
        if sentence_id is not None:
            sent = self.index.units[sentence_id]
            for c in self._by_section.get(key, []):
                if c.start <= sent.start and sent.end <= c.end:
                    return c
        for ranked in (chunk, bm):
            if key in ranked.units:
                return self.index.units[ranked.units[key]]
        return self._by_section[key][0]
