"""Store: round trip on the tiny plan, build manifest, cache, atomic switch, mismatch, bad index."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from rag.chunking import CHUNKER_VERSION, chunk_corpus
from rag.config import load_settings
from rag.corpus import load_corpus
from rag.errors import IndexError_, IndexMismatchError
from rag.locking import writer_lock
from rag.retrieval import Retriever
from rag.store import Index, build_index, current_manifest, new_build_id
from tests.conftest import PROJECT_ROOT, REAL_CORPUS, indexed_tiny


@pytest.fixture(scope="module")
def built_tiny(tmp_path_factory):
    """The tiny plan indexed once for this module: (corpus dir, data dir, first BuildReport)."""
    return indexed_tiny(tmp_path_factory.mktemp("tiny-built"))


@pytest.fixture
def tiny_settings(built_tiny, tmp_path):
    """A private copy of the built tiny index (corpus, builds, `current` link, embed cache)."""
    base, _ = built_tiny
    shutil.copytree(base.corpus_dir, tmp_path / "corpus")
    shutil.copytree(base.data_dir, tmp_path / "data", symlinks=True)
    return load_settings(corpus_dir=tmp_path / "corpus", data_dir=tmp_path / "data")


def test_round_trip_tiny(built_tiny):
    tiny_settings, report = built_tiny
    assert not report.skipped and report.counts["sections"] == 7
    index = Index(tiny_settings)
    sentences, chunks = chunk_corpus(load_corpus(tiny_settings.corpus_dir),
                                     tokens=tiny_settings.chunk_tokens,
                                     overlap=tiny_settings.chunk_overlap)
    assert set(index.units) == {u.id for u in sentences + chunks}
    assert index.sentence_store._collection.count() == len(sentences)
    assert index.chunk_store._collection.count() == len(chunks)
    hits = Retriever(index).search("高新技术企业要达到多少家", k=3)
    assert hits[0].key == ("tiny", 2, 2)
    assert "800家" in hits[0].text
    assert hits[0].label == "第二章 第二节 培育创新企业"
    assert [h.rank for h in hits] == [1, 2, 3]
    assert len({h.key for h in hits}) == 3  # one hit per section


def test_manifest_records_build(built_tiny):
    tiny_settings, _ = built_tiny
    m = current_manifest(tiny_settings)
    assert m.embedder == "e5-small-q4" and m.dim == 384
    assert m.chunker_version == CHUNKER_VERSION and m.chunk_tokens == tiny_settings.chunk_tokens
    assert m.corpus_hash == load_corpus(tiny_settings.corpus_dir).content_hash
    from rag import __version__

    assert m.package_version == __version__
    assert (tiny_settings.index_dir / "bm25").is_dir()


def test_unchanged_corpus_embeds_nothing(built_tiny, tiny_settings):
    _, first = built_tiny
    assert first.embedded > 0
    assert build_index(tiny_settings, progress=False).skipped
    again = build_index(tiny_settings, rebuild=True, progress=False)
    assert not again.skipped and again.embedded == 0
    assert again.cached == first.cached + first.embedded  # every text came from the cache
    # the switch happened and only the live build is kept
    builds = list((Path(tiny_settings.data_dir) / "builds").iterdir())
    assert [b.name for b in builds] == [again.build_id]
    assert os.path.realpath(tiny_settings.index_dir).endswith(again.build_id)


def test_two_builds_in_the_same_second_get_distinct_ids(tiny_settings):
    # ids were time-pid only: two builds within one second in one process collided
    ids = {new_build_id() for _ in range(1000)}
    assert len(ids) == 1000
    a = build_index(tiny_settings, rebuild=True, progress=False)
    b = build_index(tiny_settings, rebuild=True, progress=False)
    assert a.build_id != b.build_id
    assert os.path.realpath(tiny_settings.index_dir).endswith(b.build_id)
    assert Retriever(Index(tiny_settings)).search("高新技术企业", k=1)[0].key == ("tiny", 2, 2)


def test_changed_corpus_rebuilds(tiny_settings):
    p = Path(tiny_settings.corpus_dir) / "tiny-plan.txt"
    p.write_text(p.read_text(encoding="utf-8").replace("800家", "900家"), encoding="utf-8")
    report = build_index(tiny_settings, progress=False)
    assert not report.skipped and 0 < report.embedded < report.cached + report.embedded
    hits = Retriever(Index(tiny_settings)).search("高新技术企业达到多少家", k=1)
    assert "900家" in hits[0].text


def test_missing_index(tmp_path):
    with pytest.raises(IndexError_, match="ingest"):
        Index(load_settings(data_dir=tmp_path / "nothing"))


def test_embedder_mismatch(tiny_settings):
    other = load_settings(corpus_dir=tiny_settings.corpus_dir, data_dir=tiny_settings.data_dir,
                          embedder="sentence-transformers:/some/model")
    with pytest.raises(IndexMismatchError) as exc:
        Index(other)
    assert "e5-small-q4" in str(exc.value) and "ingest" in str(exc.value)


def test_deleted_bm25_file_is_a_clear_error(tiny_settings):
    shutil.rmtree(tiny_settings.index_dir / "bm25")
    with pytest.raises(IndexError_, match="ingest"):
        Index(tiny_settings)


def test_bad_corpus_leaves_index_untouched(tiny_settings):
    before = os.path.realpath(tiny_settings.index_dir)
    (Path(tiny_settings.corpus_dir) / "tiny-plan.txt").write_bytes(b"")
    from rag.errors import CorpusError

    with pytest.raises(CorpusError):
        build_index(tiny_settings, progress=False)
    assert os.path.realpath(tiny_settings.index_dir) == before
    assert Retriever(Index(tiny_settings)).search("研发平台", k=1)[0].key == ("tiny", 2, 1)


@pytest.mark.slow
def test_killed_ingest_keeps_previous_index(tiny_settings, tmp_path):
    """SIGKILL a real build of the full plan midway: the tiny index stays live and usable."""
    before = os.path.realpath(tiny_settings.index_dir)
    env = {**os.environ, "RAG_CORPUS_DIR": str(REAL_CORPUS),
           "RAG_DATA_DIR": str(tiny_settings.data_dir)}
    proc = subprocess.Popen([sys.executable, "-m", "rag", "ingest", "--quiet"], env=env,
                            cwd=PROJECT_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    builds = Path(tiny_settings.data_dir) / "builds"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(builds.iterdir())) < 2:
        time.sleep(0.05)
    time.sleep(0.5)  # inside the build: embedding / Chroma writes
    assert proc.poll() is None, "the build finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert os.path.realpath(tiny_settings.index_dir) == before
    assert Retriever(Index(tiny_settings)).search("高新技术企业", k=1)[0].key == ("tiny", 2, 2)
    # the next build cleans the partial folder up and succeeds
    real = load_settings(corpus_dir=REAL_CORPUS, data_dir=tiny_settings.data_dir)
    report = build_index(real, progress=False)
    assert [b.name for b in builds.iterdir()] == [report.build_id]
    assert json.loads((real.index_dir / "manifest.json").read_text())["counts"]["sections"] == 82


def test_cleanup_spares_the_build_an_open_index_reads(tiny_settings):
    """A rebuild removes a dead partial build and a killed switch's link, but not the build an
    open Index (in this or any process) still reads; once released, the next build removes it."""
    data = Path(tiny_settings.data_dir)
    (data / "builds" / "19990101-000000-1-dead").mkdir()  # a killed build: no manifest.json
    os.symlink("builds/none", data / ".current-19990101-000000-1-dead")
    held = Index(tiny_settings)
    assert held.root == Path(os.path.realpath(tiny_settings.index_dir))
    assert held.manifest.build_id == held.root.name
    new = build_index(tiny_settings, rebuild=True, progress=False)
    left = {p.name for p in (data / "builds").iterdir()}
    assert left == {held.root.name, new.build_id}
    assert not list(data.glob(".current-*"))
    assert Retriever(held).search("高新技术企业", k=1)[0].key == ("tiny", 2, 2)  # still serves
    held.close()
    newer = build_index(tiny_settings, rebuild=True, progress=False)
    assert {p.name for p in (data / "builds").iterdir()} == {newer.build_id}


def test_a_waiting_build_that_finds_the_index_current_skips(tiny_settings):
    """An ingest that waited for the writer lock decides after it: the other writer already
    built what it wanted, so it skips (the lock is then free again)."""
    seen = []
    with writer_lock(Path(tiny_settings.data_dir), 0):
        t = threading.Thread(target=lambda: seen.append(
            build_index(tiny_settings, progress=False, on_wait=seen.append)))
        t.start()
        deadline = time.time() + 60
        while not seen and time.time() < deadline:
            time.sleep(0.05)
    t.join(timeout=120)
    assert seen[0].startswith("另一个索引构建正在进行，等待中…（pid ")
    assert seen[1].skipped and seen[1].timings["wait"] > 0
