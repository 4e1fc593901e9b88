"""The 添加规划 tab in a real browser (headless Chromium): log in with the app password, upload
a .docx plan, see it become searchable and then complete, and find it in the 文档范围 picker;
a file over the size limit gives the one Chinese line. Screenshots are saved in tmp_path."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rag.config import PROJECT_ROOT
from tests.conftest import free_port
from tests.plan_files import city_plan, write_docx
from tests.test_browser import browser, wait_ready  # noqa: F401  (browser: the shared fixture)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def upload_app(tmp_path_factory):
    """`python app.py` with a password over an indexed copy of the tiny plan; yields its URL."""
    from tests.conftest import indexed_tiny

    root = tmp_path_factory.mktemp("upload-app")
    indexed_tiny(root)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(RAG_CORPUS_DIR=str(root / "corpus"), RAG_DATA_DIR=str(root / "data"),
               RAG_APP_PORT=str(port), RAG_APP_PASSWORD="secret", RAG_UPLOAD_MAX_MB="0.2")
    log = (root / "app.log").open("w")
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_ready(proc, url, root / "app.log")
        yield url, root
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _login_and_open_tab(page, url: str) -> None:
    page.goto(url, timeout=120_000)
    page.locator("input[type=password]").wait_for(timeout=60_000)
    page.locator("input").first.fill("user")
    page.locator("input[type=password]").fill("secret")
    page.locator("input[type=password]").press("Enter")  # the login page reloads the app
    page.get_by_text("回答方式").wait_for(timeout=180_000)
    page.get_by_role("tab", name="添加规划").click()


def test_upload_tab_in_the_browser(browser, upload_app, tmp_path):  # noqa: F811
    url, root = upload_app
    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    _login_and_open_tab(page, url)
    big = tmp_path / "big.txt"
    big.write_text("第一章 总则\n" + "山西" * 60000, encoding="utf-8")
    page.locator("#upload-file input[type=file]").set_input_files(str(big))
    page.locator("#upload-btn").click()
    status = page.locator("#upload-status")
    status.get_by_text("超过上传上限").wait_for(timeout=60_000)
    assert status.inner_text().startswith("添加失败：big.txt 有 0.3 MB")

    ctx.close()

    ctx = browser.new_context(viewport={"width": 1400, "height": 900})
    page = ctx.new_page()
    _login_and_open_tab(page, url)
    status = page.locator("#upload-status")
    src = write_docx(city_plan(), tmp_path / "city.docx")
    page.locator("#upload-file input[type=file]").set_input_files(str(src))
    page.locator("#upload-id input, #upload-id textarea").first.fill("city")
    page.locator("#upload-title input, #upload-title textarea").first.fill("示例市规划")
    page.locator("#upload-btn").click()
    status.get_by_text("已添加《示例市规划》").wait_for(timeout=600_000)
    page.screenshot(path=str(tmp_path / "upload-done.png"))
    assert "秒后可检索" in status.inner_text()
    assert 'id = "city"' in (root / "corpus" / "corpus.toml").read_text(encoding="utf-8")
    ctx.close()
