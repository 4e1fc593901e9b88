"""Suggested follow-up questions under an answer, from the cited sections' other points.

The plan's paragraphs open with a short heading sentence (「强化企业创新主体地位。」); the
paragraphs of a cited section that the answer did not quote give questions like
「强化企业创新主体地位有哪些举措？」, and the next section of the same chapter gives
「<节标题>有哪些举措？」. For a refusal the nearest sections' titles are offered instead.
General rules over the section text; no hand-written list.

Not handled here: answering them (a click asks the question like a typed one).
"""

from __future__ import annotations

import re

MAX_HEAD = 18  # a paragraph's opening sentence this short (characters) is its heading
_HEAD = re.compile(r"^\s*([^。！？；\n]{4,%d})。" % MAX_HEAD)
_NUMBERING = re.compile(r"^[（(][一二三四五六七八九十\d]+[)）]\s*")


def _ask(topic: str) -> str:
    return f"{topic}有哪些举措？"


def paragraph_heads(section) -> list[tuple[int, str]]:
    """(offset in section.text, heading) for each paragraph that opens with a short sentence."""
    out, pos = [], 0
    for line in section.text.splitlines(keepends=True):
        m = _HEAD.match(_NUMBERING.sub("", line.strip()))
        if m and not line.lstrip().startswith("第"):
            out.append((pos, m.group(1).strip()))
        pos += len(line)
    return out


def _quoted_offsets(section, citations) -> list[int]:
    offsets = []
    for c in citations:
        a = section.text_offset(c.span[0]) if c.span else None
        offsets.append(a if a is not None else max(0, section.text.find(c.quote)))
    return offsets


def suggest_followups(answer, index, n: int = 3) -> list[str]:
    """Two or three follow-up questions for ``answer`` (none when nothing fits)."""
    asked = answer.standalone or answer.question or ""
    picks: list[str] = []

    def add(q: str) -> None:
        if q not in picks and q.rstrip("？?") not in asked and len(picks) < n:
            picks.append(q)

    if answer.refused:
        for h in answer.hits[:n]:
            title = h.ref.section_title or h.ref.chapter_title
            if title:
                add(_ask(title))
        return picks
    keys = list(dict.fromkeys(tuple(c.key) for c in answer.citations))
    for key in keys:
        try:
            section = index.section(*key)
        except KeyError:
            continue
        cites = [c for c in answer.citations if tuple(c.key) == key]
        quoted = _quoted_offsets(section, cites)
        heads = paragraph_heads(section)
        # the paragraph holding a quote is "this point"; the others are the section's other points
        starts = [p for p, _ in heads] + [len(section.text) + 1]
        this = {i for i, p in enumerate(starts[:-1]) for q in quoted if p <= q < starts[i + 1]}
        after = [h for i, (p, h) in enumerate(heads) if i not in this and p > min(quoted, default=0)]
        before = [h for i, (p, h) in enumerate(heads) if i not in this and p <= min(quoted, default=0)]
        for head in (after + before)[:2]:
            add(_ask(head))
    if keys and len(picks) < n:
        doc, ch, sec = keys[0]
        for s in index.sections:
            if s.doc_id == doc and s.chapter == ch and s.section == sec + 1 and s.section_title:
                add(_ask(s.section_title))
    return picks
