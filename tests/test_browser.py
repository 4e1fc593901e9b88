"""The app in a real browser: headless Chromium asks a question and sees a cited answer."""

from __future__ import annotations

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



@pytest.fixture
def running_app(real_index_settings, tmp_path):
    """`python app.py` on a free loopback port over the real index; yields its URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_DATA_DIR=str(real_index_settings.data_dir), RAG_APP_PORT=str(port))
    log = (tmp_path / "app.log").open("w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("app did not start: " + (tmp_path / "app.log").read_text())
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def test_ask_in_browser_shows_cited_answer(running_app, tmp_path):
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (make system-deps)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.goto(running_app)
            page.get_by_text("回答方式").wait_for(timeout=120_000)  # index loaded
            box = page.locator("#question textarea")
            box.fill("到2025年高新技术企业要达到多少家？")
            box.press("Enter")
            bot = page.locator("#chatbot .message.bot, #chatbot [data-testid='bot']").last
            page.locator("#chatbot details summary", has_text="第二章 第三节").first.wait_for(
                timeout=60_000)
            assert "5000" in bot.inner_text()
            page.locator("#chatbot details summary", has_text="第二章 第三节").first.click()
            mark = page.locator("#chatbot details[open] mark").first
            mark.wait_for(timeout=10_000)
            assert "5000" in mark.inner_text()
            shot = tmp_path / "answer.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
        finally:
            browser.close()
