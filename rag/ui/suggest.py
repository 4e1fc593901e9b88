"""Suggested follow-up questions under an answer, from the cited sections' other points.

The nearest sections of the same chapter give 「<节标题>有哪些举措？」 (first: such questions
get the section's content back); then the plan's paragraphs, which open with a short heading
sentence (「强化企业创新主体地位。」): those of a cited section that the answer did not quote
give 「强化企业创新主体地位有哪些举措？」. A refusal gets none (its card lists 可能相关 sections).
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

    if answer.refused:  # nothing cited; the card already lists the nearest sections
        return picks
    keys = list(dict.fromkeys(tuple(c.key) for c in answer.citations))
    # the neighbouring sections of the first cited one first: a question naming a section's
    # title gets that section's content, while one naming a paragraph heading tends to get
    # only the heading sentence back from the extractive answerer
    if keys:
        doc, ch, sec = keys[0]
        near = [s for s in index.sections if s.doc_id == doc and s.chapter == ch and s.section
                and s.section_title and (doc, ch, s.section) not in keys]
        for s in sorted(near, key=lambda s: (abs(s.section - sec), s.section < sec))[:2]:
            add(_ask(s.section_title))
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
        first = min(quoted, default=0)
        others = [(p > first, h) for i, (p, h) in enumerate(heads) if i not in this]
        for _, head in sorted(others, key=lambda x: not x[0]):  # the points after the quote first
            add(_ask(head))
    return picks
