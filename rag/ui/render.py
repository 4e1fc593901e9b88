"""HTML for the app: answers with their sources panel, section text with highlighted quotes,
the browse page, the status line, quiz previews and practice results, and the CSS they use.

Everything taken from the corpus or typed by a user is HTML-escaped here. The output is one
block per answer without blank lines, because the chat renders Markdown and a blank line would
end an HTML block.

Not handled here: Gradio wiring (rag.ui.handlers, rag.ui.layout) and anything that decides
content (rag.answering, rag.quiz).
"""

from __future__ import annotations

import html

from rag.corpus import Section
from rag.quiz import TYPE_NAMES, answer_text


CSS = """.gradio-container {max-width: 1200px !important; margin: auto;} #app-title h1 {margin-bottom: 0;}
#app-title p {color: var(--body-text-color-subdued); margin-top: 2px;} .sources details {margin: .25em 0;}
.sources {margin-top: .6em; border-top: 1px solid var(--border-color-primary); padding-top: .4em; font-size: .93em;}
.sources summary {cursor: pointer; font-weight: 600;}
.section-text {max-height: 22em; overflow-y: auto; padding: .5em .8em; margin-top: .3em; line-height: 1.7;
  background: var(--background-fill-secondary); border-left: 3px solid var(--color-accent);
  border-radius: 4px; white-space: normal;}
.section-text mark {background: #fde68a; color: #111; padding: 0 1px; border-radius: 2px;}
.notice {color: #b45309;} .answerer-line {font-size: .9em; color: var(--body-text-color-subdued);}
.quiz-item {margin: .8em 0; padding: .6em .9em; border: 1px solid var(--border-color-primary); border-radius: 8px;}
.quiz-ok {color: #15803d; font-weight: 600;} .quiz-bad {color: #b91c1c; font-weight: 600;}
"""
QUIZ_PLACEHOLDER = "<p>选择范围与题型后点击“生成题目”。</p>"


def esc(text) -> str:
    """HTML-escape text from the corpus or a user (quotes too)."""
    return html.escape(str(text), quote=True)


def section_html(section: Section, marks: list[tuple[tuple[int, int], str]] = ()) -> str:
    """The section text, escaped, with each (source span, quote) highlighted in <mark>."""
    text = section.text
    ranges = []
    for span, quote in marks:
        a = section.text_offset(span[0]) if span else None
        b = a + (span[1] - span[0]) if a is not None else None
        if a is None or text[a:b] != quote:  # spans are the contract; fall back to the quote
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
    return "<br>".join(line for line in body.splitlines() if line.strip())


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


def section_page_html(section: Section) -> str:
    """The browse tab's page: heading path, citation label, source line and full text."""
    heading = esc(section.heading_path).replace(" &gt; ", " › ")
    return (f"<h3>{heading}</h3><p class='answerer-line'>引用格式：「{esc(section.label)}」"
            f"（原文第 {section.line} 行）</p><div class='section-text' style='max-height:none'>"
            f"{section_html(section)}</div>")


def type_tag(item) -> str:
    """「【单选】」 for a quiz item (the preview and the practice labels)."""
    return f"【{TYPE_NAMES.get(item.type, item.type)}】"


def _details(summary: str, body: str) -> str:
    return (f"<details><summary>{summary}</summary>"
            f"<div class='section-text'>{body}</div></details>")


def sources_html(answer, index) -> str:
    """The sources panel: one expandable entry per cited section, quotes highlighted."""
    groups: dict[tuple, list] = {}
    for c in answer.citations:
        groups.setdefault(c.key, []).append(c)
    parts = []
    for key, cites in groups.items():
        try:
            section = index.section(*key)
        except KeyError:
            continue
        nums = "".join(f"[{c.n}]" for c in cites)
        body = section_html(section, [(tuple(c.span), c.quote) for c in cites])
        parts.append(_details(f"{nums} 「{esc(section.label)}」", body))
    if not parts:
        return ""
    return "<div class='sources'><b>引用出处</b>（点击展开原文，高亮为引用句）" + "".join(parts) + "</div>"


def related_html(answer, index) -> str:
    """For a refusal: the nearest sections as 可能相关, each expandable to its text."""
    parts = []
    for h in answer.hits[:5]:
        try:
            section = index.section(*h.key)
        except KeyError:
            continue
        parts.append(_details(f"「{esc(section.label)}」", section_html(section, [(h.span, h.text)])))
    if not parts:
        return ""
    return "<div class='sources'><b>可能相关章节原文</b>（点击展开）" + "".join(parts) + "</div>"


def render_answer(answer, index) -> str:
    """An Answer as chat Markdown: notice, escaped text, then the sources or 可能相关 panel."""
    out = []
    if answer.notice:
        out.append(f"<span class='notice'>⚠ {esc(answer.notice)}</span>")
    out.append(esc(answer.text))
    panel = related_html(answer, index) if answer.refused else sources_html(answer, index)
    if panel:
        out.append(panel)
    return "\n\n".join(out)


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
