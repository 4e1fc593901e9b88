"""The feedback store on a real PostgreSQL 15 cluster and on SQLite alike: rows, stats, the
`rag feedback` commands through RAG_DB_URL, the schema_version table and the v1 → v2
migration, usage rows, several processes creating the schema at once."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime

import pytest
import sqlalchemy as sa

from rag.cli import main
from rag.config import PROJECT_ROOT, load_settings
from rag.errors import FeedbackError
from rag.feedback import SCHEMA_VERSION, FeedbackStore, UsageRecorder, feedback
from tests.pg import pg_cluster, pg_url  # noqa: F401  (fixtures)

CITE = {"n": 1, "doc_id": "tiny", "chapter": 2, "chapter_title": "创新驱动", "section": 2,
        "section_title": "培育创新企业", "quote": "到2025年高新技术企业达到800家。",
        "span": [0, 10]}


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path) -> str:
    """A fresh database URL of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fb.sqlite3'}"
    return request.getfixturevalue("pg_url")


def test_rows_stats_and_cli_on_both(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_DB_URL", db)
    store = FeedbackStore(load_settings(data_dir=tmp_path))
    assert store.url == db
    first = store.add(verdict="down", question="高新技术企业多少家？", answer="800家[1]",
                      citations=[CITE], answerer="extractive", build_id="b1")
    store.add(verdict="up", question="红烧肉？", answer="规划中没有", refused=True)
    store.set_comment(first, "缺年份")
    stats = store.stats()
    assert (stats["total"], stats["up"], stats["down"], stats["commented"], stats["refused"]) \
        == (2, 1, 1, 1, 1)
    out = tmp_path / "fb.jsonl"
    assert main(["--data-dir", str(tmp_path), "feedback", "export", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["verdict"], r["comment"], r["type"]) for r in rows] == [
        ("down", "缺年份", "everyday"), ("up", "", "unanswerable")]
    assert rows[0]["gold"] == [{"chapter": 2, "section": 2, "doc_id": "tiny"}]
    assert main(["--data-dir", str(tmp_path), "feedback", "stats"]) == 0
    assert "反馈共 2 条：👍 1 · 👎 1 · 附说明 1 · 其中拒答 1" in capsys.readouterr().out
    with sa.create_engine(db).connect() as conn:
        assert conn.execute(sa.text("SELECT id, version FROM schema_version")).all() == [
            (1, SCHEMA_VERSION)]


def test_unversioned_database_is_migrated(db, tmp_path):
    """A database written before versioning (feedback table only) gets version 1, then the
    v1 → v2 step (the usage table); its rows stay."""
    engine = sa.create_engine(db)
    feedback.create(engine)  # version 1 was this table alone (it has not changed since)
    with engine.begin() as conn:
        conn.execute(feedback.insert().values(
            created=datetime(2026, 1, 2), verdict="up", comment="", question="旧问题",
            standalone="", answer="旧回答", citations="[]", refused=False, answerer="",
            build_id=""))
    store = FeedbackStore(load_settings(data_dir=tmp_path, db_url=db))
    assert [r["question"] for r in store.rows()] == ["旧问题"]
    assert {"usage", "schema_version"} <= set(sa.inspect(engine).get_table_names())
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT version FROM schema_version")).scalar() == 2
    assert store.add(verdict="down", question="新问题", answer="a") == 2


def test_newer_schema_is_refused(db, tmp_path):
    engine = sa.create_engine(db)
    FeedbackStore(load_settings(data_dir=tmp_path, db_url=db)).stats()
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE schema_version SET version = 99"))
    from rag.feedback import _engine

    _engine.cache_clear()
    with pytest.raises(FeedbackError, match="结构版本 99 高于本程序支持的 2"):
        FeedbackStore(load_settings(data_dir=tmp_path, db_url=db)).stats()
    _engine.cache_clear()


def test_usage_rows_and_stats_on_both(db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_DB_URL", db)
    recorder = UsageRecorder(load_settings(data_dir=tmp_path))
    for i in range(30):
        recorder.record(endpoint="ask", outcome="refused" if i % 3 else "answered",
                        latency_ms=10 + i, build_id="b1", answerer="extractive")
    assert recorder.flush(30)
    rows = recorder.rows()
    assert len(rows) == 30 and sum(r["outcome"] == "answered" for r in rows) == 10
    assert {r["question"] for r in rows} == {None} and rows[-1]["latency_ms"] == 39
    assert main(["--data-dir", str(tmp_path), "feedback", "stats"]) == 0
    # latencies 10..39: mean 24.5, rounded half to even
    assert "用量共 30 次：回答 10 · 拒答 20 · 出错 0 · 平均 24 ms" in capsys.readouterr().out


WRITER = """
import sys
from rag.config import load_settings
from rag.feedback import FeedbackStore
store = FeedbackStore(load_settings(data_dir=sys.argv[1], db_url=sys.argv[2]))
for i in range(20):
    store.add(verdict="up", question=f"{sys.argv[3]}-{i}", answer="a")
"""


def test_processes_create_the_schema_and_write_at_once(pg_url, tmp_path):  # noqa: F811
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), pg_url, f"p{k}"],
                              cwd=PROJECT_ROOT, stderr=subprocess.PIPE, text=True)
             for k in range(4)]
    errors = [p.communicate(timeout=180)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, errors
    rows = FeedbackStore(load_settings(data_dir=tmp_path, db_url=pg_url)).rows()
    assert len({r["question"] for r in rows}) == 80
