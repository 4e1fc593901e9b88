"""Build, switch and open the index: Chroma vectors + a BM25 index + a manifest.

Layout under ``data_dir``::

    builds/<build-id>/manifest.json   how it was built (embedder, dim, chunker, corpus hash…)
    builds/<build-id>/units.jsonl     every sentence and chunk (ids, spans, heading paths)
    builds/<build-id>/sections.jsonl  every section's text, for display and quizzes
    builds/<build-id>/bm25/           bm25s index over jieba tokens of the chunks
    builds/<build-id>/chroma/         embedded Chroma (absent in server mode)
    builds/<build-id>/.readers        shared-locked by every open Index (rag.locking)
    current -> builds/<build-id>      switched with an atomic rename when a build completes
    embed-cache/<embedder>.npz        vectors by text hash; unchanged text is never re-embedded
    .write.lock, .write.lock.json     the writer lock and who holds it (rag.locking)

A build is complete, or quick (phase 1 of ``rag add``, rag.phases: chunk vectors pooled from
sentence vectors, uncached bridge terms left out, the documents concerned listed as
``pending`` in the manifest); the next build that is not quick completes them, and ``ingest``
does not skip while any are pending. A build runs under the data folder's writer lock, so
builds never overlap. A killed build
leaves a folder without manifest.json that the next build removes; ``current`` keeps pointing
at the last complete build. Cleanup removes a build only when it is neither live nor in use by
an open Index (in any process); in server mode its Chroma collections go with it, and no other
collection is touched. An Index resolves ``current`` once and reads everything from that
build. Chroma gets vectors always (never raw text: it would try to download its own ONNX
model) and is reached through llama-index's ChromaVectorStore. With ``chroma_host`` set, an
HttpClient is used instead.

Not handled here: ranking and fusion (retrieval.py).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from rag import __version__
from rag.chunking import CHUNKER_VERSION, Chunk, chunk_corpus
from rag.config import PROJECT_ROOT, Settings
from rag.corpus import Corpus, Section, load_corpus
from rag.errors import IndexError_, IndexMismatchError, RagError
from rag.targets import write_targets
from rag.locking import lease, remove_unused, writer_lock
from rag.windows import build_windows
from rag.wordseg import tokenize

log = logging.getLogger(__name__)
SHIPPED_CACHE_DIR = PROJECT_ROOT / "corpus" / "cache"
RECOVER = "请重新运行 `python -m rag ingest --rebuild`"


@dataclass
class Manifest:
    """How an index was built; compared with settings when it is opened."""

    embedder: str
    dim: int
    chunker_version: str
    chunk_tokens: int
    chunk_overlap: int
    prefix_dense: bool
    prefix_bm25: bool
    corpus_hash: str
    package_version: str
    build_id: str
    created: str
    collection_prefix: str
    chroma_host: str | None = None
    counts: dict = field(default_factory=dict)
    documents: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    pending: list = field(default_factory=list)  # documents a quick build left incomplete

    def build_key(self) -> dict:
        """The fields that decide whether a rebuild is needed."""
        return {k: getattr(self, k) for k in ("embedder", "chunker_version", "chunk_tokens",
                                              "chunk_overlap", "prefix_dense", "prefix_bm25",
                                              "corpus_hash", "package_version")}


def _chroma_client(settings: Settings, path: Path | None):
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_host:
        return chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port,
                                   settings=chroma_settings)
    return chromadb.PersistentClient(path=str(path), settings=chroma_settings)


def _vector_store(client, name: str, create: bool):
    from llama_index.vector_stores.chroma import ChromaVectorStore

    if create:
        coll = client.create_collection(name, metadata={"hnsw:space": "cosine"})
    else:
        coll = client.get_collection(name)
    return ChromaVectorStore(chroma_collection=coll)


def _nodes(units: list[Chunk], vectors: np.ndarray, prefix: bool):
    from llama_index.core.schema import TextNode

    return [TextNode(id_=u.id, text=u.index_text(prefix), embedding=v.tolist(),
                     metadata={"doc_id": u.doc_id, "chapter": u.chapter, "section": u.section,
                               "kind": u.kind},
                     excluded_embed_metadata_keys=["doc_id", "chapter", "section", "kind"])
            for u, v in zip(units, vectors)]


def heading_id(section: Section) -> str:
    """Id of a section's heading vector (its ``章标题 > 节标题`` path, embedded alone)."""
    return f"{section.doc_id}:{section.chapter}:{section.section}:h"


def _heading_nodes(sections: list[Section], vectors: np.ndarray):
    from llama_index.core.schema import TextNode

    return [TextNode(id_=heading_id(s), text=s.heading_path, embedding=v.tolist(),
                     metadata={"doc_id": s.doc_id, "chapter": s.chapter, "section": s.section,
                               "kind": "h"},
                     excluded_embed_metadata_keys=["doc_id", "chapter", "section", "kind"])
            for s, v in zip(sections, vectors)]


