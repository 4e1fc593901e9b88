"""PDF plans through pdfminer.six: text lines in reading order, page furniture dropped.

Per page, text lines are taken from pdfminer's layout analysis. Dropped: lines in the top or
bottom tenth of a page that are page numbers (「— 3 —」, 「第 3 页」, 「3/40」) or that repeat
on at least half of the pages with only digits changed (running headers and footers).
A line that runs to the right margin continues on the next line (the wrap is removed)
unless it ends a sentence (。！？；： possibly followed by closing quotes or brackets: a line
that merely breaks after 「生态”」 continues) or the next line is a heading; any other line
ends a paragraph.

Not handled here: scanned (image-only) PDFs and PDFs behind a password (both refused with a
message), fonts without a Unicode map (refused: the text would be (cid:N) garbage), tables.
"""

from __future__ import annotations

import io
import re
from collections import Counter

from rag.errors import CorpusError
from rag.outline import SPACE

_PAGE_NO = re.compile(rf"^[{SPACE}\-—–·•]*(第?[{SPACE}]*\d+[{SPACE}]*页?|\d+[{SPACE}]*/[{SPACE}]*\d+"
                      rf"|[Pp]age[{SPACE}]*\d+)[{SPACE}\-—–·•]*$")
_DIGITS = re.compile(r"\d+")
_ENDS = "。！？；：!?;:"
_CLOSERS = "”’」』）)》"
_HEAD_START = re.compile(rf"^[{SPACE}]*(第[零〇一二两三四五六七八九十百]+[篇章节]|"
                         r"[零〇一二两三四五六七八九十百]+、|[（(][零〇一二两三四五六七八九十百]+[）)]|目[ 　]*录)")
_MARGIN = 0.1


def _pages(data: bytes, path: str) -> list[tuple[float, list[tuple[float, float, float, str]]]]:
    """Per page: (height, [(top y, x0, x1, line text)]) in reading order."""
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LAParams, LTTextContainer, LTTextLine
    from pdfminer.pdfdocument import PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfparser import PDFSyntaxError
    from pdfminer.psexceptions import PSException

    pages = []
    try:
        for page in extract_pages(io.BytesIO(data), laparams=LAParams()):
            lines = []
            for box in page:
                if not isinstance(box, LTTextContainer):
                    continue
                for line in box:
                    if isinstance(line, LTTextLine) and line.get_text().strip():
                        lines.append((line.y1, line.x0, line.x1, line.get_text().rstrip("\n")))
            pages.append((page.height, lines))
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise CorpusError("PDF 已加密（需要密码）：请先解除加密再添加", file=path) from None
    except (PDFSyntaxError, PSException, ValueError, KeyError, TypeError) as exc:
        raise CorpusError(f"不是有效的 PDF 文件（{type(exc).__name__}）", file=path) from None
    return pages


def _furniture(pages) -> set[str]:
    """Digit-normalised texts of margin lines that recur on at least half of the pages."""
    seen = Counter()
    for height, lines in pages:
        keys = {_DIGITS.sub("#", t.strip()) for y, _, _, t in lines
                if y > height * (1 - _MARGIN) or y < height * _MARGIN + 12}
        seen.update(keys)
    need = max(2, (len(pages) + 1) // 2)
    return {k for k, n in seen.items() if n >= need} if len(pages) > 1 else set()


def pdf_text(data: bytes, path: str) -> str:
    """The plan's text from a PDF; CorpusError for encrypted, image-only or broken files."""
    if not data.startswith(b"%PDF"):
        raise CorpusError("不是有效的 PDF 文件（缺少 %PDF 文件头）", file=path)
    pages = _pages(data, path)
    repeated = _furniture(pages)
    kept: list[tuple[float, str]] = []  # (how far the line stops short of the margin, text)
    right = max((x1 for _, lines in pages for _, _, x1, _ in lines), default=0)
    for height, lines in pages:
        for y, _, x1, text in lines:
            margin = y > height * (1 - _MARGIN) or y < height * _MARGIN + 12
            if margin and (_PAGE_NO.match(text) or _DIGITS.sub("#", text.strip()) in repeated):
                continue
            kept.append((right - x1, text))
    if not kept:
        raise CorpusError("PDF 中没有可提取的文字（可能是扫描件）：请先做文字识别（OCR）", file=path)
    body = "".join(t for _, t in kept)
    if body.count("(cid:") > 10:
        raise CorpusError("PDF 的字体缺少 Unicode 映射，提取出的是乱码：请用原始文字版 PDF 或 .docx",
                          file=path)
    out = []
    for i, (gap, text) in enumerate(kept):
        nxt = kept[i + 1][1] if i + 1 < len(kept) else ""
        wraps = gap < 14 and not text.rstrip().rstrip(_CLOSERS).endswith(tuple(_ENDS)) and nxt \
            and not _HEAD_START.match(nxt)
        out.append(text if wraps else text + "\n")
    return "".join(out)
