"""Hybrid latency work (issue 12, round 3): the step clock, the cached collection counts, and
that neither changes what retrieval returns. Real plan, real embedder (the session's index)."""

from __future__ import annotations

import os
import time

import pytest

from rag.config import load_settings
from rag.hits import Steps

QUESTIONS = ["到2025年5G基站要达到多少座？", "带娃太累，三岁以下的小孩有地方托管吗？",
             "山西一年挖多少煤？", "打官司请不起律师，老百姓能找谁帮忙？", "那2035年呢？"]


def test_openmp_threads_sleep_instead_of_spinning():
    load_settings()
    assert os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    assert os.environ["OPENBLAS_NUM_THREADS"] == "1"


def test_steps_add_up_and_name_every_stage(real_index_settings):
    from rag.retrieval import Retriever

    r = Retriever.from_settings(real_index_settings)
    r.search(QUESTIONS[0])  # warm: lazy token tables, the fusion model
    r.steps = steps = Steps()
    t = time.perf_counter()
    r.search(QUESTIONS[1])
    whole = time.perf_counter() - t
    assert {"clean", "embed", "chroma_sentences", "chroma_chunks", "chroma_headings", "jieba",
            "bm25", "bridge", "bm25_bridge", "rrf", "signals", "feature_matrix", "fusion_score",
            "hits"} <= set(steps.seconds)
    assert all(v >= 0 for v in steps.seconds.values())
    assert sum(steps.seconds.values()) <= whole
    assert steps.seconds["embed"] > 0


def test_collection_count_is_read_once_per_store(real_index_settings, monkeypatch):
    from rag.retrieval import Retriever

    r = Retriever.from_settings(real_index_settings)
    collection_type = type(r.index.sentence_store.client)
    calls = []
    real_count = collection_type.count

    def counting(self):
        calls.append(self.name)
        return real_count(self)

    monkeypatch.setattr(collection_type, "count", counting)
    for q in QUESTIONS[:3]:
        r.search(q)
    assert len(calls) == len(set(calls)) == 3  # sentences, chunks, headings: once each


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_step_clock_leaves_results_unchanged(real_index_settings, mode):
    from rag.retrieval import Retriever

    plain, clocked = (Retriever.from_settings(real_index_settings) for _ in range(2))
    clocked.steps = Steps(cpu=True)
    for q in QUESTIONS:
        a = [(h.key, h.chunk.id, round(h.score, 9)) for h in plain.search(q, k=10, mode=mode)]
        b = [(h.key, h.chunk.id, round(h.score, 9)) for h in clocked.search(q, k=10, mode=mode)]
        assert a == b and a
