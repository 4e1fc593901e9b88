"""Word plans (.docx) through python-docx: body paragraphs and table rows, one per line.

Paragraphs keep their text as written (headings are found from their numbering, not from
Word's heading styles, so a file typed without styles reads the same); a table row becomes
one line with its cells separated by a tab. Headers and footers of the page are not read.

Not handled here: legacy .doc, password-protected files (both refused), images, footnotes.
"""

from __future__ import annotations

import io
import zipfile

from rag.errors import CorpusError


def docx_text(data: bytes, path: str) -> str:
    """The document's body text; CorpusError if the file is not a readable .docx."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    if data.startswith(b"\xd0\xcf\x11\xe0"):  # OLE container: an encrypted .docx or a .doc
        raise CorpusError("不是可读的 .docx：文件已加密或是旧版 .doc，请另存为未加密的 .docx",
                          file=path)
    try:
        document = docx.Document(io.BytesIO(data))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CorpusError(f"不是有效的 .docx 文件（{type(exc).__name__}）", file=path) from None
    lines = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            for row in block.rows:
                cells = []
                for cell in row.cells:  # a merged cell repeats: keep it once
                    if not cells or cell.text != cells[-1]:
                        cells.append(cell.text)
                lines.append("\t".join(c.replace("\n", " ") for c in cells))
        else:
            lines.append(block.text)
    return "\n".join(lines) + "\n"
