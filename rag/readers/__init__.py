"""Turn a plan file into plain text: .txt, .docx, .pdf or .html, chosen by the file's suffix.

Every reader returns the text the structure parser (rag.corpus) splits; character spans of
sections and chunks point into that text. Page furniture is dropped here (running headers,
footers and page numbers of PDFs; navigation, scripts and 扫一扫/打印本页 of web pages);
the text itself is not rewritten. Every failure is a one-line CorpusError naming the file.

Not handled here: headings and sections (rag.outline, rag.corpus), scanned PDFs (no OCR),
legacy .doc, password-protected files.
"""

from __future__ import annotations

from pathlib import Path

from rag.errors import CorpusError

MAX_FILE_BYTES = 20 * 1024 * 1024
FORMATS = {".txt": "txt", ".text": "txt", ".md": "txt", ".docx": "docx", ".pdf": "pdf",
           ".html": "html", ".htm": "html"}


def file_format(path: Path | str) -> str:
    """``txt``/``docx``/``pdf``/``html`` from the suffix; CorpusError for anything else."""
    suffix = Path(path).suffix.lower()
    if suffix in FORMATS:
        return FORMATS[suffix]
    hint = "（旧版 .doc 请先另存为 .docx）" if suffix == ".doc" else ""
    raise CorpusError(f"不支持的文件格式「{suffix or '无扩展名'}」：支持 .txt .docx .pdf .html{hint}",
                      file=str(path))


def read_bytes(path: Path) -> bytes:
    """The file's bytes, size-checked; CorpusError if missing, unreadable or too large."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise CorpusError(f"文件过大（{size} 字节，上限 {MAX_FILE_BYTES}），不像是一份规划文本",
                              file=str(path))
        return path.read_bytes()
    except OSError as exc:  # missing, a folder where the file should be, permissions
        raise CorpusError(f"无法读取文件：{exc.strerror}", file=str(path)) from None


def read_plan(path: Path | str) -> str:
    """The plain text of a plan file in any supported format."""
    path = Path(path)
    fmt = file_format(path)
    data = read_bytes(path)
    if fmt == "txt":
        from rag.readers.text import decode_text as read
    elif fmt == "docx":
        from rag.readers.docx import docx_text as read
    elif fmt == "pdf":
        from rag.readers.pdf import pdf_text as read
    else:
        from rag.readers.html import html_text as read
    text = read(data, str(path))
    if not text.strip():
        raise CorpusError("文件为空" if fmt == "txt" else "文件中没有可提取的文字", file=str(path))
    return text
