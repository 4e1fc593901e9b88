"""The running app (127.0.0.1, real plan): bad questions through gradio_client, file routes that
must not serve anything outside the app, endpoints that take no paths, the bind rule, logs
without question text, and 32 concurrent chat sessions without cross-talk.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT, load_settings
from rag.errors import ConfigError
from rag.ui import build_app, check_bind, launch
from rag.ui.render import esc
from tests.conftest import free_port
from tests.robustness import tally
from tests.robustness.inputs import sample

pytestmark = pytest.mark.slow



@pytest.fixture(scope="module")
def running(real_index_settings):
    """(base URL, App) of the app launched on a free loopback port, pipeline loaded."""
    settings = real_index_settings.model_copy(update={"app_port": free_port()})
    demo, app = build_app(settings)
    app.backend.wait()
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    try:
        yield f"http://127.0.0.1:{settings.app_port}/", app
    finally:
        demo.close()


def _client(url, timeout: float | None = None):
    from gradio_client import Client

    # gradio_client's queue-join POST uses httpx's 5 s default; under 32 sessions on a shared
    # 2-core machine the server can take longer to accept, which a browser would simply wait for
    kwargs = {"httpx_kwargs": {"timeout": timeout}} if timeout else {}
    return Client(url, verbose=False, **kwargs)


# ------------------------------------------------------------------ bad questions via the API


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
        return True
    except UnicodeEncodeError:
        return False


def _raw_ask(url: str, text: str) -> dict:
    """POST /gradio_api/call/ask with \\u-escaped JSON (as JSON.stringify sends a lone
    surrogate), then read the result stream; a gr.Error becomes AppError like gradio_client."""
    from gradio_client.exceptions import AppError

    body = json.dumps({"data": [text, "全部", None]}).encode("ascii")
    req = urllib.request.Request(url + "gradio_api/call/ask", data=body,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        event_id = json.loads(resp.read())["event_id"]
    with urllib.request.urlopen(f"{url}gradio_api/call/ask/{event_id}", timeout=300) as resp:
        stream = resp.read().decode("utf-8")
    event = re.findall(r"^event: (\w+)", stream, re.M)[-1]
    data = re.findall(r"^data: (.*)$", stream, re.M)[-1]
    if event == "error":
        raise AppError(json.loads(data) if data != "null" else "error")
    return json.loads(data)[0]


def test_bad_questions_through_app_api(running, bad):
    """One per category (13) through /ask and two through the streaming /chat endpoint."""
    from gradio_client.exceptions import AppError

    url, _ = running
    client = _client(url)
    fails = []
    for cat, text in sample(bad, 1) + sample(bad, 2)[1::2][:2]:
        try:
            out = client.predict(text, "全部", None, api_name="/ask") if _utf8(text) \
                else _raw_ask(url, text)  # httpx cannot send a lone surrogate; a browser can
            ok = isinstance(out, dict) and bool(out.get("answer")) and (
                len(text) <= 500 or "过长" in (out.get("notice") or ""))
            detail = f"{text[:40]!r}: {str(out)[:200]}"
        except AppError as exc:  # a gr.Error: the message the user sees
            ok, detail = bool(str(exc).strip()) and "Traceback" not in str(exc), str(exc)
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc} for {text[:40]!r}"
        if not tally.record("questions", f"{cat} · app /ask (gradio_client)", ok, detail):
            fails.append(detail)
    for cat, text in [x for x in sample(bad, 1) if x[0] in ("control", "fake_tags", "html_js")]:
        try:
            chat, box = client.predict(text, "all", api_name="/chat")
            last = chat[-1]["content"] if chat else ""
            ok = bool(last) and "Traceback" not in str(chat) and "<script>" not in str(chat)
            detail = str(chat)[-200:]
        except AppError as exc:
            ok, detail = bool(str(exc).strip()), str(exc)
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        if not tally.record("questions", f"{cat} · app /chat (gradio_client)", ok, detail):
            fails.append(detail)
    assert not fails, fails[:5]


# ------------------------------------------------------------------ security


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read(200_000)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(2000)


def test_file_routes_serve_nothing_outside_the_app(running, real_index_settings):
    url, _ = running
    data = Path(real_index_settings.data_dir).resolve()
    secret = (data / "current" / "manifest.json").resolve()
    targets = {
        "/gradio_api/file=/etc/passwd": b"root:",
        "/gradio_api/file/etc/passwd": b"root:",
        "/file=/etc/passwd": b"root:",
        "/gradio_api/file=../../../../../../etc/passwd": b"root:",
        "/gradio_api/file=%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd": b"root:",
        "/gradio_api/file=%2Fetc%2Fpasswd": b"root:",
        f"/gradio_api/file={PROJECT_ROOT / 'app.py'}": b"gradio",
        f"/gradio_api/file={PROJECT_ROOT / 'pyproject.toml'}": b"[project]",
        f"/gradio_api/file={secret}": b"embedder",
        f"/gradio_api/file={PROJECT_ROOT / 'corpus' / 'corpus.toml'}": b"documents",
        "/gradio_api/file=http://127.0.0.1:1/": b"",
        f"/gradio_api/file=http://127.0.0.1:{url.rsplit(':', 1)[1].strip('/')}/config": b"{",
        "/gradio_api/file=file:///etc/passwd": b"root:",
    }
    fails = []
    for path, marker in targets.items():
        status, body = _get(url.rstrip("/") + path)
        served = status == 200 and (not marker or marker in body)
        if not tally.record("security", "file route refuses a path outside the app", not served,
                            f"{path} → {status} {body[:80]!r}"):
            fails.append((path, status))
    assert not fails, fails


def test_no_endpoint_takes_a_file_path(running):
    url, _ = running
    info = _client(url).view_api(return_format="dict", print_info=False)
    params = [(name, p) for name, ep in info["named_endpoints"].items()
              for p in ep["parameters"]]
    pathy = [(name, p["parameter_name"]) for name, p in params
             if "file" in json.dumps(p.get("type", "")).lower()
             or p.get("component") in ("File", "UploadButton", "Image", "Audio", "Video")]
    ok = bool(params) and not pathy
    tally.record("security", "named endpoints: no file/path parameter", ok, str(pathy))
    assert ok, pathy


BIND_CASES = {"0.0.0.0": False, "::": False, "192.168.1.5": False, "example.org": False,
              "10.0.0.1": False, "127.0.0.1": True, "localhost": True, "::1": True,
              "127.1.2.3": True}


def test_bind_rule(tmp_path):
    fails = []
    for host, allowed in BIND_CASES.items():
        settings = load_settings(data_dir=tmp_path, app_host=host)
        try:
            check_bind(settings)
            ok = allowed
        except ConfigError as exc:
            ok = not allowed and "RAG_APP_PASSWORD" in str(exc)
        if not allowed:  # with a password every address is allowed
            check_bind(load_settings(data_dir=tmp_path, app_host=host, app_password="pw"))
        if not tally.record("security", "bind rule (loopback or password)", ok, host):
            fails.append(host)
    # and the real process, configured through the environment, refuses before any work
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(tmp_path / "d"), RAG_APP_HOST="::", RAG_APP_PORT="1")
    proc = subprocess.run([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    ok = (proc.returncode == 2 and "RAG_APP_PASSWORD" in proc.stderr
          and "Traceback" not in proc.stderr and not (tmp_path / "d").exists())
    tally.record("security", "app.py with RAG_APP_HOST=:: and no password refuses", ok,
                 proc.stderr[-300:])
    assert ok and not fails, (fails, proc.stderr[-500:])


def test_logs_hold_no_question_text_unless_enabled(running, caplog):
    _, app = running
    secret = "汾河治理有哪些工程？（日志探针Q7）"
    caplog.set_level(logging.DEBUG)  # every logger, every level
    app.ask(secret)
    list(app.chat(secret, "all", None))
    leaked = [r.name for r in caplog.records if "日志探针Q7" in r.getMessage()]
    ok = not leaked and len(caplog.records) > 0
    tally.record("security", "logs without question text (default)", ok, str(leaked))
    caplog.clear()
    metrics = app.backend.metrics  # the request log (rag.ui.metrics) reads RAG_LOG_QUESTIONS
    metrics.settings = metrics.settings.model_copy(update={"log_questions": True})
    try:
        app.ask(secret)
    finally:
        metrics.settings = metrics.settings.model_copy(update={"log_questions": False})
    shown = any("日志探针Q7" in r.getMessage() for r in caplog.records)
    tally.record("security", "RAG_LOG_QUESTIONS=true logs the question", shown, "")
    assert ok and shown, leaked


# ------------------------------------------------------------------ 32 concurrent sessions


SESSIONS = 32
DURATION = 60.0
FOLLOW_UP = "这一节还提到什么？"
_LABEL = re.compile(r"「(第[^」]+)」")


def _text(content) -> str:
    """A chat message's text: gradio_client returns content as a string or a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(_text(p) for p in content)
    if isinstance(content, dict):
        return str(content.get("text") or content.get("value") or "")
    return str(content)


