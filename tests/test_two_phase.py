"""Two-phase ``rag add`` on the tiny plan: phase 1 is searchable with pooled chunk vectors and
without the new plan's bridge terms, phase 2 gives the complete index; a failed phase 2 keeps
phase 1 live; adds and removes in between stay correct; the CLI's --no-wait and 待补全."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from rag.bridge import Bridge
from rag.cli import main
from rag.config import load_settings
from rag.documents import add_document, complete_documents, list_documents, remove_document
from rag.retrieval import Retriever
from rag.store import Index, build_index, current_manifest
from tests.plan_files import city_plan, special_plan, write_docx, write_html


@pytest.fixture
def settings(tiny_corpus, tmp_path):
    s = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data")
    build_index(s, progress=False)
    return s


def _chunk_vectors(settings, doc_id: str) -> dict:
    index = Index(settings)
    ids = [c.id for c in index.chunks if c.doc_id == doc_id]
    got = index.chunk_store._collection.get(ids=ids, include=["embeddings"])
    index.close()
    return dict(zip(got["ids"], np.asarray(got["embeddings"])))


def _state(settings) -> dict:
    return {r["id"]: r["state"] for r in list_documents(settings)}


def test_phase_one_is_searchable_then_phase_two_completes(settings, tmp_path):
    src = write_docx(city_plan(), tmp_path / "city.docx")
    seen = []
    done = add_document(settings, src, doc_id="city", title="示例市规划", wait=False,
                        on_searchable=seen.append)
    assert seen == [done] and done.complete is None and done.timings["searchable"] > 0
    assert current_manifest(settings).pending == ["city"] and done.report.pending == ["city"]
    assert done.report.counts["terms_left_out"] > 0
    assert _state(settings) == {"tiny": "完成", "city": "待补全"}
    phase1_terms = Bridge.load(Index(settings).root).terms
    hits = Retriever.from_settings(settings).search("碳达峰行动示范项目有几个？", k=3)
    assert hits[0].key[0] == "city"  # searchable after phase 1
    pooled = _chunk_vectors(settings, "city")
    assert done.report.counts["pooled_chunks"] == len(pooled) > 0

    assert build_index(settings, progress=False, quick=True).skipped  # phase 1 is live already
    report = complete_documents(settings)
    assert not report.skipped and report.pending == [] and current_manifest(settings).pending == []
    assert _state(settings) == {"tiny": "完成", "city": "完成"}
    assert report.embedded == len(pooled)  # phase 2 embeds only the new plan's chunks
    real = _chunk_vectors(settings, "city")
    cos = [float(pooled[k] @ real[k]) for k in real]
    assert np.mean(cos) > 0.8 and min(cos) < 0.999  # pooled: near, but not the real vectors
    assert len(Bridge.load(Index(settings).root).terms) > len(phase1_terms)
    assert complete_documents(settings).skipped  # complete: nothing left to do


def test_failed_phase_two_leaves_phase_one_live(settings, tmp_path, monkeypatch):
    import rag.phases

    def broken(*args, **kwargs):
        raise OSError("disk gone")

    src = write_docx(city_plan(), tmp_path / "city.docx")
    add_document(settings, src, doc_id="city", wait=False)
    live = os.path.realpath(settings.index_dir)
    monkeypatch.setattr(rag.phases, "build_bridge", broken)  # phase 2 dies while embedding
    with pytest.raises(OSError):
        complete_documents(settings)
    assert os.path.realpath(settings.index_dir) == live
    assert _state(settings) == {"tiny": "完成", "city": "待补全"}
    assert 'id = "city"' in (settings.corpus_dir / "corpus.toml").read_text(encoding="utf-8")
    monkeypatch.undo()
    assert not build_index(settings, progress=False).skipped  # an ingest completes it
    assert _state(settings) == {"tiny": "完成", "city": "完成"}


def test_add_and_remove_while_phase_two_is_pending(settings, tmp_path):
    add_document(settings, write_docx(city_plan(), tmp_path / "city.docx"), doc_id="city",
                 wait=False)
    add_document(settings, write_html(special_plan(), tmp_path / "eco.html"), doc_id="eco",
                 wait=False)
    assert current_manifest(settings).pending == ["city", "eco"]
    remove_document(settings, "city")  # a complete build: it completes eco on the way
    assert _state(settings) == {"tiny": "完成", "eco": "完成"}
    assert [d["id"] for d in current_manifest(settings).documents] == ["tiny", "eco"]
    assert complete_documents(settings).skipped
    assert {h.key[0] for h in Retriever.from_settings(settings).search("蓝天保卫战", k=3)} == {"eco"}


def test_cli_no_wait_completes_in_the_background(settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_CORPUS_DIR", str(settings.corpus_dir))
    src = write_html(special_plan(), tmp_path / "eco.html")
    assert main(["--data-dir", str(settings.data_dir), "add", str(src), "--id", "eco",
                 "--quiet", "--no-wait"]) == 0
    err = capsys.readouterr().err
    assert "已可检索" in err and "后台" in err and "已完成" not in err
    deadline = time.time() + 300
    while current_manifest(settings).pending and time.time() < deadline:
        time.sleep(1)
    assert _state(settings) == {"tiny": "完成", "eco": "完成"}
    assert main(["--data-dir", str(settings.data_dir), "documents"]) == 0
    assert "\t完成\t" in capsys.readouterr().out
