"""Chroma server mode: a real `chroma run` on 127.0.0.1, ingest and search through HttpClient."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from rag.config import load_settings
from rag.retrieval import Retriever
from rag.store import Index, build_index
from tests.conftest import free_port



@pytest.fixture
def chroma_server(tmp_path):
    chroma = Path(sys.executable).parent / "chroma"
    if not chroma.exists():
        chroma = shutil.which("chroma")
    assert chroma, "the chroma CLI ships with chromadb"
    port = free_port()
    proc = subprocess.Popen([str(chroma), "run", "--path", str(tmp_path / "server"), "--host",
                             "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1)
            break
        except OSError:
            time.sleep(0.3)
    else:
        proc.kill()
        pytest.fail("chroma server did not start")
    yield port
    proc.terminate()
    proc.wait(timeout=20)


@pytest.mark.server
def test_ingest_and_search_through_chroma_server(chroma_server, tiny_corpus, tmp_path):
    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data",
                             chroma_host="127.0.0.1", chroma_port=chroma_server)
    report = build_index(settings, progress=False)
    assert not (settings.index_dir / "chroma").exists()  # vectors live on the server
    hits = Retriever(Index(settings)).search("高新技术企业达到多少家", k=2)
    assert hits[0].key == ("tiny", 2, 2) and "800家" in hits[0].text
    # a rebuild switches collections and drops the old ones on the server
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_server)
    before = {c.name if hasattr(c, "name") else c for c in client.list_collections()}
    again = build_index(settings, rebuild=True, progress=False)
    after = {c.name if hasattr(c, "name") else c for c in client.list_collections()}
    assert again.build_id != report.build_id
    assert len(after) == 3 and not (before & after)  # sentences, chunks, headings
    assert Retriever(Index(settings)).search("研发平台", k=1)[0].key == ("tiny", 2, 1)


@pytest.mark.server
def test_server_collections_of_an_open_index_are_kept(chroma_server, tiny_corpus, tmp_path):
    """A rebuild never drops the collections of a build an open Index still reads."""
    import chromadb

    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data",
                             chroma_host="127.0.0.1", chroma_port=chroma_server)
    build_index(settings, progress=False)
    held = Index(settings)
    build_index(settings, rebuild=True, progress=False)
    client = chromadb.HttpClient(host="127.0.0.1", port=chroma_server)
    names = {c.name if hasattr(c, "name") else c for c in client.list_collections()}
    assert len(names) == 6 and held.manifest.collection_prefix + "_s" in names
    assert Retriever(held).search("高新技术企业达到多少家", k=1)[0].key == ("tiny", 2, 2)
    held.close()
    build_index(settings, rebuild=True, progress=False)
    names = {c.name if hasattr(c, "name") else c for c in client.list_collections()}
    assert len(names) == 3 and held.manifest.collection_prefix + "_s" not in names
