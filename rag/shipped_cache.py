"""Export the live index's vectors as the shipped embedding cache (corpus/cache/).

``python -m rag ingest --export-cache`` writes, keyed by text hash, the vectors of every unit,
heading path, bridge term (and sentence window, if built) of the live index, plus three sample
texts that ingestion re-embeds before it trusts the file (rag.embeddings.EmbeddingCache).

Not handled here: building the index (rag.store), reading the cache (rag.embeddings).
"""

from __future__ import annotations

import os
from pathlib import Path

from rag.bridge import bridge_texts, plan_terms
from rag.chunking import Chunk
from rag.config import Settings
from rag.errors import IndexError_
from rag.store import SHIPPED_CACHE_DIR, _read_jsonl, _read_manifest, _section_from_row
from rag.windows import window_texts


def export_shipped_cache(settings: Settings) -> Path:
    """Write the live index's vectors to corpus/cache/<embedder>.npz (+ a verification sample).

    Only vectors of the current corpus's units are written, keyed by text hash; ingestion
    trusts the file only after re-embedding the sample texts to the same vectors.
    """
    from rag.embeddings import EmbeddingCache, embedder_slug, text_key

    index_root = Path(os.path.realpath(settings.index_dir))
    manifest = _read_manifest(index_root)
    if manifest is None:
        raise IndexError_("还没有索引：请先运行 `python -m rag ingest`")
    slug = embedder_slug(manifest.embedder)
    cache = EmbeddingCache(Path(settings.data_dir) / "embed-cache" / f"{slug}.npz",
                           manifest.embedder)
    units = [Chunk(**r) for r in _read_jsonl(index_root / "units.jsonl")]
    sections = [_section_from_row(r) for r in _read_jsonl(index_root / "sections.jsonl")]
    texts = [u.index_text(manifest.prefix_dense) for u in units] + [
        s.heading_path for s in sections] + plan_terms(bridge_texts(sections)) + window_texts(
        [u for u in units if u.kind == "s"])  # windows only if a build embedded them

    out = SHIPPED_CACHE_DIR / f"{slug}.npz"
    # vectors the build took from the shipped file were never written to the local cache
    for key, vec in EmbeddingCache._read(out).items():
        cache._vectors.setdefault(key, vec)
    cache.save(out, keys=[text_key(t) for t in texts])
    sample = [texts[i] for i in (0, len(texts) // 2, len(texts) - 1)]
    out.with_suffix(".sample.txt").write_text("\n\x1e\n".join(sample), encoding="utf-8")
    return out
