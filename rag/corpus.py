"""Parse plan documents into chapters and sections.

Reads ``corpus/corpus.toml`` (one ``[[documents]]`` entry per file) and splits each file's
body into :class:`Section` records: chapter 0 section 0 is the notice and preamble before
第一章, section 0 of a chapter is its intro before 第一节. The table of contents (目录) is
read only to cross-check the body's headings and is not part of any section.

Invariant (tested on the real plan): the sections' texts, concatenated in order, equal the
file with the table-of-contents block removed — no character lost or duplicated.

Not handled here: chunking, any normalisation of the text (it is kept byte-exact so that
character spans point into the original file).
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rag.errors import CorpusError

# Spaces seen around headings in the published file: ASCII, NBSP, EN SPACE, ideographic.
_SPACE = " \t\u00a0\u2002\u2003\u3000"
_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4,
              "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_HEADING = re.compile(
    rf"^[{_SPACE}]*第(?P<num>[零〇一二两三四五六七八九十百]+)(?P<kind>[章节])"
    rf"[{_SPACE}]*(?P<title>[^{_SPACE}].*?)[{_SPACE}]*$"
)
_TOC_MARK = re.compile(rf"^[{_SPACE}]*目[{_SPACE}]*录[{_SPACE}]*$")
# A heading line is short and never a sentence; body lines that merely start with
# 「第三节…」 would end in 。 or be long.
_MAX_TITLE = 40
MAX_FILE_BYTES = 20 * 1024 * 1024


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


def _cn(n: int) -> str:
    return int_to_cn(n) if 0 < n < 100 else str(n)


@dataclass(frozen=True)
class DocumentInfo:
    """One entry of corpus.toml."""

    id: str
    title: str
    file: Path
    issuer: str = ""
    number: str = ""
    date_written: str = ""
    date_published: str = ""


@dataclass(frozen=True)
class Section:
    """A numbered section, a chapter intro (section 0) or the preamble (chapter 0).

    ``parts`` are ``(start, end)`` character offsets into the source file; ``text`` is the
    concatenation of those slices. Only the preamble has two parts (the TOC lies between).
    """

    doc_id: str
    chapter: int
    chapter_title: str
    section: int
    section_title: str
    text: str
    parts: tuple[tuple[int, int], ...]
    line: int  # 1-based line of the heading (or of the first character for chapter 0)

    @property
    def ref(self) -> "SectionRef":
        return SectionRef(self.doc_id, self.chapter, self.chapter_title, self.section,
                          self.section_title)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc_id, self.chapter, self.section)

    @property
    def span(self) -> tuple[int, int]:
        return (self.parts[0][0], self.parts[-1][1])

    def text_offset(self, pos: int) -> int | None:
        """Offset in ``text`` of file offset ``pos`` (None if outside the section's parts)."""
        acc = 0
        for start, end in self.parts:
            if start <= pos <= end:
                return acc + pos - start
            acc += end - start
        return None

    def slice(self, start: int, end: int) -> str:
        """The section's own text between two file offsets (the TOC gap is skipped)."""
        return "".join(self.text[self.text_offset(max(a, start)):self.text_offset(min(b, end))]
                       for a, b in self.parts if max(a, start) < min(b, end))

    @property
    def label(self) -> str:
        """Citation label: 「第二章 第三节 培育一流创新主体」 without the corner brackets."""
        return self.ref.label

    @property
    def heading_path(self) -> str:
        """``章标题 > 节标题`` as stored in chunk metadata."""
        chapter = chapter_label(self.chapter, self.chapter_title)
        if self.chapter == 0 or self.section == 0:
            return chapter
        return f"{chapter} > 第{int_to_cn(self.section)}节 {self.section_title}"


@dataclass(frozen=True)
class SectionRef:
    """The one way to name a section: document, numbers, titles and the citation label.

    Carried by chunks, hits, citations and quiz items (``.ref``); ``key`` is the
    ``(doc_id, chapter, section)`` triple used to look a section up everywhere.
    """

    doc_id: str
    chapter: int
    chapter_title: str
    section: int
    section_title: str

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc_id, self.chapter, self.section)

    @property
    def label(self) -> str:
        """「第二章 第三节 培育一流创新主体」 without the corner brackets."""
        return section_label(self.chapter, self.chapter_title, self.section, self.section_title)

    def to_json(self) -> dict:
        return {"doc_id": self.doc_id, "chapter": self.chapter,
                "chapter_title": self.chapter_title, "section": self.section,
                "section_title": self.section_title}


def chapter_label(chapter: int, chapter_title: str) -> str:
    """「第二章 创新驱动」; the preamble (chapter 0) is its title alone."""
    return chapter_title if chapter == 0 else f"第{int_to_cn(chapter)}章 {chapter_title}"