def _write_jsonl(path: Path, rows) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _section_row(s: Section) -> dict:
    d = asdict(s)
    d["parts"] = [list(p) for p in s.parts]
    return d


def _section_from_row(r: dict) -> Section:
    return Section(**{**r, "parts": tuple(tuple(p) for p in r["parts"])})


def _read_manifest(build: Path) -> Manifest | None:
    try:
        return Manifest(**json.loads((build / "manifest.json").read_text(encoding="utf-8")))
    except (OSError, ValueError, TypeError):
        return None


def current_manifest(settings: Settings) -> Manifest | None:
    """The manifest of the live index, or None if there is none (or it is unreadable)."""
    return _read_manifest(Path(os.path.realpath(settings.index_dir)))


def wanted_key(settings: Settings, corpus: Corpus) -> dict:
    return {"embedder": settings.embedder, "chunker_version": CHUNKER_VERSION,
            "chunk_tokens": settings.chunk_tokens, "chunk_overlap": settings.chunk_overlap,
            "prefix_dense": settings.prefix_dense, "prefix_bm25": settings.prefix_bm25,
            "corpus_hash": corpus.content_hash, "package_version": __version__}


@dataclass
class BuildReport:
    """What an ingest did: timings per stage, counts, how much was embedded."""

    build_id: str | None
    skipped: bool
    embedded: int
    cached: int
    timings: dict
    counts: dict
    pending: list = field(default_factory=list)


def _prefix(build_id: str) -> str:
    """The Chroma collection prefix of a build (its three collections add _s, _c, _h)."""
    return f"rag_{build_id.replace('-', '_')}"


def _cleanup(settings: Settings, keep: set[str]) -> None:
    """Remove builds neither kept nor in use by a reader, and a killed switch's temporary link;
    only while holding the writer lock. In server mode a removed build's collections go too."""
    data_dir = Path(settings.data_dir)
    for link in data_dir.glob(".current-*"):
        link.unlink(missing_ok=True)

    def drop_collections(build_id: str) -> None:
        try:
            client = _chroma_client(settings, None)
        except Exception as exc:  # the server went away: the collections stay, the build is fine
            log.warning("无法连接 Chroma 服务删除旧集合 %s（%s）", _prefix(build_id), exc)
            return
        for suffix in ("_s", "_c", "_h"):
            try:
                client.delete_collection(_prefix(build_id) + suffix)
            except Exception:  # a collection never created or already gone is fine
                pass

    remove_unused(data_dir / "builds", keep,
                  on_removed=drop_collections if settings.chroma_host else None)


def new_build_id() -> str:
    """A build id unique across processes and within one second: time, pid, random suffix."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{secrets.token_hex(4)}"


def build_index(settings: Settings, *, rebuild: bool = False, progress: bool = True,
                corpus=None, on_stage=None, use_shipped_cache: bool = True, on_wait=None,
                quick: bool = False, on_switched=None) -> BuildReport:
    """Parse, chunk, embed and index the corpus into a new build, then switch to it.

    Everything after parsing runs under the data folder's writer lock: a second writer waits
    up to ``settings.lock_timeout`` seconds (stage ``"wait"``, and ``on_wait(message)``), then
    decides afresh whether a build is needed (an ingest that waited for an equal build skips).

    Args:
        settings: where the corpus and data folder are and how to build.
        rebuild: build even if the live index already matches the corpus and settings.
        progress: show a progress bar while embedding.
        corpus: an already-parsed corpus (the benchmark passes replicated documents), or a
            function returning one, called under the writer lock (``rag add``/``remove``:
            documents added or removed by a writer that held the lock before count).
        on_stage: optional callback ``(stage_name, fraction)`` for UIs.
        use_shipped_cache: merge the verified vectors shipped in corpus/cache/ (the benchmark
            turns this off to report an honest cold ingest without them).
        on_wait: optional callback with a one-line message when another writer holds the lock.
        quick: phase 1 of ``rag add`` (rag.phases): embed only sentences and headings, pool the
            uncached chunk vectors, leave uncached bridge terms out, list the documents pending.
            Without ``quick``, a live index with pending documents is rebuilt (phase 2).
        on_switched: called under the writer lock once the new build is live (or is skipped
            as already live): ``rag add`` writes corpus.toml there.

    Raises:
        CorpusError: the corpus cannot be parsed (the live index is untouched).
        WriterBusyError: another writer kept the lock longer than ``settings.lock_timeout``.
        IndexError_: the data folder cannot be written.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()

    stage = on_stage or (lambda name, frac: None)
    stage("parse", 0.0)
    if corpus is None:
        corpus = load_corpus(settings.corpus_dir)
    timings["parse"] = time.perf_counter() - t0

    def waiting(message: str) -> None:
        stage("wait", 0.0)
        (on_wait or log.warning)(message)

    t = time.perf_counter()
    with writer_lock(Path(settings.data_dir), settings.lock_timeout, on_wait=waiting):
        timings["wait"] = time.perf_counter() - t
        if callable(corpus):
            t = time.perf_counter()
            corpus = corpus()
            timings["parse"] += time.perf_counter() - t
        report = _build_locked(settings, corpus, rebuild, progress, stage, use_shipped_cache,
                               timings, t0, quick)
        if on_switched is not None:
            on_switched()
        return report


