"""HTML for the app: section text with highlighted quotes, the browse page (table of contents,
a section with the notice's metadata once as a small header), the status line, quiz previews
and practice results. Answer cards are in rag.ui.answer_view, the CSS in rag.ui.style.

Everything taken from the corpus or typed by a user is HTML-escaped here. The output is one
block per answer without blank lines, because the chat renders Markdown and a blank line would
end an HTML block.

Not handled here: Gradio wiring (rag.ui.handlers, rag.ui.layout) and anything that decides
content (rag.answering, rag.quiz).
"""

from __future__ import annotations

import html
import re

from rag.corpus import Section, chapter_label, int_to_cn
from rag.quiz import TYPE_NAMES, answer_text


QUIZ_PLACEHOLDER = "<p>选择范围与题型后点击“生成题目”。</p>"


def esc(text) -> str:
    """HTML-escape text from the corpus or a user (quotes too)."""
    return html.escape(str(text), quote=True)


def section_html(section: Section, marks: list[tuple[tuple[int, int], str]] = (),
                 skip_lines: int = 0) -> str:
    """The section text, escaped, with each (source span, quote) highlighted in <mark>;
    the first ``skip_lines`` non-empty lines left out (the notice's metadata block)."""
    text = section.text
    ranges = []
    for span, quote in marks:
        a = section.text_offset(span[0]) if span else None
        b = a + (span[1] - span[0]) if a is not None else None
        if a is None or (quote and text[a:b] != quote):  # spans are the contract; else the quote
            a = text.find(quote) if quote else -1
            b = a + len(quote)
        if a >= 0 and b > a:
            ranges.append((a, b))
    out, pos = [], 0
    for a, b in sorted(ranges):
        if a < pos:  # overlapping quotes: the first one already covers this part
            a = pos
        if b <= a:
            continue
        out += [esc(text[pos:a]), "<mark>", esc(text[a:b]), "</mark>"]
        pos = b
    out.append(esc(text[pos:]))
    body = "".join(out).strip()
    # one line, no blank lines: the chat renders Markdown, where a blank line ends an HTML block
    lines = [line for line in body.splitlines() if line.strip()]
    return "<br>".join(lines[skip_lines:])


_META = re.compile(r"^[^:：。,，]{1,12}[:：]")  # 「发文机关: 山西省人民政府」 lines of a web page copy


def metadata_lines(section: Section, look: int = 24) -> int:
    """How many leading non-empty lines of the preamble are the web page's metadata block."""
    if section.chapter != 0:
        return 0
    lines = [line for line in section.text.splitlines() if line.strip()][:look]
    last = max((i for i, line in enumerate(lines) if _META.match(line.strip())), default=-1)
    return last + 1


def warning_html(message: str) -> str:
    """A failure shown in place of an answer or the status line: ⚠ and the escaped message."""
    return f"⚠ {esc(message)}"


def streaming_html(text: str) -> str:
    """The answer so far while it streams, with a cursor."""
    return esc(text) + " ▌"


def index_status_html(answerer: str, manifest) -> str:
    """The status line once loaded: answerer, section count and build time of the index."""
    return (f"<span class='answerer-line'>回答方式：**{esc(answerer)}**"
            f" · 索引 {manifest.counts.get('sections', '?')} 节 · 构建于 {esc(manifest.created)}</span>")


def doc_header_html(doc: dict) -> str:
    """The notice's metadata once, small: title, issuer, number and date."""
    parts = [doc.get(k) for k in ("issuer", "number", "date_published") if doc.get(k)]
    return (f"<div class='doc-header'>《{esc(doc.get('title', ''))}》<br>"
            f"{esc(' · '.join(parts))}</div>")


def section_page_html(section: Section, marks=(), doc: dict | None = None) -> str:
    """The browse tab's page: heading path, citation label, source line and full text
    (quotes in ``marks`` highlighted); the preamble shows the notice's metadata as a header."""
    heading = esc(section.heading_path).replace(" &gt; ", " › ")
    header = doc_header_html(doc) if doc and section.chapter == 0 else ""
    return (f"<h3>{heading}</h3>{header}<p class='meta-line'>引用格式：「{esc(section.label)}」"
            f"（原文第 {section.line} 行）</p><div class='section-text'>"
            f"{section_html(section, marks, metadata_lines(section))}</div>")


def toc_html(sections: list[Section], href) -> str:
    """The table of contents: each chapter and section a link (``href(section)``)."""
    out, chapter = ["<div class='toc'><h3>目录</h3>"], None
    for s in sections:
        link = f"<a class='goto' href='{esc(href(s))}'>"
        if s.chapter != chapter:
            if chapter is not None:
                out.append("</ol>")
            chapter = s.chapter
            out.append(f"<div class='toc-ch'>{link}{esc(chapter_label(s.chapter, s.chapter_title))}"
                       f"</a></div><ol>")
        if s.section:
            out.append(f"<li>{link}第{int_to_cn(s.section)}节 {esc(s.section_title)}</a></li>")
    out.append("</ol></div>")
    return "".join(out)


def type_tag(item) -> str:
    """「【单选】」 for a quiz item (the preview and the practice labels)."""
    return f"【{TYPE_NAMES.get(item.type, item.type)}】"


def quiz_preview_html(items) -> str:
    """Numbered items with options; answer, explanation and source folded under each."""
    rows = []
    for i, it in enumerate(items, 1):
        opts = "".join(f"<div>{chr(65 + j)}. {esc(o)}</div>" for j, o in enumerate(it.options)) \
            if it.type != "judge" else ""
        change = f"<div>改动：{esc(it.change)}</div>" if getattr(it, "change", "") else ""
        rows.append(
            f"<div class='quiz-item'><b>{i}. {type_tag(it)}</b>{esc(it.stem)}"
            f"{opts}<details><summary>答案与出处</summary><div>答案：<b>{esc(answer_text(it))}</b></div>"
            f"{change}<div>原文：{esc(it.explanation)}</div><div>出处：{esc(it.citation)}</div></details></div>")
    return f"<p>共 {len(items)} 题</p>" + "".join(rows)


def practice_result_html(items, given: dict, score: int, results: list[dict]) -> str:
    """The score and, per item, right/wrong, the correct answer, explanation and source."""
    rows = []
    for i, (it, r) in enumerate(zip(items, results), 1):
        mine = given.get(it.id) or "（未作答）"
        mark = ("<span class='quiz-ok'>✓ 正确</span>" if r["correct"]
                else "<span class='quiz-bad'>✗ 错误</span>")
        rows.append(f"<div class='quiz-item'><b>{i}.</b> {esc(it.stem)}<br>{mark} 你的答案：{esc(mine)}"
                    f" · 正确答案：<b>{esc(answer_text(it))}</b><br>解析：{esc(it.explanation)}"
                    f"<br>出处：{esc(it.citation)}</div>")
    pct = 100 * score / max(1, len(items))
    return f"<h3>得分：{pct:.0f} 分（{score}/{len(items)} 题正确）</h3>" + "".join(rows)