def _questions(n: int) -> list[str]:
    """n answerable dev-set questions with distinct gold sections."""
    seen, out = set(), []
    for line in (PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl").read_text("utf-8").splitlines():
        row = json.loads(line)
        if row.get("type") == "unanswerable" or not row.get("gold"):
            continue
        key = (row["gold"][0]["chapter"], row["gold"][0]["section"])
        if key not in seen and key[1] > 0:
            seen.add(key)
            out.append(row["question"])
    return out[:n]


def test_32_concurrent_sessions_for_60s(running):
    url, _ = running
    questions = _questions(SESSIONS)
    assert len(questions) == SESSIONS
    errors: list[str] = []
    rounds = [0] * SESSIONS
    clients: list = [None] * SESSIONS
    deadline = [0.0]
    # the barrier's action runs before any thread is released: the clock starts once all are in
    start = threading.Barrier(SESSIONS + 1,
                              action=lambda: deadline.__setitem__(0, time.monotonic() + DURATION))

    def session(i: int) -> None:
        try:
            clients[i] = _client(url, timeout=120)  # own session hash, so its own gr.State
        finally:
            start.wait()  # the 60 s start when every client is connected
        client, q = clients[i], questions[i]
        if client is None:
            errors.append(f"session {i}: could not connect")
            return
        for _ in range(20):  # bounded; the deadline normally ends it after a few rounds
            if time.monotonic() > deadline[0]:
                return
            try:
                first, _ = client.predict(q, "all", api_name="/chat")
                chat, _ = client.predict(FOLLOW_UP, "all", api_name="/chat")
                users = [_text(m["content"]) for m in chat if m["role"] == "user"]
                a1, a2 = _text(first[-1]["content"]), _text(chat[-1]["content"])
                own = set(_LABEL.findall(a1)) & set(_LABEL.findall(a2))
                if users != [esc(q), esc(FOLLOW_UP)] or len(chat) != 4:
                    errors.append(f"session {i}: history {users}")
                elif "规划原文中未找到" not in a1 and not own:
                    errors.append(f"session {i}: follow-up cites {_LABEL.findall(a2)[:2]}, "
                                  f"first answer cited {_LABEL.findall(a1)[:2]}")
                client.predict(api_name="/new_chat")
                rounds[i] += 1
            except Exception as exc:
                errors.append(f"session {i}: {type(exc).__name__}: {exc}")
                return

    threads = [threading.Thread(target=session, args=(i,)) for i in range(SESSIONS)]
    for t in threads:
        t.start()
    start.wait()
    for t in threads:
        t.join(timeout=DURATION + 900)
    done = sum(rounds)
    print(f"\n{SESSIONS} sessions, {DURATION:.0f}s: {done} rounds (question + follow-up), "
          f"{len(errors)} errors, rounds per session min {min(rounds)} max {max(rounds)}")
    for _ in range(done):
        tally.record("concurrency (32 sessions, 60 s)", "question + follow-up round", True)
    for e in errors:
        tally.record("concurrency (32 sessions, 60 s)", "question + follow-up round", False, e)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[:5]
    assert all(rounds), rounds
