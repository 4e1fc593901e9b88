"""An answer as one HTML card for the chat: notice, the direct-answer line, the answer text
with clickable ``[n]`` markers, the sources (once: 「第X章 第Y节 标题」, the quoted sentence
highlighted in a few lines of context, 「在规划中查看」) and the suggested follow-ups.

Everything from the corpus or a user is escaped. The card is one HTML block without blank
lines, because the chat renders Markdown and a blank line would end an HTML block. Links
carry their action in the fragment (``#cite=n``, ``#goto=…``, ``#ask=…``: the chat's HTML
sanitizer keeps href and class, not data attributes); the page script (rag.ui.style) acts on them.

Not handled here: what the answer says (rag.answering), the follow-up choice (rag.ui.suggest),
the browse page the goto link opens (rag.ui.handlers, rag.ui.render).
"""

from __future__ import annotations

import re
from urllib.parse import quote as urlquote

from rag.citations import MARKER
from rag.ui.render import esc

_SOURCES_BLOCK = re.compile(r"\n\s*来源[:：][\s\S]*$")  # the plain 来源 list ending answer.text
_ENDS = "。！？；!?;\n"
CONTEXT_CHARS = 70  # at most this much text either side of a quote


def goto_value(doc_id: str, chapter: int, section: int, span=None) -> str:
    """The goto payload: doc|chapter|section|start|end (span optional)."""
    a, b = (span or ("", ""))[:2]
    return f"{doc_id}|{chapter}|{section}|{a}|{b}"


def body_text(text: str, direct: str | None = None) -> str:
    """The answer text without its trailing plain 来源 list (the card shows the sources) and
    without a leading copy of the direct-answer line (the card shows that apart)."""
    body = _SOURCES_BLOCK.sub("", text or "").strip()
    if direct and body.startswith(direct.strip()):
        body = body[len(direct.strip()):].strip()
    return body


def _sentence_start(text: str, pos: int) -> int:
    """Start of the sentence before the one starting at ``pos``."""
    prev_end = max(text.rfind(ch, 0, max(0, pos - 1)) for ch in _ENDS)
    return prev_end + 1


def _sentence_end(text: str, pos: int) -> int:
    """End of the sentence after the one ending at ``pos``."""
    ends = [i for i in (text.find(ch, pos + 1) for ch in _ENDS) if i >= 0]
    return min(ends) + 1 if ends else len(text)


def quote_context(section, span, quote: str) -> str:
    """The quote highlighted with one sentence of context either side (clipped), escaped."""
    text = section.text
    a = section.text_offset(span[0]) if span else None
    if a is None or text[a:a + len(quote)] != quote:
        a = text.find(quote)
    if a < 0:
        return f"<mark>{esc(quote)}</mark>"
    b = a + len(quote)
    lo, hi = _sentence_start(text, a), _sentence_end(text, b)
    left, right = text[lo:a].lstrip(), text[b:hi].rstrip()
    if len(left) > CONTEXT_CHARS:
        left = "…" + left[-CONTEXT_CHARS:]
    if len(right) > CONTEXT_CHARS:
        right = right[:CONTEXT_CHARS] + "…"
    flat = lambda s: " ".join(s.split())  # noqa: E731
    return f"{esc(flat(left))}<mark>{esc(flat(quote))}</mark>{esc(flat(right))}"


def action_href(action: str, value) -> str:
    """``#goto=…`` / ``#ask=…`` / ``#cite=n``: the value percent-encoded (the script decodes)."""
    return f"#{action}={urlquote(str(value), safe='|')}"


def goto_link(section, span=None, text="在规划中查看 ›") -> str:
    value = goto_value(section.doc_id, section.chapter, section.section, span)
    return f"<a class='goto' href='{action_href('goto', value)}'>{text}</a>"


def _entry(section, nums: list[int], contexts: list[str], span) -> str:
    tags = "".join(f" n{n}" for n in nums)
    ctx = "".join(f"<div class='src-context'>{c}</div>" for c in contexts)
    num = "".join(f"[{n}]" for n in nums)
    return (f"<div class='src{tags}'><span class='src-n'>{num}</span>"
            f"<span class='src-label'>「{esc(section.label)}」</span>{ctx}"
            f"{goto_link(section, span)}</div>")


def sources_html(citations, index) -> str:
    """One entry per cited section: label, each quote in context, the goto link."""
    groups: dict[tuple, list] = {}
    for c in citations:
        groups.setdefault(tuple(c.key), []).append(c)
    parts = []
    for key, cites in groups.items():
        try:
            section = index.section(*key)
        except KeyError:
            continue
        contexts = [quote_context(section, c.span, c.quote) for c in cites]
        parts.append(_entry(section, [c.n for c in cites], contexts, cites[0].span))
    if not parts:
        return ""
    return "<div class='sources'><div class='src-title'>来源</div>" + "".join(parts) + "</div>"


def related_html(hits, index) -> str:
    """For a refusal: the nearest sections as 可能相关, each with its best sentence."""
    parts = []
    for h in hits[:3]:
        try:
            section = index.section(*h.key)
        except KeyError:
            continue
        parts.append(_entry(section, [], [quote_context(section, h.span, h.text)], h.span))
    if not parts:
        return ""
    return ("<div class='sources'><div class='src-title'>可能相关的章节</div>"
            + "".join(parts) + "</div>")


def _marked(text: str, numbers: set[int]) -> str:
    """Escaped answer text, ``[n]`` as links to source n, newlines as <br>."""
    out = MARKER.sub(lambda m: (f"<a class='cite' href='#cite={m.group(1)}'>[{m.group(1)}]</a>"
                                if int(m.group(1)) in numbers else m.group(0)), esc(text))
    return "<br>".join(line for line in out.splitlines() if line.strip())


def followups_html(questions: list[str]) -> str:
    if not questions:
        return ""
    links = "".join(f"<a class='ask' href='{action_href('ask', q)}'>{esc(q)}</a>" for q in questions)
    return f"<div class='followups'><span class='fu-title'>接着问：</span>{links}</div>"


def render_answer(answer, index, followups: list[str] = ()) -> str:
    """The whole card for one answer (see the module docstring)."""
    out = ["<div class='answer'>"]
    if answer.notice:
        out.append(f"<div class='notice'>⚠ {esc(answer.notice)}</div>")
    direct = getattr(answer, "direct", None)
    if direct and not answer.refused:
        out.append(f"<div class='direct'>{_marked(direct, {c.n for c in answer.citations})}</div>")
    body = body_text(answer.text, direct if not answer.refused else None)
    out.append(f"<div class='body'>{_marked(body, {c.n for c in answer.citations})}</div>")
    out.append(related_html(answer.hits, index) if answer.refused
               else sources_html(answer.citations, index))
    out.append(followups_html(list(followups)))
    out.append("</div>")
    return "".join(out)
