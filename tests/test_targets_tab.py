"""The 「目标一览」 tab: its handlers over the real plan index, and the tab in headless Chromium
(filter, click a row to see its highlighted sentence, sort a column)."""

from __future__ import annotations

import os

import pytest

from rag.ui import build_app
from rag.ui.handlers import ALL
from rag.ui.targets_tab import DETAIL_PLACEHOLDER, TargetsTab
from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, open_app, running_app  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def tab(real_index_settings):
    _, app = build_app(real_index_settings)
    app.backend.wait()
    return TargetsTab(app)


def test_open_tab_fills_chapters_and_the_full_table(tab):
    chapters, table, count, csv_btn, xlsx_btn = tab.open_tab(ALL, ALL, ALL, "")
    values = [v for _, v in chapters["choices"]]
    assert values[0] == ALL and "3" in values and "0" not in values
    assert len(table) == len(tab.rows()) >= 60
    assert f"共 **{len(table)}** 条" in count
    assert csv_btn["interactive"] and xlsx_btn["interactive"]


def test_filters_and_downloads_follow_the_view(tab):
    from openpyxl import load_workbook

    table, count, csv_btn, xlsx_btn = tab.view(ALL, "2025", "target", "5G")
    assert [(r[1], r[2], r[3]) for r in table] == [("5G基站", "12", "万座")]
    assert table[0][0] == "第三章 第一节 适度超前布局新基建"
    raw = open(csv_btn["value"], "rb").read()
    assert raw.startswith(b"\xef\xbb\xbf") and "5G基站" in raw.decode("utf-8-sig")
    rows = list(load_workbook(xlsx_btn["value"]).active.iter_rows(values_only=True))
    assert len(rows) == 2 and rows[1][1] == "5G基站"
    assert tab.app.export_root in __import__("pathlib").Path(csv_btn["value"]).parents

    results, *_ = tab.view("1", ALL, "result", "")
    assert results and all(r[6] == "实绩" and r[0].startswith("第一章") for r in results)
    empty, count, *_ = tab.view(ALL, ALL, ALL, "没有这个指标")
    assert "共 **0** 条" in count and empty == [[""] * 8]


def test_clicked_row_shows_label_and_highlighted_sentence(tab):
    table, *_ = tab.view("9", ALL, ALL, "粮食总产量")
    html = tab.detail_for(table[0])
    assert "第九章" in html and "<mark>" in html
    marked = html.split("<mark>", 1)[1].split("</mark>", 1)[0]
    assert "150亿公斤" in marked
    assert tab.detail_for([""] * 8) == DETAIL_PLACEHOLDER


@pytest.mark.browser
def test_targets_tab_in_browser(running_app):  # noqa: F811
    playwright = pytest.importorskip("playwright.sync_api")
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (make system-deps)")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            open_app(page, running_app)
            page.get_by_role("tab", name="目标一览").click()
            page.locator("#targets-count", has_text="共").wait_for(timeout=60_000)
            box = page.locator("#targets-query textarea, #targets-query input").first
            box.fill("5G")
            box.press("Enter")
            page.locator("#targets-count", has_text="共 1 条").wait_for(timeout=30_000)
            cell = page.locator("#targets-table").get_by_text("5G基站", exact=True).filter(
                visible=True).first
            cell.wait_for(timeout=10_000)
            assert "12" in page.locator("#targets-table").inner_text()
            cell.click()
            page.locator("#targets-detail mark").wait_for(timeout=30_000)
            assert "12万座" in page.locator("#targets-detail mark").inner_text()

            box.fill("粮食总产量")  # 2020 result (142.4) comes before the 十四五末 target (150)
            box.press("Enter")
            page.locator("#targets-count", has_text="共 2 条").wait_for(timeout=30_000)
            table = page.locator("#targets-table")

            def top(text):
                cell = table.get_by_text(text, exact=True).filter(visible=True).first
                cell.wait_for(timeout=10_000)
                return cell.bounding_box()["y"]

            assert top("142.4") < top("150")
            header = table.locator("th").filter(has_text="数值", visible=True).first
            header.hover()
            header.get_by_role("button", name="Open cell menu").click()
            page.get_by_text("Sort descending").first.click()
            page.wait_for_timeout(500)
            assert top("150") < top("142.4")
        finally:
            browser.close()
