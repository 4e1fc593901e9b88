"""Plain-text plans: UTF-8 only (a BOM is dropped), byte-exact otherwise.

A GBK/GB18030 or UTF-16 file is refused with the iconv command that converts it; the
encoding is recognised, not guessed silently, so character spans always mean the same file.

Not handled here: other formats (rag.readers).
"""

from __future__ import annotations

from rag.errors import CorpusError


def _iconv(source: str, path: str) -> str:
    return f"iconv -f {source} -t UTF-8 {path} > 新文件.txt"


def decode_text(data: bytes, path: str) -> str:
    """Decode UTF-8 bytes; CorpusError naming GBK/UTF-16 and how to convert otherwise."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CorpusError(f"文件是 UTF-16 编码，请先转换为 UTF-8：{_iconv('UTF-16', path)}",
                          file=path)
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        newlines = max(1, data.count(b"\n"))
        if len(data) % 2 == 0 and max(data.count(b"\n\x00"), data.count(b"\x00\n")) >= newlines * 0.9:
            # UTF-16 without a BOM: every line break is a 0 byte beside \n
            raise CorpusError(f"文件像是 UTF-16 编码，请先转换为 UTF-8：{_iconv('UTF-16', path)}",
                              file=path) from None
        try:
            data.decode("gb18030")
            how = f"文件像是 GBK/GB18030 编码，请先转换：{_iconv('GB18030', path)}"
        except UnicodeDecodeError:
            how = f"请先转换为 UTF-8（GBK 文件：{_iconv('GB18030', path)}）"
        raise CorpusError(f"不是 UTF-8 编码（第 {exc.start} 字节附近），{how}",
                          file=path, line=line) from None
    if "\x00" in text:
        raise CorpusError("文件含 NUL 字符，像是二进制文件", file=path,
                          line=text.count("\n", 0, text.index("\x00")) + 1)
    return text
