"""Operations on the tiny plan: /metrics counters, the JSON request log (with and without the
question), usage rows, /healthz's pid, and picking up a new index build without a restart
(in-process app + `python -m rag ingest` in a subprocess; embedded Chroma and a Chroma server)."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from rag.config import PROJECT_ROOT, load_settings
from rag.store import build_index, current_manifest
from tests.conftest import copy_tiny, free_port, indexed_tiny
from tests.test_chroma_server import chroma_server  # noqa: F401  (fixture)

Q = "到2025年高新技术企业达到多少家？"
OFF_TOPIC = "红烧肉怎么做？"


def samples(text: str) -> dict:
    """{(name, sorted label items): value} of a Prometheus text scrape."""
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def request_lines(caplog) -> list[dict]:
    return [json.loads(r.getMessage()) for r in caplog.records
            if r.name == "rag.app.requests"]


def change_target(corpus, new: str = "950", old: str = "800") -> None:
    """Edit the tiny plan: the 高新技术企业 target becomes ``new`` (a different corpus hash)."""
    plan = corpus / "tiny-plan.txt"
    plan.write_text(plan.read_text(encoding="utf-8").replace(f"达到{old}家", f"达到{new}家"),
                    encoding="utf-8")


@pytest.fixture(scope="module")
def tiny_settings(tmp_path_factory):
    return indexed_tiny(tmp_path_factory.mktemp("ops"), index_poll=0)[0]


def test_metrics_log_and_usage_count_each_request(tiny_settings, caplog):
    from rag.ui.handlers import App
    from rag.ui.ops import health

    app = App(tiny_settings)
    app.backend.wait()
    build_id = app.backend.index.manifest.build_id
    caplog.set_level(logging.INFO, logger="rag.app")
    assert "800" in app.ask(Q)["answer"]
    assert app.ask(OFF_TOPIC)["refused"]
    with pytest.raises(Exception, match="99"):
        app.ask(Q, chapter="第九十九章")
    frames = list(app.chat(Q, "all", None))
    assert "800" in frames[-1][0][-1]["content"]

    got = samples(app.backend.metrics.scrape().decode())
    req = lambda ep, out: got[("guihua_requests_total", (("endpoint", ep), ("outcome", out)))]  # noqa: E731
    assert (req("ask", "answered"), req("ask", "refused"), req("ask", "error"),
            req("chat", "answered")) == (1, 1, 1, 1)
    assert got[("guihua_refusals_total", ())] == 1 and got[("guihua_errors_total", ())] == 1
    assert got[("guihua_request_seconds_count", (("endpoint", "ask"),))] == 3
    assert got[("guihua_index_build_info", (("build_id", build_id),))] == 1
    assert got[("guihua_index_switches_total", ())] == 0
    assert got[("guihua_llm_fallbacks_total", ())] == 0

    lines = request_lines(caplog)
    assert [(x["endpoint"], x["outcome"]) for x in lines] == [
        ("ask", "answered"), ("ask", "refused"), ("ask", "error"), ("chat", "answered")]
    assert all(x["build_id"] == build_id for x in lines if x["outcome"] != "error")
    assert all(isinstance(x["latency_ms"], int) and "question" not in x for x in lines)
    assert not any(Q in r.getMessage() or OFF_TOPIC in r.getMessage() for r in caplog.records)
    assert app.backend.metrics.usage.flush()
    rows = app.backend.metrics.usage.rows()
    assert [(r["endpoint"], r["outcome"], r["question"]) for r in rows] == [
        ("ask", "answered", None), ("ask", "refused", None), ("ask", "error", None),
        ("chat", "answered", None)]
    assert rows[0]["build_id"] == build_id and rows[0]["answerer"] == "extractive"
    code, body = health(app.backend)
    assert code == 200 and body["pid"] == os.getpid() and body["build_id"] == build_id


def test_questions_logged_only_when_enabled(tiny_settings, caplog):
    from rag.ui.handlers import App

    app = App(tiny_settings.model_copy(update={"log_questions": True, "usage_log": False}))
    app.backend.wait()
    caplog.set_level(logging.INFO, logger="rag.app")
    app.ask(Q)
    (line,) = request_lines(caplog)
    assert line["question"] == Q and line["outcome"] == "answered"
    assert app.backend.metrics.usage is None


def test_app_writes_request_lines_as_bare_json(tiny_settings):
    """app.py's logging: a request line is the JSON object alone (a log shipper parses it), the
    app's other lines keep their ``time level name:`` prefix."""
    code = ("import logging, app; app.setup_logging(); from rag.ui.handlers import App; from rag.config import load_settings; "
            f"a = App(load_settings()); a.backend.wait(); a.ask({Q!r}); logging.getLogger('rag.app').info('plain')")
    env = {**os.environ, "RAG_DATA_DIR": str(tiny_settings.data_dir),
           "RAG_CORPUS_DIR": str(tiny_settings.corpus_dir), "RAG_USAGE_LOG": "0"}
    proc = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    lines = proc.stderr.splitlines()
    (request,) = [json.loads(x) for x in lines if x.startswith("{")]
    assert request["endpoint"] == "ask" and request["outcome"] == "answered"
    assert any(x.endswith("INFO rag.app: plain") for x in lines)
    assert not any("rag.app.requests" in x for x in lines)  # not printed a second time, prefixed


def test_llm_fallback_is_counted(tiny_settings):
    from rag.ui.handlers import App

    settings = tiny_settings.model_copy(update={
        "answerer": "openai-compatible", "llm_base_url": f"http://127.0.0.1:{free_port()}/v1",
        "llm_model": "none", "llm_timeout": 5, "usage_log": False})
    app = App(settings)
    app.backend.wait()
    out = app.ask(Q)  # nothing listens there: the extractive answer with a notice
    assert "800" in out["answer"] and out["notice"]
    got = samples(app.backend.metrics.scrape().decode())
    assert got[("guihua_llm_fallbacks_total", ())] == 1


