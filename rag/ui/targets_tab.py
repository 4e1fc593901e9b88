"""The app's 「目标一览」 tab: the plan's quantitative targets as a filterable, sortable table.

Filters (chapter, year, kind, text) redraw the table and the CSV/xlsx downloads of the current
view; clicking a row shows its 「第X章 第Y节」 label and the section text with the sentence
highlighted (the 浏览规划 tab has no sentence-level address to link to, so the sentence is
shown here). :func:`build_targets_tab` is called inside the page's gr.Blocks by rag.ui.layout.

Not handled here: extracting rows (rag.targets), filters and file formats (rag.targets_view).
"""

from __future__ import annotations

import uuid

from rag.config import Settings  # noqa: F401  (sets GRADIO_ANALYTICS_ENABLED before gradio)
from rag.errors import RagError
from rag.targets import Target, targets_of
from rag.targets_view import COLUMNS, export_targets, filter_targets, table_rows
from rag.ui.handlers import ALL, App, chapters_of, parse_chapter
from rag.ui.render import esc, section_html

import gradio as gr  # noqa: E402

YEARS = [("全部时间", ALL), ("2025（十四五）", "2025"), ("2035", "2035"), ("十三五（2020）", "2020")]
KIND_CHOICES = [("全部", ALL), ("目标", "target"), ("实绩", "result"), ("现状", "fact")]
DETAIL_PLACEHOLDER = "<p class='answerer-line'>点击表中一行，查看原句及其所在章节原文。</p>"


class TargetsTab:
    """Handlers of the tab; plain values in and out, so tests call them without a browser."""

    def __init__(self, app: App):
        self.app = app
        self._rows: list[Target] | None = None
        self._build: str | None = None

    def rows(self) -> list[Target]:
        """All rows of the loaded index (re-read when the index is rebuilt)."""
        self.app.backend.wait()
        index = self.app.backend.index
        if self._rows is None or self._build != index.manifest.build_id:
            self._rows, self._build = targets_of(index), index.manifest.build_id
        return self._rows

    def chapter_choices(self) -> list[tuple[str, str]]:
        chapters = {t.ref.chapter for t in self.rows()}
        return [("全部章节", ALL)] + [(label, str(ch)) for ch, label
                                      in chapters_of(self.app.backend.index.sections)
                                      if ch in chapters]

    def view(self, chapter, year, kind, query):
        """Filtered table, a count line and the CSV / xlsx of exactly this view."""
        try:
            rows = filter_targets(self.rows(), chapter=parse_chapter(chapter),
                                  year=None if year in (None, "", ALL) else str(year),
                                  kind=None if kind in (None, "", ALL) else kind,
                                  query=(query or "").strip()[:100] or None)
            out = self.app.export_root / uuid.uuid4().hex  # one folder per request
            out.mkdir()
            paths = [str(export_targets(rows, fmt, out / f"targets.{fmt}")) for fmt in ("csv", "xlsx")]
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        n_target = sum(t.性质 == "目标" for t in rows)
        count = (f"共 **{len(rows)}** 条（目标 {n_target} 条，实绩 "
                 f"{sum(t.性质 == '实绩' for t in rows)} 条，现状 "
                 f"{sum(t.性质 == '现状' for t in rows)} 条）· 列名旁 ⋮ 菜单可排序")
        return (table_rows(rows) or [[""] * len(COLUMNS)], count,
                *[gr.update(value=p, interactive=True) for p in paths])

    def open_tab(self, chapter, year, kind, query):
        """Tab opened: chapter choices from the index, then the current view."""
        return (gr.update(choices=self.chapter_choices()), *self.view(chapter, year, kind, query))

    def detail_for(self, row_value) -> str:
        """HTML for a clicked row (its display values): label, sentence, highlighted section."""
        if not row_value or not any(row_value):
            return DETAIL_PLACEHOLDER
        label, indicator, value, *_rest, sentence = [str(v) for v in row_value]
        for t in self.rows():
            if (t.label, t.指标, t.数值, t.sentence) == (label, indicator, value, sentence):
                section = self.app.backend.index.section(*t.ref.key)
                return (f"<h4>「{esc(t.label)}」</h4><p><b>{esc(t.指标)}</b>：{esc(t.数值)}{esc(t.单位)}"
                        f"{esc(t.修饰 and '（' + t.修饰 + '）')} · {esc(t.时间)} · {esc(t.性质)}</p>"
                        f"<div class='section-text'>{section_html(section, [(t.span, t.sentence)])}"
                        "</div>")
        return DETAIL_PLACEHOLDER

    def detail(self, evt: gr.SelectData) -> str:
        return self.detail_for(evt.row_value)


def build_targets_tab(app: App) -> TargetsTab:
    """Lay out the tab inside the current gr.Blocks and wire its events."""
    tab = TargetsTab(app)
    with gr.Tab("目标一览", id="targets") as tab_block:
        with gr.Row():
            chapter = gr.Dropdown([("全部章节", ALL)], value=ALL, label="章", scale=3)
            year = gr.Dropdown(YEARS, value=ALL, label="时间", scale=1)
            kind = gr.Radio(KIND_CHOICES, value=ALL, label="性质", scale=2)
            query = gr.Textbox(label="文本筛选", placeholder="如：5G、粮食、持证率", scale=2,
                               elem_id="targets-query")
        with gr.Row():
            count = gr.Markdown(elem_id="targets-count")
            downloads = [gr.DownloadButton(f"下载当前视图 {fmt}", size="sm", interactive=False)
                         for fmt in ("CSV", "xlsx")]
        table = gr.Dataframe(headers=list(COLUMNS), interactive=False, wrap=True, max_height=520,
                             column_widths=["16%", "16%", "7%", "6%", "6%", "6%", "5%", "38%"],
                             elem_id="targets-table", show_search="none")
        detail = gr.HTML(DETAIL_PLACEHOLDER, elem_id="targets-detail")
    filters = [chapter, year, kind, query]
    outputs = [table, count, *downloads]
    tab_block.select(tab.open_tab, filters, [chapter, *outputs], api_visibility="private")
    for f in (chapter, year, kind):
        f.change(tab.view, filters, outputs, api_visibility="private")
    query.submit(tab.view, filters, outputs, api_name="targets")
    table.select(tab.detail, None, detail, api_visibility="private")
    return tab
