"""Parse plan documents into 篇, chapters and sections.

Reads ``corpus/corpus.toml`` (one ``[[documents]]`` entry per file: .txt, .docx, .pdf or
.html, read by rag.readers) and splits each document's text into :class:`Section` records:
chapter 0 section 0 is the notice and preamble before the first heading, section 0 of a
chapter is its intro before its first section. A 篇 heading and its intro open the intro of
the 篇's first chapter; every section records its 篇 (``part``, 0 when there are none).
Headings are found by rag.outline (第X篇/第X章/第X节 or 一、/（一）). The table of contents
(目录) is read only to cross-check the body's headings and is not part of any section.

Invariant (tested on the real plan and on every format): the sections' texts, concatenated
in order, equal the extracted text with the table-of-contents block removed — no character
lost or duplicated. With more than one document loaded, every section carries its
document's title and citation labels name it.

Not handled here: chunking, any normalisation of the text (it is kept exact so that
character spans point into the extracted text), writing corpus.toml (rag.documents).
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from rag.errors import CorpusError
from rag.outline import CHAPTERS, ITEMS, Head, check_order, cn_to_int, find_headings, head_name
from rag.outline import int_to_cn, toc_block
from rag.readers import read_plan

__all__ = ["cn_to_int", "int_to_cn"]  # re-exported: callers import them from here


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
    source: Path | None = None  # the original .docx/.pdf/.html when ``file`` is its text
    format: str = ""
    added: str = ""


class Located:
    """``ref`` and ``key`` for a record that carries doc_id, chapter and section fields and
    their titles (Section, Chunk): the one place a section reference is made."""

    @property
    def ref(self) -> "SectionRef":
        return ref_of(self)

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc_id, self.chapter, self.section)


@dataclass(frozen=True)
class Section(Located):
    """A numbered section, a chapter intro (section 0) or the preamble (chapter 0).

    ``parts`` are ``(start, end)`` character offsets into the document's text; ``text`` is
    the concatenation of those slices. Only the preamble has two parts (the TOC lies between).
    ``part``/``part_title`` name the 篇 (0 and "" without one), ``numbering`` is "" for
    第X章/第X节 and 条目 for 一、/（一）, ``document`` the document's title when the
    corpus holds more than one.
    """

    doc_id: str
    chapter: int
    chapter_title: str
    section: int
    section_title: str
    text: str
    parts: tuple[tuple[int, int], ...]
    line: int  # 1-based line of the heading (or of the first character for chapter 0)
    part: int = 0
    part_title: str = ""
    numbering: str = ""
    document: str = ""

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
        """``[篇标题 > ]章标题 > 节标题`` as stored in chunk metadata (and embedded)."""
        chapter = chapter_label(self.chapter, self.chapter_title, self.numbering)
        if self.part and self.chapter:
            chapter = f"{head_name('篇', self.part)} {self.part_title} > {chapter}"
        if self.chapter == 0 or self.section == 0:
            return chapter
        gap = "" if self.numbering == ITEMS else " "
        return f"{chapter} > {head_name('节', self.section, self.numbering)}{gap}{self.section_title}"


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
    part: int = 0
    part_title: str = ""
    numbering: str = ""
    document: str = ""

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.doc_id, self.chapter, self.section)

    @property
    def label(self) -> str:
        """「第二章 第三节 培育一流创新主体」 without the corner brackets; every level present
        (「第二篇 第五章 第三节 …」) and 《document》 first when more than one is loaded."""
        return section_label(self.chapter, self.chapter_title, self.section, self.section_title,
                             part=self.part, numbering=self.numbering, document=self.document)

    def to_json(self) -> dict:
        out = {"doc_id": self.doc_id, "chapter": self.chapter,
               "chapter_title": self.chapter_title, "section": self.section,
               "section_title": self.section_title}
        extra = {"part": self.part, "part_title": self.part_title, "numbering": self.numbering,
                 "document": self.document}
        return out | {k: v for k, v in extra.items() if v}


_REF_FIELDS = [f.name for f in dataclasses.fields(SectionRef)]


def ref_of(unit) -> SectionRef:
    """The SectionRef of anything carrying its fields (a Section, a Chunk)."""
    return SectionRef(**{name: getattr(unit, name) for name in _REF_FIELDS})


def chapter_label(chapter: int, chapter_title: str, numbering: str = "") -> str:
    """「第二章 创新驱动」 (「二、创新驱动」 in the 条目 style); the preamble is its title alone."""
    if chapter == 0:
        return chapter_title
    if numbering == ITEMS:
        return f"{head_name('章', chapter, ITEMS)}{chapter_title}"
    return f"第{int_to_cn(chapter)}章 {chapter_title}"


def section_label(chapter: int, chapter_title: str, section: int, section_title: str, *,
                  part: int = 0, numbering: str = "", document: str = "") -> str:
    """Human label for a section, used in every citation."""
    if chapter == 0:
        core = chapter_title
    elif section == 0:
        core = f"{chapter_label(chapter, chapter_title, numbering)}（章首）"
    elif numbering == ITEMS:
        core = f"{head_name('章', chapter, ITEMS)}{head_name('节', section, ITEMS)}{section_title}"
    else:
        core = f"第{int_to_cn(chapter)}章 第{int_to_cn(section)}节 {section_title}"
    if part and chapter:
        core = f"{head_name('篇', part)} {core}"
    return f"《{document}》{core}" if document else core


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
            if len(self.documents) > 1:  # titles are part of every label then
                h.update(d.info.title.encode())
        return h.hexdigest()


# ---------------------------------------------------------------- parsing


def parse_document(info: DocumentInfo, text: str | None = None, *,
                   named: bool = False) -> Document:
    """Parse one document into sections, cross-checked against its TOC.

    Args:
        info: the corpus.toml entry; ``info.file`` is read when ``text`` is None.
        text: the document's text, already extracted.
        named: put the document's title on every section (more than one document loaded).

    Raises:
        CorpusError: empty, unreadable, no headings, headings duplicated or out of order,
            or a TOC entry missing from the body; the message names the file and line.
    """
    path = str(info.source or info.file)
    if text is None:
        text = read_plan(info.file)
    style, heads = find_headings(text)
    toc_found = toc_block(text, heads)
    if toc_found:
        toc_start, toc_end, toc_heads = toc_found
        body_heads = [h for h in heads if h.offset >= toc_end]
    else:
        toc_start = toc_end = 0
        toc_heads, body_heads = [], heads
    if not any(h.kind == "章" for h in body_heads):
        raise CorpusError("正文中没有找到任何章标题（第一章……或 一、……），无法切分", file=path)
    check_order(path, body_heads, style)

    numbering = "" if style == CHAPTERS else ITEMS
    extra = {"numbering": numbering, "document": info.title if named else ""}
    first = body_heads[0].offset
    pre_parts = [(0, toc_start), (toc_end, first)] if toc_found else [(0, first)]
    pre_parts = [p for p in pre_parts if p[1] > p[0]]
    sections: list[Section] = []
    if pre_parts:
        sections.append(Section(info.id, 0, PREAMBLE_TITLE, 0, PREAMBLE_TITLE,
                                "".join(text[a:b] for a, b in pre_parts), tuple(pre_parts), 1,
                                **extra))
    # a 篇 heading (and its intro) opens the intro of its first chapter
    starts = [h for i, h in enumerate(body_heads) if h.kind != "章" or i == 0
              or body_heads[i - 1].kind != "篇"]
    bounds = [h.offset for h in starts[1:]] + [len(text)]
    part, part_title, chapter, chapter_title = 0, "", 0, ""
    pending: Head | None = None
    for h, end in zip(starts, bounds):
        if h.kind == "篇":
            part, part_title, pending = h.num, h.title, h
            nxt = next(x for x in body_heads if x.offset > h.offset)
            if nxt.kind != "章":
                raise CorpusError(f"「{head_name('篇', h.num)} {h.title}」之后应是章标题",
                                  file=path, line=h.line)
            h = nxt
        if h.kind == "章":
            chapter, chapter_title, sec, sec_title = h.num, h.title, 0, ""
        else:
            sec, sec_title = h.num, h.title
        start = pending.offset if pending else h.offset
        sections.append(Section(info.id, chapter, chapter_title, sec, sec_title, text[start:end],
                                ((start, end),), (pending or h).line, part, part_title, **extra))
        pending = None

    _check_toc(path, toc_heads, sections, style)
    toc = tuple(e for e in _toc_entries(toc_heads) if e[0] >= 0)
    return Document(info=info, text=text, sections=tuple(sections), toc=toc)


def _toc_entries(toc_heads: list[Head]) -> list[tuple[int, int, str]]:
    """(chapter, section, title) per TOC entry; a 篇 entry is (-part, 0, title)."""
    out, chapter = [], 0
    for h in toc_heads:
        if h.kind == "篇":
            out.append((-h.num, 0, h.title))
        elif h.kind == "章":
            chapter = h.num
            out.append((h.num, 0, h.title))
        else:
            out.append((chapter, h.num, h.title))
    return out


def _check_toc(path: str, toc_heads: list[Head], sections: list[Section], style: str) -> None:
    body = {}
    for s in sections:
        body[(s.chapter, 0)] = s.chapter_title
        if s.part:
            body[(-s.part, 0)] = s.part_title
        if s.section:
            body[(s.chapter, s.section)] = s.section_title
    for (chapter, sec, title), head in zip(_toc_entries(toc_heads), toc_heads):
        name = head_name(head.kind, head.num, style)
        if head.kind == "节":
            name = f"{head_name('章', chapter, style)} {name}"
        if (chapter, sec) not in body:
            raise CorpusError(f"目录中的「{name} {title}」在正文中不存在", file=path, line=head.line)
        if body[(chapter, sec)] != title:
            raise CorpusError(f"目录中的「{name} {title}」与正文标题「{body[(chapter, sec)]}」不一致",
                              file=path, line=head.line)

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
            date_published=str(entry.get("date_published", "")),
            source=(Path(corpus_dir) / entry["source"]) if entry.get("source") else None,
            format=str(entry.get("format", "")), added=str(entry.get("added", ""))))
    return infos


def corpus_of(infos: list[DocumentInfo]) -> Corpus:
    """Parse the listed documents; sections carry their document's title when there are several."""
    named = len(infos) > 1
    return Corpus(tuple(parse_document(info, named=named) for info in infos))


def load_corpus(corpus_dir: Path | str) -> Corpus:
    """Parse every document listed in ``corpus_dir/corpus.toml``."""
    return corpus_of(load_manifest(Path(corpus_dir)))