def _build_locked(settings: Settings, corpus: Corpus, rebuild: bool, progress: bool, stage,
                  use_shipped_cache: bool, timings: dict, t0: float, quick: bool) -> BuildReport:
    old = current_manifest(settings)
    if old and not rebuild and old.build_key() == wanted_key(settings, corpus) \
            and (old.chroma_host or None) == (settings.chroma_host or None) \
            and (quick or not old.pending):
        return BuildReport(None, True, 0, 0, timings, old.counts, list(old.pending))

    # llama-index (behind rag.embeddings) takes seconds to import: only a real build needs it,
    # so a warm "nothing changed" ingest stays fast.
    from rag.embeddings import EmbeddingCache, embed_texts, embedder_for, embedder_slug
    from rag.phases import embed_stage

    t = time.perf_counter()
    stage("chunk", 0.05)
    sentences, chunks = chunk_corpus(corpus, tokens=settings.chunk_tokens,
                                     overlap=settings.chunk_overlap)
    timings["chunk"] = time.perf_counter() - t

    data_dir = Path(settings.data_dir)
    build_id = new_build_id()
    build = data_dir / "builds" / build_id
    try:
        build.mkdir(parents=True, exist_ok=False)
    except OSError as exc:
        raise IndexError_(f"无法在数据目录 {data_dir} 中写入（{exc.strerror}）："
                          "请检查权限或设置 RAG_DATA_DIR") from None
    live = os.path.realpath(settings.index_dir) if settings.index_dir.exists() else None
    _cleanup(settings, {build_id} | ({Path(live).name} if live else set()))

    t = time.perf_counter()
    stage("embed", 0.1)
    model = embedder_for(settings)
    slug = embedder_slug(settings.embedder)
    cache = EmbeddingCache(data_dir / "embed-cache" / f"{slug}.npz", settings.embedder,
                           shipped=SHIPPED_CACHE_DIR / f"{slug}.npz")
    if use_shipped_cache:
        cache.load_shipped(model)
    sections = corpus.sections
    timings["embed_load"] = time.perf_counter() - t
    vec = embed_stage(build, corpus, sentences, chunks, model=model, cache=cache,
                      prefix=settings.prefix_dense, quick=quick, progress=progress,
                      timings=timings)
    if settings.sentence_windows:  # off by default: it did not win out-of-fold (rag.windows)
        build_windows(build, sentences, lambda t: embed_texts(model, t, cache, progress=False)[0])
    if cache.dirty:
        try:
            cache.save()
        except OSError as exc:  # the cache only saves re-embedding next time; the build goes on
            log.warning("嵌入缓存无法写入 %s（%s），本次构建不受影响", cache.path, exc.strerror)
    timings["embed"] = time.perf_counter() - t
    dim = int(vec.sentences.shape[1])

    t = time.perf_counter()
    stage("chroma", 0.8)
    prefix = _prefix(build_id)
    client = _chroma_client(settings, build / "chroma")
    # llama-index hands Chroma up to 41665 records at once, but Chroma refuses batches above
    # its own limit (5461 here): a corpus of a few plans already has more sentences than that
    batch = int(getattr(client, "get_max_batch_size", lambda: 5000)())
    for suffix, items, vecs, make in (
            ("_s", sentences, vec.sentences, lambda u, v: _nodes(u, v, settings.prefix_dense)),
            ("_c", chunks, vec.chunks, lambda u, v: _nodes(u, v, settings.prefix_dense)),
            ("_h", sections, vec.headings, _heading_nodes)):
        store = _vector_store(client, prefix + suffix, True)
        for i in range(0, len(items), batch):
            store.add(make(items[i:i + batch], vecs[i:i + batch]))
    client.close()  # readers open their own; chromadb keeps a path's system until its last close
    timings["chroma"] = time.perf_counter() - t

    t = time.perf_counter()
    stage("bm25", 0.9)
    import bm25s

    bm25 = bm25s.BM25()
    bm25.index([tokenize(c.index_text(settings.prefix_bm25)) for c in chunks],
               show_progress=False)
    bm25.save(str(build / "bm25"))
    timings["bm25"] = time.perf_counter() - t

    _write_jsonl(build / "units.jsonl", (asdict(u) for u in sentences + chunks))
    _write_jsonl(build / "sections.jsonl", (_section_row(s) for s in corpus.sections))
    counts = {"documents": len(corpus.documents), "sections": len(sections),
              "sentences": len(sentences), "chunks": len(chunks), "headings": len(sections),
              "bridge_terms": vec.terms, "pooled_chunks": vec.pooled,
              "terms_left_out": vec.terms_left_out}
    counts["targets"] = write_targets(build, corpus)  # 目标一览: rag.targets
    timings["total"] = time.perf_counter() - t0
    manifest = Manifest(
        **wanted_key(settings, corpus), dim=dim, build_id=build_id,
        created=time.strftime("%Y-%m-%dT%H:%M:%S"), collection_prefix=prefix,
        chroma_host=settings.chroma_host, counts=counts, timings=timings, pending=vec.pending,
        documents=[{"id": d.id, "title": d.info.title, "issuer": d.info.issuer,
                    "number": d.info.number, "date_published": d.info.date_published}
                   for d in corpus.documents])
    tmp = build / "manifest.json.tmp"
    tmp.write_text(json.dumps(asdict(manifest), ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(tmp, build / "manifest.json")  # the build is complete only from here on

    # atomic switch: a new symlink renamed over the old one
    link_tmp = data_dir / f".current-{build_id}"
    os.symlink(Path("builds") / build_id, link_tmp)
    os.replace(link_tmp, settings.index_dir)
    stage("done", 1.0)
    _cleanup(settings, {build_id})  # the previous build too, unless an open Index still reads it
    return BuildReport(build_id, False, vec.embedded, vec.total - vec.embedded, timings, counts,
                       vec.pending)


class Index:
    """An opened, read-only index: units, sections, BM25 and the three Chroma collections."""

    def __init__(self, settings: Settings):
        self.settings = settings
        # the build folder itself, resolved once, not the `current` link: a switch between two
        # reads must not mix builds, and chromadb caches clients by path. The lease keeps
        # cleanup away from this build while the Index lives; a build removed between resolving
        # and leasing means a switch happened: resolve again.
        self._lease = None
        for _ in range(20):
            if not settings.index_dir.exists():
                raise IndexError_("还没有索引：请先运行 `python -m rag ingest`")
            root = Path(os.path.realpath(settings.index_dir))
            self._lease = lease(root)
            if self._lease is not None or Path(os.path.realpath(settings.index_dir)) == root:
                break  # leased, or the live build itself lacks its manifest (reported below)
        self.root = root
        manifest = _read_manifest(root)
        if manifest is None:
            raise IndexError_(f"索引清单 manifest.json 缺失或损坏：{RECOVER}")
        if manifest.embedder != settings.embedder:
            raise IndexMismatchError(
                f"索引由 {manifest.embedder} 构建，当前配置为 {settings.embedder}：{RECOVER}")
        self.manifest = manifest
        try:
            self.units: dict[str, Chunk] = {
                r["id"]: Chunk(**r) for r in _read_jsonl(root / "units.jsonl")}
            self.sections: list[Section] = [
                _section_from_row(r) for r in _read_jsonl(root / "sections.jsonl")]
            import bm25s

            self.bm25 = bm25s.BM25.load(str(root / "bm25"))
        except (OSError, ValueError, TypeError, KeyError) as exc:
            raise IndexError_(f"索引文件缺失或损坏（{type(exc).__name__}: {exc}）：{RECOVER}") from None
        self.chunks: list[Chunk] = [u for u in self.units.values() if u.kind == "c"]
        self._section_by_key = {(s.doc_id, s.chapter, s.section): s for s in self.sections}
        try:
            self.client = client = _chroma_client(settings, root / "chroma")
            self.sentence_store = _vector_store(client, manifest.collection_prefix + "_s", False)
            self.chunk_store = _vector_store(client, manifest.collection_prefix + "_c", False)
            self.heading_store = _vector_store(client, manifest.collection_prefix + "_h", False)
            if self.sentence_store._collection.count() != manifest.counts.get("sentences"):
                raise IndexError_("Chroma 中的向量数与清单不符")
        except RagError as exc:
            raise IndexError_(f"向量库不完整：{exc}；{RECOVER}") from None
        except Exception as exc:  # chromadb raises many types for a damaged sqlite file
            raise IndexError_(f"无法打开向量库（{type(exc).__name__}: {exc}）：{RECOVER}") from None

    def close(self) -> None:
        """Release the reader lease early (it is released anyway when the Index is collected)."""
        if self._lease is not None:
            self._lease.close()

    def section(self, doc_id: str, chapter: int, section: int) -> Section:
        return self._section_by_key[(doc_id, chapter, section)]
