"""Find a plan's headings: 第X篇/第X章/第X节, or 一、/（一） numbering, and its table of contents.

Two numbering styles are recognised, one per document:

- ``章节`` (the provincial and national plans): 第X篇 → 第X章 → 第X节. 篇 are optional; chapters
  are numbered through the whole document (as the national outline does), sections restart
  in every chapter.
- ``条目`` (special plans without 第X章): 一、 plays the chapter, （一） the section. A
  （一） heading may run into its paragraph (「（一）指导思想。以……」): its title is the text
  before the first 。. Sections may restart in every 一、 or run on through the document.

A document with any 第X章 heading is read in the first style, so 一、 lists inside its body
stay body text. A heading is a short line (at most 40 characters of title) without 。.

The table of contents starts at a line 目录 and ends where its first entry appears a
second time (the body's first heading). It is located here and cross-checked by the caller.

Not handled here: building sections (corpus.py), reading files (readers/).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.errors import CorpusError

# Spaces seen around headings in published files: ASCII, NBSP, EN/EM SPACE, ideographic.
SPACE = " \t\u00a0\u2002\u2003\u3000"
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_NUM = "[零〇一二两三四五六七八九十百]+"
_HEADING = re.compile(
    rf"^[{SPACE}]*第(?P<num>{_NUM})(?P<kind>[篇章节])"
    rf"[{SPACE}]*(?P<title>[^{SPACE}].*?)[{SPACE}]*$")
_ITEM = re.compile(rf"^[{SPACE}]*(?P<num>{_NUM})[、．.][{SPACE}]*(?P<title>[^{SPACE}].*?)[{SPACE}]*$")
_SUBITEM = re.compile(
    rf"^[{SPACE}]*[（(](?P<num>{_NUM})[）)][{SPACE}]*(?P<title>[^{SPACE}].*?)[{SPACE}]*$")
_TOC_MARK = re.compile(rf"^[{SPACE}]*目[{SPACE}]*录[{SPACE}]*$")
MAX_TITLE = 40
CHAPTERS = "章节"  # numbering style names, stored with every section
ITEMS = "条目"


def cn_to_int(text: str) -> int:
    """Convert a Chinese numeral below 1000 (一, 十四, 二十三, 一百零五) to an int."""
    if not text or any(ch not in _CN_DIGITS and ch not in "十百" for ch in text):
        raise ValueError(f"not a Chinese numeral: {text!r}")
    total, digit = 0, None
    for ch in text:
        if ch == "百":
            total += (digit if digit is not None else 1) * 100
            digit = None
        elif ch == "十":
            total += (digit if digit is not None else 1) * 10
            digit = None
        else:
            digit = _CN_DIGITS[ch]
    return total + (digit or 0)


def int_to_cn(n: int) -> str:
    """Inverse of :func:`cn_to_int` for 0 < n < 100 (the range headings use)."""
    digits = "零一二三四五六七八九"
    if not 0 < n < 100:
        raise ValueError(f"out of range: {n}")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return digits[ones]
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def cn(n: int) -> str:
    return int_to_cn(n) if 0 < n < 100 else str(n)


@dataclass(frozen=True)
class Head:
    """One heading line: offset of its line start, 1-based line, level, number, title."""

    offset: int
    line: int
    kind: str  # 篇, 章 or 节 (一、 is a 章 and （一） a 节 in the 条目 style)
    num: int
    title: str


def head_name(kind: str, num: int, style: str = CHAPTERS) -> str:
    """「第三章」, or 「三、」/「（三）」 in the 条目 style."""
    if style == ITEMS:
        return f"{cn(num)}、" if kind == "章" else f"（{cn(num)}）"
    return f"第{cn(num)}{kind}"


def _short(title: str) -> bool:
    return len(title) <= MAX_TITLE and "。" not in title


def _run_in(title: str) -> str | None:
    """「指导思想。以……」 → 「指导思想」; None when the line is not a heading."""
    if _short(title):
        return title
    cut = title.find("。")
    return title[:cut].rstrip(SPACE) if 0 < cut <= MAX_TITLE else None


def find_headings(text: str) -> tuple[str, list[Head]]:
    """The numbering style and every heading-like line of ``text``."""
    lines, offset = [], 0
    for no, line in enumerate(text.split("\n"), start=1):
        lines.append((offset, no, line))
        offset += len(line) + 1
    out = []
    for offset, no, line in lines:
        m = _HEADING.match(line)
        if m and _short(m["title"]):
            out.append(Head(offset, no, m["kind"], cn_to_int(m["num"]), m["title"]))
    if any(h.kind == "章" for h in out):
        return CHAPTERS, out
    out = []
    for offset, no, line in lines:
        m = _ITEM.match(line)
        if m and _short(m["title"]):
            out.append(Head(offset, no, "章", cn_to_int(m["num"]), m["title"]))
            continue
        m = _SUBITEM.match(line)
        title = _run_in(m["title"]) if m else None
        if title:
            out.append(Head(offset, no, "节", cn_to_int(m["num"]), title))
    return ITEMS, out


def toc_block(text: str, heads: list[Head]) -> tuple[int, int, list[Head]] | None:
    """Locate the TOC: (start offset, end offset, its headings) or None if there is none."""
    mark, offset = None, 0
    for line in text.split("\n"):
        if _TOC_MARK.match(line):
            mark = offset
            break
        offset += len(line) + 1
    if mark is None:
        return None
    entries = [h for h in heads if h.offset > mark]
    if not entries:
        return None
    first = entries[0]
    again = [i for i, h in enumerate(entries) if (h.kind, h.num) == (first.kind, first.num)]
    if len(again) < 2:
        return None
    toc = entries[: again[1]]
    last = toc[-1].offset
    end = text.index("\n", last) + 1 if "\n" in text[last:] else len(text)
    while end < len(text) and text[end] == "\n":  # the blank lines that close the TOC block
        end += 1
    return mark, end, toc


def check_order(path: str, heads: list[Head], style: str) -> None:
    """篇 and chapters 1, 2, 3… through the document; sections 1, 2, 3… in each chapter
    (or, in the 条目 style, running on from the previous chapter's last section)."""
    part = chapter = section = 0
    last_section = 0
    for h in heads:
        name = f"{head_name(h.kind, h.num, style)}「{h.title}」"
        if h.kind == "篇":
            if h.num != part + 1:
                raise CorpusError(f"篇标题{'重复' if h.num <= part else '顺序错乱'}：{name}",
                                  file=path, line=h.line)
            part = h.num
        elif h.kind == "章":
            if h.num != chapter + 1:
                what = "重复" if h.num <= chapter else "顺序错乱（缺少前一章）"
                if h.num == 1 and part > 1:
                    what = "在各篇中重新编号（章号须全文连续）"
                prev = head_name("章", chapter, style)
                raise CorpusError(f"章标题{what}：{name}，上一章是{prev}", file=path, line=h.line)
            chapter, last_section, section = h.num, section or last_section, 0
        else:
            if chapter == 0:
                raise CorpusError(f"节标题出现在第一章之前：「{h.title}」", file=path, line=h.line)
            ok = h.num == section + 1 or (style == ITEMS and section == 0
                                         and h.num == last_section + 1)
            if not ok:
                what = "重复" if h.num <= section else "顺序错乱（缺少前一节）"
                raise CorpusError(f"{head_name('章', chapter, style)}内节标题{what}：{name}",
                                  file=path, line=h.line)
            section = h.num