def section_label(chapter: int, chapter_title: str, section: int, section_title: str) -> str:
    """Human label for a (chapter, section) pair, used in every citation."""
    if chapter == 0:
        return chapter_title
    if section == 0:
        return f"{chapter_label(chapter, chapter_title)}（章首）"
    return f"第{int_to_cn(chapter)}章 第{int_to_cn(section)}节 {section_title}"


PREAMBLE_TITLE = "通知及序言"


@dataclass(frozen=True)
class Document:
    """A parsed document: its metadata, full text and ordered sections."""

    info: DocumentInfo
    text: str
    sections: tuple[Section, ...]
    toc: tuple[tuple[int, int, str], ...] = field(default=())  # (chapter, section, title)

    @property
    def id(self) -> str:
        return self.info.id

    @cached_property
    def body(self) -> str:
        """The file without its table-of-contents block."""
        return "".join(s.text for s in self.sections)

    @cached_property
    def content_hash(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def section(self, chapter: int, section: int) -> Section:
        """Look a section up by its numbers; KeyError if absent."""
        for s in self.sections:
            if s.chapter == chapter and s.section == section:
                return s
        raise KeyError((chapter, section))

    def chapters(self) -> dict[int, str]:
        """``{chapter number: chapter title}`` in order, preamble included as 0."""
        return {s.chapter: s.chapter_title for s in self.sections}


@dataclass(frozen=True)
class Corpus:
    """All documents of a corpus folder, in corpus.toml order."""

    documents: tuple[Document, ...]

    @property
    def sections(self) -> list[Section]:
        return [s for d in self.documents for s in d.sections]

    @cached_property
    def content_hash(self) -> str:
        h = hashlib.sha256()
        for d in self.documents:
            h.update(d.id.encode())
            h.update(d.content_hash.encode())
        return h.hexdigest()


# ---------------------------------------------------------------- reading


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def read_text(path: Path) -> str:
    """Read a UTF-8 file, turning every failure into a CorpusError naming the file and line."""
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise CorpusError(f"无法读取文件：{exc.strerror}", file=str(path)) from None
    if size > MAX_FILE_BYTES:
        raise CorpusError(f"文件过大（{size} 字节，上限 {MAX_FILE_BYTES}），不像是一份规划文本",
                          file=str(path))
    try:
        data = path.read_bytes()
    except OSError as exc:  # a folder where the file should be, permissions
        raise CorpusError(f"无法读取文件：{exc.strerror}", file=str(path)) from None
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CorpusError(f"不是 UTF-8 编码（第 {exc.start} 字节附近），请先转换为 UTF-8",
                          file=str(path), line=line) from None
    if "\x00" in text:
        raise CorpusError("文件含 NUL 字符，像是二进制文件", file=str(path),
                          line=_line_of(text, text.index("\x00")))
    if not text.strip():
        raise CorpusError("文件为空", file=str(path))
    return text


def _headings(text: str) -> list[tuple[int, int, str, int, str]]:
    """All heading-like lines: (line_start_offset, line_no, kind, number, title)."""
    out = []
    offset = 0
    for no, line in enumerate(text.split("\n"), start=1):
        m = _HEADING.match(line)
        if m and len(m["title"]) <= _MAX_TITLE and "。" not in m["title"]:
            out.append((offset, no, m["kind"], cn_to_int(m["num"]), m["title"]))
        offset += len(line) + 1
    return out


def _toc_block(text: str, heads: list) -> tuple[int, int, list] | None:
    """Locate the TOC: (start offset, end offset, its headings) or None if there is none."""
    mark = None
    offset = 0
    for line in text.split("\n"):
        if _TOC_MARK.match(line):
            mark = offset
            break
        offset += len(line) + 1
    if mark is None:
        return None
    entries = [h for h in heads if h[0] > mark]
    # The TOC ends where chapter numbering restarts: the second 第一章.
    firsts = [i for i, h in enumerate(entries) if h[2] == "章" and h[3] == 1]
    if len(firsts) < 2:
        return None
    toc = entries[: firsts[1]]
    last = toc[-1][0]
    end = text.index("\n", last) + 1 if "\n" in text[last:] else len(text)
    # swallow the blank lines that close the TOC block
    while end < len(text) and text[end] == "\n":
        end += 1
    return mark, end, toc


def parse_document(info: DocumentInfo, text: str | None = None) -> Document:
    """Parse one document file into sections, cross-checked against its TOC.

    Raises:
        CorpusError: empty, undecodable, no headings, headings duplicated or out of order,
            or a TOC entry missing from the body; the message names the file and line.
    """
    path = str(info.file)
    if text is None:
        text = read_text(info.file)
    heads = _headings(text)
    toc_found = _toc_block(text, heads)
    if toc_found:
        toc_start, toc_end, toc_heads = toc_found
        body_heads = [h for h in heads if h[0] >= toc_end]
    else:
        toc_start = toc_end = 0
        toc_heads = []
        body_heads = heads
    if not any(h[2] == "章" for h in body_heads):
        raise CorpusError("正文中没有找到任何章标题（第一章……），无法切分", file=path)

    # validate order: chapters 1,2,3…; sections 1,2,3… restarting in each chapter
    chapter, section = 0, 0
    for _, line, kind, num, title in body_heads:
        if kind == "章":
            if num != chapter + 1:
                what = "重复" if num <= chapter else "顺序错乱（缺少前一章）"
                raise CorpusError(f"章标题{what}：第{_cn(num)}章「{title}」，上一章是第{_cn(chapter)}章",
                                  file=path, line=line)
            chapter, section = num, 0
        else:
            if chapter == 0:
                raise CorpusError(f"节标题出现在第一章之前：「{title}」", file=path, line=line)
            if num != section + 1:
                what = "重复" if num <= section else "顺序错乱（缺少前一节）"
                raise CorpusError(f"第{_cn(chapter)}章内节标题{what}：第{_cn(num)}节「{title}」",
                                  file=path, line=line)
            section = num

    sections: list[Section] = []
    first = body_heads[0][0] if body_heads[0][2] == "章" else None
    if first is None:  # pragma: no cover - guarded by the order check above
        raise CorpusError("正文第一个标题不是章标题", file=path, line=body_heads[0][1])
    pre_parts = [(0, toc_start), (toc_end, first)] if toc_found else [(0, first)]
    pre_parts = [p for p in pre_parts if p[1] > p[0]]
    if pre_parts:
        sections.append(Section(info.id, 0, PREAMBLE_TITLE, 0, PREAMBLE_TITLE,
                                "".join(text[a:b] for a, b in pre_parts), tuple(pre_parts), 1))
    chapter_title = ""
    bounds = [h[0] for h in body_heads] + [len(text)]
    for (start, line, kind, num, title), end in zip(body_heads, bounds[1:]):
        if kind == "章":
            chapter, chapter_title = num, title
            sec, sec_title = 0, ""
        else:
            sec, sec_title = num, title
        sections.append(Section(info.id, chapter, chapter_title, sec, sec_title,
                                text[start:end], ((start, end),), line))

    _check_toc(path, toc_heads, sections)
    toc = tuple(_toc_entries(toc_heads))
    return Document(info=info, text=text, sections=tuple(sections), toc=toc)


def _toc_entries(toc_heads: list) -> list[tuple[int, int, str]]:
    out, chapter = [], 0
    for _, _, kind, num, title in toc_heads:
        if kind == "章":
            chapter = num
            out.append((num, 0, title))
        else:
            out.append((chapter, num, title))
    return out


def _check_toc(path: str, toc_heads: list, sections: list[Section]) -> None:
    body = {}
    for s in sections:
        body[(s.chapter, 0)] = s.chapter_title
        if s.section:
            body[(s.chapter, s.section)] = s.section_title
    for (chapter, sec, title), head in zip(_toc_entries(toc_heads), toc_heads):
        name = f"第{int_to_cn(chapter)}章" + (f" 第{int_to_cn(sec)}节" if sec else "")
        if (chapter, sec) not in body:
            raise CorpusError(f"目录中的「{name} {title}」在正文中不存在", file=path, line=head[1])
        if body[(chapter, sec)] != title:
            raise CorpusError(f"目录中的「{name} {title}」与正文标题「{body[(chapter, sec)]}」不一致",
                              file=path, line=head[1])


def load_manifest(corpus_dir: Path) -> list[DocumentInfo]:
    """Read corpus.toml; every entry needs id, title and file."""
    manifest = Path(corpus_dir) / "corpus.toml"
    try:
        data = tomllib.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CorpusError("缺少 corpus.toml（每份文档一条 [[documents]]）", file=str(manifest)) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CorpusError(f"corpus.toml 格式错误：{exc}", file=str(manifest)) from None
    docs = data.get("documents") or []
    if not docs:
        raise CorpusError("corpus.toml 中没有 [[documents]] 条目", file=str(manifest))
    infos, seen = [], set()
    for i, entry in enumerate(docs, start=1):
        missing = [k for k in ("id", "title", "file") if not entry.get(k)]
        if missing:
            raise CorpusError(f"第 {i} 个文档缺少字段：{', '.join(missing)}", file=str(manifest))
        if entry["id"] in seen:
            raise CorpusError(f"文档 id 重复：{entry['id']}", file=str(manifest))
        seen.add(entry["id"])
        infos.append(DocumentInfo(
            id=str(entry["id"]), title=str(entry["title"]),
            file=(Path(corpus_dir) / entry["file"]),
            issuer=str(entry.get("issuer", "")), number=str(entry.get("number", "")),
            date_written=str(entry.get("date_written", "")),
            date_published=str(entry.get("date_published", ""))))
    return infos


def load_corpus(corpus_dir: Path | str) -> Corpus:
    """Parse every document listed in ``corpus_dir/corpus.toml``."""
    return Corpus(tuple(parse_document(info) for info in load_manifest(Path(corpus_dir))))
