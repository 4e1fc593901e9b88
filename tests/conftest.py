"""Shared fixtures: settings in tmp dirs, the tiny fixture plan, the real plan's index (built once)."""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

from rag.config import PROJECT_ROOT, load_settings  # noqa: E402

DATA = Path(__file__).parent / "data"
REAL_CORPUS = PROJECT_ROOT / "corpus"


def copy_tiny(root: Path) -> Path:
    """A copy of the hand-written tiny plan as ``root/corpus``; returns that folder."""
    corpus = Path(root) / "corpus"
    shutil.copytree(DATA / "tiny_corpus", corpus)
    return corpus


def indexed_tiny(root: Path, **overrides):
    """Settings over an indexed copy of the tiny plan under ``root`` (corpus/ and data/), and
    the report of that first build."""
    from rag.store import build_index

    settings = load_settings(corpus_dir=copy_tiny(root), data_dir=Path(root) / "data", **overrides)
    return settings, build_index(settings, progress=False)


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (for servers the tests start: app, Chroma, LLM)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch):
    """No test reads the developer's RAG_* environment or rag.toml."""
    for key in list(os.environ):
        if key.startswith("RAG_"):
            monkeypatch.delenv(key, raising=False)


@pytest.fixture
def tiny_corpus(tmp_path) -> Path:
    """A copy of the hand-written tiny plan (2 chapters, a TOC, a preamble) in tmp_path."""
    return copy_tiny(tmp_path)


@pytest.fixture(scope="session")
def real_index_settings(tmp_path_factory):
    """Settings whose data_dir holds an index of the real plan, built once per session."""
    from rag.store import build_index

    data_dir = tmp_path_factory.mktemp("real-index")
    settings = load_settings(corpus_dir=REAL_CORPUS, data_dir=data_dir)
    build_index(settings, progress=False)
    return settings


@pytest.fixture(scope="session")
def real_retriever(real_index_settings):
    """A Retriever over the real plan (loaded once)."""
    from rag.retrieval import Retriever

    return Retriever.from_settings(real_index_settings)


@pytest.fixture(scope="session")
def real_pipeline(real_index_settings):
    """The extractive Pipeline over the real plan (loaded once; refusal threshold from eval/)."""
    from rag.answering import Pipeline

    return Pipeline.from_settings(real_index_settings, answerer="extractive")
