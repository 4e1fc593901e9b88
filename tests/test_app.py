"""The Gradio app: handlers on the real plan index, escaping, the bind check, a gradio_client round trip."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import gradio as gr
import httpx
import pytest

from rag.config import PROJECT_ROOT, load_settings
from rag.errors import ConfigError
from rag.ui import Backend, build_app, check_bind, is_loopback, launch, parse_chapter
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


def like(app, session, index, liked):
    return app.rate(session, gr.LikeData(None, {"index": index, "value": "", "liked": liked}))


# ------------------------------------------------------------------ chat


def test_chat_answers_with_sources_once_clickable_and_followups(built):
    _, app = built
    display, session, frames = run_chat(app, Q_FIRMS)
    assert len(frames) >= 2  # the user message is shown before the answer arrives
    assert display[0] == {"role": "user", "content": Q_FIRMS}
    answer = display[-1]["content"]
    assert "5000" in answer
    # sources once: no plain 来源 list in the text, one entry per cited section
    assert answer.count("「第二章 第三节 培育一流创新主体」") == 1 and "来源：" not in answer
    assert "href='#cite=1'" in answer and "class='src n1'" in answer  # [1] links to its entry
    # the quote highlighted in a few lines of context, not the whole section
    context = answer.split("<div class='src-context'>", 1)[1].split("</div>", 1)[0]
    assert "5000" in context.split("<mark>", 1)[1].split("</mark>", 1)[0]
    assert len(context) < 400
    assert "#goto=shanxi-14th-fyp|2|3|" in answer and "在规划中查看" in answer
    # two or three follow-ups from the cited section's other points, none repeating the question
    asks = [a.split("'>", 1)[1].split("</a>")[0] for a in answer.split("<a class='ask' ")[1:]]
    assert 2 <= len(asks) <= 3 and Q_FIRMS not in asks
    sec = app.backend.index.section("shanxi-14th-fyp", 2, 3)
    assert all(a.removesuffix("有哪些举措？") in sec.text or any(
        a.removesuffix("有哪些举措？") == s.section_title for s in app.backend.index.sections)
        for a in asks)
    assert "\n\n" not in answer  # one HTML block in Markdown
    assert [m["role"] for m in session["history"]] == ["user", "assistant"]
    assert session["history"][0]["content"] == Q_FIRMS
    assert "<div" not in session["history"][1]["content"]  # the pipeline gets plain text
    turn = session["turns"][0]
    assert turn["msg"] == 1 and turn["question"] == Q_FIRMS and turn["build_id"]
    assert turn["citations"][0]["label"] == "第二章 第三节 培育一流创新主体"


def test_direct_line_is_shown_first_and_styled_apart(built):
    from dataclasses import fields
    from types import SimpleNamespace

    from rag.ui.answer_view import render_answer

    _, app = built
    answer = app.backend.pipeline.ask(Q_FIRMS)
    # the same answer with a direct-answer line (Answer.direct where the answerer sets one)
    with_direct = SimpleNamespace(**{**{f.name: getattr(answer, f.name) for f in fields(answer)},
                                     "direct": "高新技术企业达到5000家[1]"})
    html = render_answer(with_direct, app.backend.index)
    assert html.index("class='direct'") < html.index("class='body'")
    assert "<div class='direct'>高新技术企业达到5000家<a class='cite' href='#cite=1'>" in html
    plain = render_answer(answer, app.backend.index)
    assert ("class='direct'" in plain) == bool(getattr(answer, "direct", None))
    if getattr(answer, "direct", None):  # shown once, apart: not repeated at the top of the body
        body = plain.split("<div class='body'>", 1)[1].split("</div>", 1)[0]
        assert not body.startswith(answer.direct.split("[")[0])


def test_empty_question_is_a_hint_not_an_error(built):
    _, app = built
    frames = list(app.chat("   ", "all", None))
    assert len(frames) == 1
    display, session, box = frames[0]
    assert display == [] and "请先输入问题" in box["placeholder"]


def test_feedback_on_an_answer_is_stored_with_its_record(built):
    from rag.feedback import FeedbackStore

    _, app = built
    display, session, _ = run_chat(app, Q_FIRMS)
    before = FeedbackStore(app.settings).stats()["down"]
    row, shown, _ = like(app, session, 1, False)
    assert row and shown["visible"] is True
    app.comment(row, "数字对，但想看原文出处")
    stored = FeedbackStore(app.settings).rows()[-1]
    assert stored["verdict"] == "down" and stored["question"] == Q_FIRMS
    assert stored["comment"] == "数字对，但想看原文出处" and "5000" in stored["answer"]
    assert stored["build_id"] == app.backend.index.manifest.build_id
    assert FeedbackStore(app.settings).stats()["down"] == before + 1
    assert like(app, session, 0, True)[0] is None  # a user message is not an answer: nothing stored


def test_conversation_exports_markdown_and_docx(built):
    from docx import Document

    _, app = built
    _, session, _ = run_chat(app, Q_FIRMS)
    _, session, _ = run_chat(app, "汾河治理有哪些工程？", session=session)
    md, docx = app.export_chat(session)
    text = open(md, encoding="utf-8").read()
    doc = Document(docx)
    body = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    assert round(doc.sections[0].page_width.mm) == 210 and round(doc.sections[0].page_height.mm) == 297
    for turn in session["turns"]:
        for out in (text, body):
            assert turn["question"] in out
            assert all(line.strip() in out for line in turn["answer"].splitlines() if line.strip())
            for c in turn["citations"]:
                assert c["label"] in out and " ".join(c["quote"].split()) in out
    with pytest.raises(gr.Error):
        app.export_chat({"history": [], "display": [], "turns": []})


def test_restore_and_goto_open_the_cited_sentence(built):
    _, app = built
    display, session, _ = run_chat(app, Q_FIRMS)
    assert app.restore(session) == (display, session) and app.restore(None)[0] == []
    c = session["turns"][0]["citations"][0]
    tabs, chapter, section, page = app.goto(f"{c['doc_id']}|{c['chapter']}|{c['section']}|"
                                            f"{c['span'][0]}|{c['span'][1]}")
    assert chapter["value"] == "2" and section["value"] == "2.3"
    assert page.split("<mark>", 1)[1].split("</mark>", 1)[0] == c["quote"]
    with pytest.raises(gr.Error):
        app.goto("nonsense")


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
    assert "可能相关" in answer and "#goto=" in answer
    assert "class='followups'" not in answer  # no follow-ups from sections nobody cited


def test_chapter_filter_limits_citations(built):
    _, app = built
    out = app.ask("生态保护有哪些重点工程？", chapter="12")
    assert out["citations"], out
    assert {c["chapter"] for c in out["citations"]} == {12}
    assert parse_chapter("第十章 实施全面深化改革开放战略") == 10
    assert parse_chapter("全部") is None and parse_chapter("all") is None
    with pytest.raises(gr.Error):
        parse_chapter("第几章")


def test_empty_api_question_is_a_friendly_error(built):
    _, app = built
    with pytest.raises(gr.Error, match="请输入问题"):
        app.ask("")


def test_logs_hold_no_question_text(built, caplog):
    _, app = built
    secret = "到2025年高新技术企业要达到多少家？（日志测试）"
    with caplog.at_level(logging.INFO, logger="rag.app"):
        app.ask(secret)
        run_chat(app, secret)
    assert any(r.name == "rag.app.requests" for r in caplog.records)
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
    assert last[2]["value"] == "toc" and "<h3>目录</h3>" in last[5]  # opens on the contents
    assert "#goto=shanxi-14th-fyp|2|3||" in last[5] and "第三节 培育一流创新主体" in last[5]
    sections, text = app.browse_chapter("2")
    assert ("第二章 第三节 培育一流创新主体", "2.3") in sections["choices"]
    page = app.browse_section("2.3")
    assert "培育一流创新主体" in page and "5000" in page
    # the notice's metadata once, as a small header, not the web page's block twice
    preamble = app.browse_section("0.0")
    header = preamble.split("<div class='doc-header'>", 1)[1].split("</div>", 1)[0]
    assert "晋政发〔2021〕7号" in header and "山西省人民政府" in header
    assert "发文机关" not in preamble and "主题分类" not in preamble and "中国政府网" not in preamble


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
    launch(demo, settings, backend=app.backend, prevent_thread_lock=True, quiet=True)
    url = f"http://127.0.0.1:{settings.app_port}/"
    try:
        app.backend.wait()
        # /healthz needs no password (load balancers) and names the build being served
        health = httpx.get(url + "healthz", timeout=30)
        assert health.status_code == 200, health.text
        body = health.json()
        assert body["status"] == "ok" and body["store"] is True and body["answerer"] == "extractive"
        assert body["build_id"] == app.backend.index.manifest.build_id
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


def test_health_reports_loading_and_failure(tmp_path):
    from rag.ui.ops import health

    backend = Backend(load_settings(data_dir=tmp_path))  # not started: still loading
    code, body = health(backend)
    assert code == 503 and body["status"] == "loading" and body["stage"] == "load"
    backend.error = "索引文件缺失或损坏"
    backend._ready.set()
    code, body = health(backend)
    assert code == 503 and body == {"status": "error", "pid": os.getpid(),
                                    "error": "索引文件缺失或损坏"}
