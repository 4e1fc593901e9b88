"""The feedback store (SQLite via SQLAlchemy Core, WAL, several processes) and `rag feedback`."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta

import pytest

from rag.cli import main
from rag.config import PROJECT_ROOT, load_settings
from rag.errors import FeedbackError
from rag.feedback import FeedbackStore, db_url

CITE = {"n": 1, "doc_id": "shanxi-14th-fyp", "chapter": 2, "chapter_title": "创新", "section": 3,
        "section_title": "培育一流创新主体", "quote": "力争高新技术企业达到5000家。",
        "span": [10, 24], "label": "第二章 第三节 培育一流创新主体"}


def test_store_rows_comment_stats_and_wal(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    store = FeedbackStore(settings)
    assert db_url(settings) == f"sqlite:///{tmp_path.resolve() / 'feedback.sqlite3'}"
    up = store.add(verdict="up", question="高新技术企业多少家？", answer="5000家[1]",
                   citations=[CITE], answerer="extractive", build_id="b1")
    down = store.add(verdict="down", question="世界杯冠军？", answer="规划中没有", refused=True)
    store.set_comment(down, "  应该拒答得更明确  ")
    rows = store.rows()
    assert [r["verdict"] for r in rows] == ["up", "down"] and rows[1]["comment"] == "应该拒答得更明确"
    assert json.loads(rows[0]["citations"])[0]["quote"] == CITE["quote"] and rows[0]["build_id"] == "b1"
    assert store.stats() == {**store.stats(), "total": 2, "up": 1, "down": 1, "commented": 1,
                             "refused": 1}
    assert store.rows(since=date.today() + timedelta(days=2)) == []
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    with pytest.raises(FeedbackError):
        store.add(verdict="meh", question="q", answer="a")
    with pytest.raises(FeedbackError):
        store.set_comment(up + 100, "x")


WRITER = """
import sys
from rag.config import load_settings
from rag.feedback import FeedbackStore
store = FeedbackStore(load_settings(data_dir=sys.argv[1]))
for i in range(25):
    store.add(verdict="down", question=f"{sys.argv[2]}-{i}", answer="a")
"""


def test_several_processes_write_at_once(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), f"p{k}"],
                              cwd=PROJECT_ROOT) for k in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    rows = FeedbackStore(load_settings(data_dir=tmp_path)).rows()
    assert len(rows) == 75 and len({r["question"] for r in rows}) == 75


def test_cli_export_in_dataset_schema_and_stats(tmp_path, capsys):
    store = FeedbackStore(load_settings(data_dir=tmp_path))
    store.add(verdict="down", question="高新技术企业多少家？", standalone="高新技术企业多少家？",
              answer="5000家[1]", citations=[CITE, {**CITE, "n": 2}], comment="少了年份")
    store.add(verdict="up", question="世界杯冠军？", answer="规划中没有相关内容", refused=True)
    out = tmp_path / "fb.jsonl"
    assert main(["--data-dir", str(tmp_path), "feedback", "export", "--out", str(out)]) == 0
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    first, second = rows
    assert first["question"] == "高新技术企业多少家？" and first["verdict"] == "down"
    assert first["gold"] == [{"chapter": 2, "section": 3, "doc_id": "shanxi-14th-fyp"}]  # once
    assert first["evidence"] == CITE["quote"] and first["comment"] == "少了年份"
    assert first["type"] == "everyday" and first["id"] == "fb-1"
    assert second["gold"] == [] and second["type"] == "unanswerable" and second["evidence"] == ""
    tomorrow = (date.today() + timedelta(days=1)).isoformat()
    assert main(["--data-dir", str(tmp_path), "feedback", "export", "--out", str(out),
                 "--since", tomorrow]) == 0
    assert out.read_text(encoding="utf-8") == ""
    assert main(["--data-dir", str(tmp_path), "feedback", "stats"]) == 0
    assert "反馈共 2 条：👍 1 · 👎 1 · 附说明 1 · 其中拒答 1" in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path), "feedback", "export", "--out", str(out),
                 "--since", "昨天"]) == 1
    err = capsys.readouterr().err
    assert "YYYY-MM-DD" in err and "Traceback" not in err
    assert main(["--data-dir", str(tmp_path), "feedback", "export"]) == 1
