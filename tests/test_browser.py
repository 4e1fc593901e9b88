"""The app in a real browser (headless Chromium) at a desktop and a phone viewport: cited
answers with clickable sources, one click to the highlighted sentence in 浏览规划, 👍/👎
feedback that reaches `rag feedback export`, a conversation that survives a reload and
exports to Word, and a calm layout. Screenshots are saved in each test's tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request

import pytest

from rag.config import PROJECT_ROOT
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-gpu"]
VIEWPORTS = {"desktop": {"width": 1400, "height": 900}, "phone": {"width": 390, "height": 844}}
Q_FIRMS = "到2025年高新技术企业要达到多少家？"


def wait_ready(proc, url: str, logs) -> None:
    """Until /healthz answers ok: the index and models are loaded (on a busy machine this takes
    far longer than the page itself); fails with the app's log if it exits or takes 600 s."""
    deadline = time.monotonic() + 600
    while True:
        try:
            with urllib.request.urlopen(url + "healthz", timeout=5) as resp:
                if json.load(resp)["status"] == "ok":
                    return
        except (OSError, ValueError):  # not listening yet, or 503 while loading
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            pytest.fail("app did not become ready: " + logs.read_text()[-4000:])
        time.sleep(0.5)


@pytest.fixture(scope="module")
def running_app(real_index_settings, tmp_path_factory):
    """`python app.py` on a free loopback port over the real index; yields its URL."""
    port = free_port()
    logs = tmp_path_factory.mktemp("app-log") / "app.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(real_index_settings.data_dir), RAG_APP_PORT=str(port))
    log = logs.open("w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(proc, url, logs)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (make system-deps)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser, running_app):
    """A fresh page (empty browser storage) at one viewport, the index loaded."""
    ctx = browser.new_context(viewport=VIEWPORTS[request.param], accept_downloads=True)
    pg = ctx.new_page()
    open_app(pg, running_app)
    pg.viewport = request.param
    yield pg
    ctx.close()


def open_app(page, url: str) -> None:
    """Load the page and wait for the status line of a loaded backend; on a timeout the
    failure names what the page showed instead."""
    page.goto(url, timeout=120_000)
    try:
        page.get_by_text("回答方式").wait_for(timeout=180_000)
    except Exception as exc:  # playwright's TimeoutError: say what was on the page instead
        status = page.locator("#status").all_inner_texts()
        raise AssertionError(f"page not ready after 180 s; status line: {status!r}; "
                             f"body starts: {page.inner_text('body')[:300]!r}") from exc


def shot(page, tmp_path, name: str):
    path = tmp_path / f"{page.viewport}-{name}.png"
    page.screenshot(path=str(path))
    assert path.stat().st_size > 5_000
    return path


def ask(page, question: str, n_answers: int):
    box = page.locator("#question textarea")
    box.fill(question)
    box.press("Enter")
    page.locator("#chatbot .answer").nth(n_answers - 1).wait_for(timeout=60_000)
    return page.locator("#chatbot .answer").nth(n_answers - 1)


def in_viewport(page, locator) -> bool:
    box = locator.bounding_box()
    size = page.viewport_size
    return bool(box) and box["y"] >= 0 and box["y"] + box["height"] <= size["height"] + 1 \
        and box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 1


def test_one_click_from_citation_to_highlighted_sentence(page, tmp_path):
    answer = ask(page, Q_FIRMS, 1)
    assert "5000" in answer.inner_text()
    sources = answer.locator(".src")
    assert sources.count() == 1 and "第二章 第三节 培育一流创新主体" in sources.first.inner_text()
    quote = sources.first.locator("mark").first.inner_text()
    assert "5000" in quote
    assert answer.locator(".followups a.ask").count() in (2, 3)
    shot(page, tmp_path, "answer")
    answer.locator("a.cite").first.click()  # [1] → its source entry
    page.locator("#chatbot .src.flash").first.wait_for(timeout=5_000)
    answer.locator("a.goto").first.click()  # one click: 在规划中查看
    mark = page.locator("#browse-text mark").first
    mark.wait_for(timeout=15_000)
    assert mark.inner_text() == quote
    assert page.get_by_role("tab", name="浏览规划").get_attribute("aria-selected") == "true"
    page.wait_for_timeout(600)  # the scroll into view
    assert in_viewport(page, mark)
    shot(page, tmp_path, "goto")


def test_thumbs_down_reaches_feedback_export(page, tmp_path, real_index_settings):
    note = f"测试说明-{page.viewport}-{time.time_ns()}"
    ask(page, Q_FIRMS, 1)
    page.locator("#chatbot button[aria-label='Dislike']").last.click()
    box = page.locator("#feedback-text textarea")
    box.wait_for(timeout=10_000)
    box.fill(note)
    page.locator("#feedback-send").click()
    page.get_by_text("说明已记录").first.wait_for(timeout=10_000)
    shot(page, tmp_path, "feedback")
    out = tmp_path / "fb.jsonl"
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    proc = subprocess.run([sys.executable, "-m", "rag", "--data-dir",
                           str(real_index_settings.data_dir),
                           "feedback", "export", "--out", str(out)], cwd=PROJECT_ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    mine = [r for r in rows if r["comment"] == note]
    assert len(mine) == 1
    assert mine[0]["verdict"] == "down" and mine[0]["question"] == Q_FIRMS
    assert {"chapter": 2, "section": 3, "doc_id": "shanxi-14th-fyp"} in mine[0]["gold"]


def test_conversation_survives_reload_and_exports_docx(page, tmp_path):
    from docx import Document

    stored = "() => localStorage.getItem('guihua-chat-v1')"
    first = ask(page, Q_FIRMS, 1)
    page.wait_for_function(f"({stored})() !== null", timeout=10_000)
    before = page.evaluate(stored)
    follow = first.locator(".followups a.ask").first
    follow_q = follow.inner_text()
    follow.click()  # a suggested follow-up is asked like a typed question
    page.locator("#chatbot .answer").nth(1).wait_for(timeout=60_000)
    # the turn is copied to browser storage right after it is shown
    page.wait_for_function(f"({stored})() !== {json.dumps(before)}", timeout=10_000)
    page.reload()
    page.get_by_text("回答方式").wait_for(timeout=60_000)
    page.locator("#chatbot .answer").nth(1).wait_for(timeout=15_000)
    assert page.locator("#chatbot .answer").count() == 2
    shot(page, tmp_path, "reloaded")
    page.locator("#export-btn").click()
    link = page.locator("#export-files a[href*='.docx'], #export-files a[download$='.docx']").first
    link.wait_for(timeout=20_000)
    shot(page, tmp_path, "export")
    with page.expect_download() as dl:
        link.click()
    path = tmp_path / "chat.docx"
    dl.value.save_as(path)
    doc = Document(str(path))
    text = "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    assert Q_FIRMS in text and follow_q in text and "5000" in text
    labels = page.locator("#chatbot .src-label").all_inner_texts()
    quotes = page.locator("#chatbot .src-context mark").all_inner_texts()
    assert len(labels) >= 2 and quotes  # every source and quoted sentence of both answers
    assert all(label.strip() in text for label in labels)
    assert all(" ".join(q.split()) in text for q in quotes)
    assert round(doc.sections[0].page_width.mm) == 210


def test_calm_stable_layout(page, tmp_path):
    box = page.locator("#question textarea")
    assert in_viewport(page, box)  # the question box is visible on first load (phones too)
    width0 = page.locator(".gradio-container").bounding_box()["width"]
    shot(page, tmp_path, "start")
    box.press("Enter")  # an empty question: a hint in the input, no error badge or toast
    page.wait_for_function("document.querySelector('#question textarea').placeholder"
                           ".includes('请先输入问题')", timeout=10_000)
    assert page.get_by_text("错误").count() == 0 and page.get_by_text("Error").count() == 0
    page.locator("#export-btn").click()  # nothing to export yet: a Chinese toast, no English title
    title = page.locator(".toast-title").first
    title.wait_for(timeout=10_000)
    assert page.get_by_text("还没有可导出的问答").first.is_visible()
    assert title.evaluate("e => getComputedStyle(e, '::before').content") == '"提示"'
    assert title.evaluate("e => getComputedStyle(e).fontSize") == "0px"  # "Error" not shown
    page.locator("[data-testid='toast-close']").first.click()
    label = page.locator("#tabs label, #tabs [data-testid='block-info']").first
    colour = label.evaluate("e => getComputedStyle(e).color")
    r, g, b = (int(x) for x in colour[colour.index("(") + 1:].split(")")[0].split(",")[:3])
    assert not (r > 150 and g < 100 and b < 100), colour  # labels are not red
    ask(page, "汾河治理有哪些工程？", 1)
    assert page.locator(".gradio-container").bounding_box()["width"] == width0  # no jump
    assert not page.locator("#chatbot button[aria-label='Clear']").is_visible()  # 新对话 instead
    assert page.locator("#tabs [role=tab]").all_inner_texts()[:3] == ["问答", "浏览规划", "出题"]
    ask(page, "“六新”指的是什么？", 2)
    page.locator("#chatbot .answer").first.scroll_into_view_if_needed()  # scrolled up: arrow shows
    page.wait_for_timeout(500)
    # the scroll arrow (when shown) sits in its own gutter, clear of every answer card
    arrow = page.locator("#chatbot .scroll-down-button-container")
    if arrow.count() and arrow.first.is_visible():
        a = arrow.first.bounding_box()
        for card in page.locator("#chatbot .answer").all():
            c = card.bounding_box()
            if c and c["y"] < a["y"] + a["height"] and a["y"] < c["y"] + c["height"]:
                assert a["x"] >= c["x"] + c["width"], (a, c)
    shot(page, tmp_path, "chat-scrolled")
    shot(page, tmp_path, "chat")
    page.get_by_role("tab", name="浏览规划").click()
    page.locator("#browse-text h3", has_text="目录").wait_for(timeout=10_000)  # opens on the TOC
    shot(page, tmp_path, "toc")
    page.locator("#browse-text a.goto", has_text="通知及序言").click()
    page.locator("#browse-text .doc-header").wait_for(timeout=10_000)
    assert page.locator("#browse-text").inner_text().count("发文机关") == 0
    shot(page, tmp_path, "preamble")
    page.get_by_role("tab", name="出题").click()
    page.get_by_role("button", name="生成题目").click()
    page.locator(".quiz-item").first.wait_for(timeout=30_000)
    if page.viewport == "phone":  # results above the settings on a narrow screen
        preview = page.locator(".quiz-item").first.bounding_box()
        settings = page.get_by_role("button", name="生成题目").bounding_box()
        assert preview["y"] < settings["y"]
    shot(page, tmp_path, "quiz")
