"""CLI: --json and --batch shapes on the real plan, one-line errors with non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import PROJECT_ROOT

HIT_KEYS = {"rank", "score", "doc_id", "chapter", "chapter_title", "section", "section_title",
            "chunk_id", "text"}


def run(args, data_dir, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    full_env.update({"RAG_DATA_DIR": str(data_dir), **env})
    return subprocess.run([sys.executable, "-m", "rag", *args], cwd=PROJECT_ROOT, env=full_env,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_search_json_shape(real_index_settings):
    out = run(["search", "到2025年高新技术企业要达到多少家？", "--json", "-k", "3"],
              real_index_settings.data_dir)
    assert out.returncode == 0, out.stderr
    hits = json.loads(out.stdout)
    # hybrid hits also carry the vocabulary bridge's expansion (rag.bridge)
    assert len(hits) == 3 and set(hits[0]) == HIT_KEYS | {"expansion"}
    assert set(hits[0]["expansion"]) == {"unknown_words", "added_terms", "matched_terms"}
    assert (hits[0]["chapter"], hits[0]["section"]) == (2, 3)
    assert hits[0]["section_title"] == "培育一流创新主体" and "5000家" in hits[0]["text"]
    assert [h["rank"] for h in hits] == [1, 2, 3]


@pytest.mark.slow
def test_search_human_output_and_chapter_filter(real_index_settings):
    out = run(["search", "汾河治理", "--chapter", "12", "-k", "2"], real_index_settings.data_dir)
    assert out.returncode == 0, out.stderr
    assert "「第十二章 第" in out.stdout
    assert "第三章" not in out.stdout


@pytest.mark.slow
def test_search_batch(real_index_settings, tmp_path):
    batch = tmp_path / "q.jsonl"
    batch.write_text('{"id": "a", "question": "“六新”是指什么"}\n\n'
                     '{"question": "汾河治理有哪些工程"}\n', encoding="utf-8")
    out = run(["search", "--batch", str(batch), "--json", "-k", "4", "--mode", "bm25"],
              real_index_settings.data_dir)
    assert out.returncode == 0, out.stderr
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert [x["id"] for x in lines] == ["a", None]
    assert all(set(x) == {"id", "question", "hits"} and len(x["hits"]) == 4 for x in lines)
    assert set(lines[0]["hits"][0]) == HIT_KEYS


def test_no_index_is_one_clear_line(tmp_path):
    out = run(["search", "问题"], tmp_path / "empty")
    assert out.returncode == 1
    assert out.stderr.strip().count("\n") == 0 and "ingest" in out.stderr
    assert "Traceback" not in out.stderr


def test_empty_question(tmp_path):
    out = run(["search", "   "], tmp_path)
    assert out.returncode == 1 and "问题为空" in out.stderr and "Traceback" not in out.stderr


@pytest.mark.slow
def test_embedder_mismatch_message(real_index_settings):
    out = run(["search", "问题"], real_index_settings.data_dir,
              RAG_EMBEDDER="sentence-transformers:/some/local/model")
    assert out.returncode == 1
    assert "e5-small-q4" in out.stderr and "ingest" in out.stderr and "Traceback" not in out.stderr


def test_bad_batch_file(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "好"}\nnot json\n', encoding="utf-8")
    out = run(["search", "--batch", str(bad), "--json"], tmp_path)
    assert out.returncode == 1 and "bad.jsonl:2" in out.stderr


def test_help_lists_commands():
    out = subprocess.run([sys.executable, "-m", "rag", "--help"], cwd=PROJECT_ROOT,
                         capture_output=True, text=True)
    assert out.returncode == 0
    for cmd in ("ingest", "search", "ask", "eval", "quiz", "bench"):
        assert cmd in out.stdout
