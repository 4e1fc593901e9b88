"""The deployment side: the example configs in deploy/ as rendered and run, and a short
`python -m rag.deploy.check` (PostgreSQL, Chroma server, 1 and 2 app processes behind nginx,
10 users for 10 s each, a re-ingest under load)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT, load_settings
from rag.deploy.nginx import render_site, write_standalone
from rag.deploy.pg import find_bindir
from rag.deploy.units import APP_UNIT, CHROMA_UNIT, ENV_FILE, exec_start, read_env
from rag.errors import DeployError

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def test_units_run_this_checkout_with_the_env_file():
    env = read_env(ENV_FILE)
    assert env["RAG_APP_HOST"] == "127.0.0.1" and env["RAG_DB_URL"].startswith("postgresql+psycopg://")
    app = exec_start(APP_UNIT, env, "7861")
    assert app == [str(Path(sys.executable).parent / "python"),
                   str(PROJECT_ROOT / "app.py"), "--port", "7861"]
    chroma = exec_start(CHROMA_UNIT, {**env, "GUIHUA_CHROMA_PATH": "/tmp/x", "RAG_CHROMA_PORT": "9"})
    assert chroma[1:] == ["run", "--path", "/tmp/x", "--host", "127.0.0.1", "--port", "9"]
    with pytest.raises(DeployError, match="GUIHUA_CHROMA_PATH"):
        exec_start(CHROMA_UNIT, {k: v for k, v in env.items() if k != "GUIHUA_CHROMA_PATH"})


def test_bad_env_line_is_named(tmp_path):
    bad = tmp_path / "x.env"
    bad.write_text("# ok\nRAG_DATA_DIR=/x\nnot a setting\n", encoding="utf-8")
    with pytest.raises(DeployError, match="第 3 行"):
        read_env(bad)


def test_nginx_site_is_sticky_and_valid(tmp_path):
    site = render_site([7861, 7862], listen="8080")
    assert "server 127.0.0.1:7861;" in site and "server 127.0.0.1:7862;" in site
    assert "hash $guihua_route consistent;" in site and "listen 8080;" in site
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (make deploy-deps)")
    conf = write_standalone(tmp_path / "ng", [7861, 7862], 18080)
    done = subprocess.run([NGINX, "-t", "-c", str(conf), "-p", str(tmp_path / "ng")],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
@pytest.mark.server
def test_deploy_check_short(tmp_path):
    if not Path(NGINX).exists() or find_bindir() is None:
        pytest.skip("nginx or PostgreSQL 15 is not installed (make deploy-deps)")
    out = tmp_path / "out"
    done = subprocess.run([sys.executable, "-m", "rag.deploy.check", "--users", "10", "--seconds", "10",
                           "--apps", "2", "--out", str(out)], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert done.returncode == 0, (report["problems"], done.stderr[-2000:])
    assert [r["apps"] for r in report["runs"]] == [1, 2]
    for run in report["runs"]:
        assert run["errors"] == 0 and run["asks"] > 0
        assert run["conversations"] > 0 and run["in_context"] == run["conversations"]
        assert run["users_on_one_process"] == run["users_seen"] == 10
        assert len(run["per_process"]) == run["apps"]
        fb = run["feedback_db"]
        assert fb["sent"] > 0 and fb["found"] == fb["sent"]
        assert run["reingest"]["new_build"] != run["reingest"]["old_build"]
        assert run["healthy_after"] == run["serving_new_build"] == run["apps"]  # no restart
    assert "| apps | requests | errors |" in (out / "report.md").read_text(encoding="utf-8")
    # every process group the check started is gone (checked from here, not only by the check)
    assert report["leftovers"] == 0 and report["process_groups"]
    for pgid in report["process_groups"]:
        with pytest.raises(ProcessLookupError):
            os.killpg(pgid, 0)


def test_feedback_api_stores_an_ask_answer(tiny_corpus, tmp_path):
    """/feedback (what the deploy check's users call) stores the /ask answer it is given."""
    import gradio as gr

    from rag.feedback import FeedbackStore
    from rag.store import build_index
    from rag.ui import build_app

    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data")
    build_index(settings, progress=False)
    _demo, app = build_app(settings)
    app.backend.wait()
    out = app.ask("高新技术企业达到多少家？")
    row_id = app.rate_answer("高新技术企业达到多少家？", out, "down", " 数字不对 ")["id"]
    [row] = FeedbackStore(settings).rows()
    assert row["id"] == row_id and row["verdict"] == "down" and row["comment"] == "数字不对"
    assert row["answer"] == out["answer"] and row["build_id"] == app.backend.index.manifest.build_id
    assert json.loads(row["citations"]) == out["citations"]
    with pytest.raises(gr.Error, match="无效的评价"):
        app.rate_answer("高新技术企业达到多少家？", out, "meh")