def ingest(data_dir, corpus) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_CORPUS_DIR=str(corpus), RAG_DATA_DIR=str(data_dir),
               PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run([sys.executable, "-m", "rag", "ingest", "--quiet"], cwd=PROJECT_ROOT,
                          env=env, capture_output=True, text=True, timeout=600)


def test_new_build_is_picked_up_without_restart(tmp_path, caplog):
    """A served app notices `ingest` of a changed corpus, switches between requests (none
    fails while a client keeps asking), and /healthz and the next answer come from the new build."""
    from gradio_client import Client

    from rag.ui import build_app, launch

    corpus = copy_tiny(tmp_path)
    settings = load_settings(corpus_dir=corpus, data_dir=tmp_path / "data", app_port=free_port())
    build_index(settings, progress=False)
    demo, app = build_app(settings)
    launch(demo, settings, backend=app.backend, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{settings.app_port}/"
    stop, answers, failures = threading.Event(), [], []

    def keep_asking(client) -> None:
        while not stop.is_set():
            try:
                answers.append(client.predict(Q, "全部", None, api_name="/ask")["answer"])
            except Exception as exc:
                failures.append(f"{type(exc).__name__}: {exc}"[:200])

    caplog.set_level(logging.INFO, logger="rag.app")
    try:
        app.backend.wait()
        old = httpx.get(url + "healthz", timeout=30).json()
        assert old["status"] == "ok" and old["pid"] == os.getpid()
        client = Client(url, verbose=False)
        asker = threading.Thread(target=keep_asking, args=(client,), daemon=True)
        asker.start()
        change_target(corpus)
        proc = ingest(settings.data_dir, corpus)
        assert proc.returncode == 0, proc.stderr[-2000:]
        new_id = current_manifest(settings).build_id
        assert new_id != old["build_id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            body = httpx.get(url + "healthz", timeout=30).json()
            if body.get("build_id") == new_id:
                break
            time.sleep(0.2)
        assert body["build_id"] == new_id and body["status"] == "ok", body
        time.sleep(1)  # the asker's request in flight at the switch finishes on the old build
        stop.set()
        asker.join(timeout=120)
        after = client.predict(Q, "全部", None, api_name="/ask")
        assert "950" in after["answer"] and "800" not in after["answer"]
        scrape = httpx.get(url + "metrics", timeout=30)
        assert scrape.headers["content-type"].startswith("text/plain")
        got = samples(scrape.text)
    finally:
        stop.set()
        demo.close()
    print(f"\nswitch {old['build_id']} -> {new_id}: {len(answers)} answers during the ingest, "
          f"{sum('800' in a for a in answers)} from the old build, "
          f"{sum('950' in a for a in answers)} from the new, {len(failures)} failed")
    assert not failures, failures[:3]
    assert answers and all("800" in a or "950" in a for a in answers)
    assert got[("guihua_index_switches_total", ())] == 1
    assert got[("guihua_index_build_info", (("build_id", new_id),))] == 1
    assert ("guihua_index_build_info", (("build_id", old["build_id"]),)) not in got
    assert got[("guihua_errors_total", ())] == 0
    lines = request_lines(caplog)  # through Gradio: a session tag, one client = one session
    assert len(lines) == len(answers) + 1 and len({x["session"] for x in lines}) == 1
    assert all(len(x["session"]) == 10 for x in lines)
    assert got[("guihua_requests_total", (("endpoint", "ask"), ("outcome", "answered")))] \
        == len(answers) + 1


@pytest.mark.server
def test_switch_with_chroma_server(chroma_server, tmp_path):  # noqa: F811
    from rag.ui.backend import Backend

    corpus = copy_tiny(tmp_path)
    settings = load_settings(corpus_dir=corpus, data_dir=tmp_path / "data", index_poll=0,
                             chroma_host="127.0.0.1", chroma_port=chroma_server, usage_log=False)
    build_index(settings, progress=False)
    backend = Backend(settings).start()
    held = backend.wait()  # a request in flight on the old build
    old_id = backend.index.manifest.build_id
    change_target(corpus)
    build_index(settings, progress=False)
    assert backend.check_switch() and backend.index.manifest.build_id != old_id
    assert not backend.check_switch()  # nothing new: no second switch
    assert "950" in backend.pipeline.ask(Q).text
    assert "800" in held.ask(Q).text  # the old build's collections are kept while it is held


def test_old_build_is_released_after_a_switch(tmp_path):
    """After a switch and the last request on the old build, its Index goes (the lease with it:
    the next ingest removes the folder) and chromadb's cached client for it is stopped."""
    import gc

    from chromadb.api.shared_system_client import SharedSystemClient

    from rag.ui.backend import Backend

    corpus = copy_tiny(tmp_path)
    settings = load_settings(corpus_dir=corpus, data_dir=tmp_path / "data", index_poll=0,
                             usage_log=False)
    build_index(settings, progress=False)
    backend = Backend(settings).start()
    backend.wait()
    first = backend.index.root
    for old, new in (("800", "950"), ("950", "960")):
        change_target(corpus, new, old)
        build_index(settings, progress=False)
        assert backend.check_switch()
        gc.collect()  # an Index sits in a reference cycle (its sentence scorer)
    assert not first.exists()  # the second ingest removed it: nothing held its lease
    backend.check_switch()  # releases retired clients
    cached = set(SharedSystemClient._identifier_to_system)
    assert str(first / "chroma") not in cached and str(backend.index.root / "chroma") in cached
    assert "960" in backend.pipeline.ask(Q).text
