"""The Gradio app: handlers on the real plan index, escaping, the bind check, a gradio_client round trip."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import gradio as gr
import pytest

from rag.config import PROJECT_ROOT, load_settings
from rag.errors import ConfigError
from rag.ui import build_app, check_bind, is_loopback, launch, parse_chapter
from rag.ui.render import section_html
from tests.conftest import free_port

pytestmark = pytest.mark.slow

Q_FIRMS = "到2025年高新技术企业要达到多少家？"



@pytest.fixture(scope="module")
def built(real_index_settings):
    """(Blocks, App) over the real index, with the pipeline loaded."""
    demo, app = build_app(real_index_settings)
    app.backend.wait()
    return demo, app


def run_chat(app, question, chapter="all", session=None):
    """Drive the streaming chat handler to its last yield; returns (display, session, frames)."""
    frames = list(app.chat(question, chapter, session))
    display, session, box = frames[-1]
    assert box == ""  # the textbox is cleared
    return display, session, frames


# ------------------------------------------------------------------ chat


def test_chat_answers_with_cited_highlighted_source(built):
    _, app = built
    display, session, frames = run_chat(app, Q_FIRMS)
    assert len(frames) >= 2  # the user message is shown before the answer arrives
    assert display[0] == {"role": "user", "content": Q_FIRMS}
    answer = display[-1]["content"]
    assert "5000" in answer
    assert "<details><summary>" in answer and "第二章 第三节 培育一流创新主体" in answer
    # the quoted sentence is highlighted inside the expandable section text
    marked = answer.split("<mark>", 1)[1].split("</mark>", 1)[0]
    assert "5000" in marked
    assert "\n\n" not in answer.split("<div class='sources'>", 1)[1]  # one HTML block in Markdown
    assert [m["role"] for m in session["history"]] == ["user", "assistant"]
    assert session["history"][0]["content"] == Q_FIRMS
    assert "<details>" not in session["history"][1]["content"]  # the pipeline gets plain text


def test_follow_up_uses_this_sessions_history_only(built):
    _, app = built
    _, first, _ = run_chat(app, Q_FIRMS)
    display, second, _ = run_chat(app, "那2035年呢？", session=first)
    assert len(second["history"]) == 4 and len(display) == 4
    assert first["history"][0]["content"] == Q_FIRMS and len(first["history"]) == 2  # not mutated
    _, other, _ = run_chat(app, "汾河治理有哪些工程？")  # a fresh session starts empty
    assert [m["content"] for m in other["history"] if m["role"] == "user"] == ["汾河治理有哪些工程？"]


def test_user_text_is_escaped(built):
    _, app = built
    display, _, _ = run_chat(app, "<script>alert(1)</script>高新技术企业")
    assert display[0]["content"].startswith("&lt;script&gt;")
    assert "<script>" not in "".join(m["content"] for m in display)


def test_out_of_scope_question_is_refused_with_related_sections(built):
    from rag.answering import REFUSAL

    _, app = built
    display, _, _ = run_chat(app, "2022年世界杯冠军是哪支球队？")
    answer = display[-1]["content"]
    assert REFUSAL in answer
    assert "可能相关" in answer and "<details>" in answer


def test_chapter_filter_limits_citations(built):
    _, app = built
    out = app.ask("生态保护有哪些重点工程？", chapter="12")
    assert out["citations"], out
    assert {c["chapter"] for c in out["citations"]} == {12}
    assert parse_chapter("第十章 实施全面深化改革开放战略") == 10
    assert parse_chapter("全部") is None and parse_chapter("all") is None
    with pytest.raises(gr.Error):
        parse_chapter("第几章")


def test_empty_question_is_a_friendly_error(built):
    _, app = built
    with pytest.raises(gr.Error):
        list(app.chat("   ", "all", None))
    with pytest.raises(gr.Error):
        app.ask("")


def test_logs_hold_no_question_text(built, caplog):
    _, app = built
    secret = "到2025年高新技术企业要达到多少家？（日志测试）"
    with caplog.at_level(logging.INFO, logger="rag.app"):
        app.ask(secret)
        run_chat(app, secret)
    assert any(r.name == "rag.app" for r in caplog.records)
    assert all("高新技术企业" not in r.getMessage() for r in caplog.records)


def test_section_html_escapes_and_highlights():
    from rag.corpus import Section

    text = "第一句<b>粗</b>。第二句含5000家。"
    s = Section("d", 1, "章", 1, "节", text, ((100, 100 + len(text)),), 1)
    quote = "第二句含5000家。"
    start = 100 + text.index(quote)
    out = section_html(s, [((start, start + len(quote)), quote)])
    assert out == "第一句&lt;b&gt;粗&lt;/b&gt;。<mark>第二句含5000家。</mark>"
    # a span that does not match falls back to finding the quote
    assert "<mark>第一句" in section_html(s, [((0, 3), "第一句")])


# ------------------------------------------------------------------ browse and quiz


def test_startup_fills_pickers_and_browse_shows_section(built):
    _, app = built
    last = list(app.startup())[-1]
    assert "回答方式" in last[0] and "抽取式" in last[0]
    filt = last[1]["choices"]
    assert filt[0] == ("全部章节", "all")
    assert any(label.startswith("第二章") for label, _ in filt)
    sections, text = app.browse_chapter("2")
    assert ("第二章 第三节 培育一流创新主体", "2.3") in sections["choices"]
    page = app.browse_section("2.3")
    assert "培育一流创新主体" in page and "5000" in page


def test_quiz_preview_downloads_and_practice(built):
    from pathlib import Path

    _, app = built
    args = (["2"], [], 6, ["cloze", "choice", "judge"], "medium", 7)
    items, preview, *downloads = app.make_quiz(*args)
    assert len(items) == 6 and preview.count("class='quiz-item'") == 6
    files = [Path(d["value"]) for d in downloads]
    assert [f.suffix for f in files] == [".md", ".csv", ".json", ".docx", ".txt"]
    assert all(f.is_file() and f.stat().st_size > 0 for f in files)
    assert all(app.export_root in f.parents for f in files)  # never a user-chosen path
    again, *_ = app.make_quiz(*args)
    assert [i.stem for i in again] == [i.stem for i in items]  # same seed → same quiz
    assert all(i.chapter == 2 for i in items)

    perfect = app.grade_practice(items, *[i.answer for i in items])
    assert "100 分（6/6" in perfect
    blank = app.grade_practice(items, *[""] * len(items))
    assert "0 分（0/6" in blank and "（未作答）" in blank and items[0].citation in blank

    with pytest.raises(gr.Error):
        app.make_quiz(["2"], [], 5, [], "medium", 0)  # no type chosen
    with pytest.raises(gr.Error, match="第 99 章|99"):
        app.make_quiz(["99"], [], 5, ["cloze"], "medium", 0)


# ------------------------------------------------------------------ launching


def test_non_loopback_without_password_refuses_to_start(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "app.py", "--host", "0.0.0.0", "--port", "1"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "RAG_APP_PASSWORD" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "current").exists()  # refused before doing any work
    help_ = subprocess.run([sys.executable, "app.py", "--help"], cwd=PROJECT_ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert help_.returncode == 0 and "--host" in help_.stdout and "--share" not in help_.stdout


def test_bind_check_rules(tmp_path):
    check_bind(load_settings(data_dir=tmp_path))  # loopback default: fine
    check_bind(load_settings(data_dir=tmp_path, app_host="0.0.0.0", app_password="pw"))
    with pytest.raises(ConfigError):
        check_bind(load_settings(data_dir=tmp_path, app_host="192.168.1.5"))
    assert is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("example.org")


def test_gradio_client_round_trip(real_index_settings):
    from gradio_client import Client

    settings = real_index_settings.model_copy(update={"app_port": free_port(),
                                                      "app_password": "s3cret"})
    demo, app = build_app(settings)
    launch(demo, settings, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{settings.app_port}/"
    try:
        # the password is enforced: gradio answers 400, which gradio_client raises as ValueError
        with pytest.raises(ValueError, match="Could not login"):
            Client(url, verbose=False, auth=("anyone", "wrong"))
        client = Client(url, verbose=False, auth=("anyone", "s3cret"))
        out = client.predict(Q_FIRMS, "全部", None, api_name="/ask")
        assert "5000" in out["answer"] and not out["refused"]
        assert (2, 3) in {(c["chapter"], c["section"]) for c in out["citations"]}
        follow = client.predict("那2035年呢？", "全部", out["history"], api_name="/ask")
        assert len(follow["history"]) == 4 and follow["standalone"] != "那2035年呢？"
        # 16 clients at once all get answers (queue + concurrency limit)
        jobs = [client.submit(Q_FIRMS, "全部", None, api_name="/ask") for _ in range(16)]
        results = [j.result(timeout=300) for j in jobs]
        assert all("5000" in r["answer"] for r in results)
    finally:
        demo.close()
