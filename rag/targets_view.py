"""The 目标一览 table shared by the CLI and the app: filters, columns and file exports.

:func:`filter_targets` selects rows by chapter, year, kind and text; :func:`table_rows` turns
them into the display columns; :func:`export_targets` writes CSV (UTF-8 with BOM, so Excel
opens it), JSON, xlsx (openpyxl) or a plain text table. A year names a time frame: 2025 also
selects 十四五 / 十四五末 rows (the plan's horizon) and 2020 also selects 十三五 results.

Not handled here: extracting the rows (rag.targets), command-line parsing (rag.cli.targets),
the app tab (rag.ui.targets_tab).
"""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from pathlib import Path

from rag.errors import RagError
from rag.targets import KINDS, Target

FORMATS = ("table", "csv", "json", "xlsx")
COLUMNS = ("章节", "指标", "数值", "单位", "修饰", "时间", "性质", "原句")
_YEAR_GROUPS = ({"2025", "十四五", "十四五末"}, {"2020", "十三五"})


class TargetsError(RagError):
    """A filter or export argument is malformed."""


def _times(year: str) -> set[str]:
    year = year.strip().strip("“”\"年")
    for group in _YEAR_GROUPS:
        if year in group:
            return group
    return {year}


def _kind(kind: str) -> str:
    kind = kind.strip()
    if kind in KINDS:
        return KINDS[kind]
    if kind in KINDS.values():
        return kind
    raise TargetsError(f"未知性质：{kind}；可选 {', '.join(KINDS)}（或 {'、'.join(KINDS.values())}）")


def filter_targets(rows: list[Target], *, chapter: int | None = None, year: str | None = None,
                   kind: str | None = None, query: str | None = None) -> list[Target]:
    """Rows of one chapter, time frame, kind (target/result/fact) and containing every query word."""
    out = rows
    if chapter is not None:
        out = [t for t in out if t.ref.chapter == int(chapter)]
    if year:
        times = _times(str(year))
        out = [t for t in out if t.时间 in times]
    if kind:
        wanted = _kind(kind)
        out = [t for t in out if t.性质 == wanted]
    words = (query or "").lower().split()
    if words:
        out = [t for t in out
               if all(w in (t.指标 + " " + t.sentence + " " + t.label).lower() for w in words)]
    return out


def table_rows(rows: list[Target]) -> list[list[str]]:
    return [[t.label, t.指标, t.数值, t.单位, t.修饰, t.时间, t.性质, t.sentence] for t in rows]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def render_table(rows: list[Target], sentence_chars: int = 40) -> str:
    """A plain text table for the terminal (the sentence cut to ``sentence_chars``)."""
    body = [[c if i < 7 else (c if len(c) <= sentence_chars else c[:sentence_chars] + "…")
             for i, c in enumerate(r)] for r in table_rows(rows)]
    grid = [list(COLUMNS), *body]
    widths = [max(_width(r[i]) for r in grid) for i in range(len(COLUMNS))]
    lines = ["  ".join(c + " " * (widths[i] - _width(c)) for i, c in enumerate(r)).rstrip()
             for r in grid]
    return "\n".join(lines) + f"\n共 {len(rows)} 条\n"


def to_csv(rows: list[Target]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(COLUMNS)
    writer.writerows(table_rows(rows))
    return buf.getvalue()


def to_json(rows: list[Target]) -> str:
    return json.dumps([t.to_json() for t in rows], ensure_ascii=False, indent=1)


def _write_xlsx(rows: list[Target], path: Path) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    wb = Workbook()
    ws = wb.active
    ws.title = "目标一览"
    ws.append(list(COLUMNS))
    for r in table_rows(rows):
        ws.append(r)
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for col, width in zip("ABCDEFGH", (30, 28, 12, 10, 10, 10, 8, 80)):
        ws.column_dimensions[col].width = width
    for row in ws.iter_rows(min_row=2, min_col=8, max_col=8):
        row[0].alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "A2"
    ws.auto_filter.ref = ws.dimensions
    wb.save(path)


def export_targets(rows: list[Target], fmt: str, path: Path | str) -> Path:
    """Write ``rows`` to ``path`` as table / csv (BOM) / json / xlsx; returns the path."""
    if fmt not in FORMATS:
        raise TargetsError(f"未知格式：{fmt}；可选 {', '.join(FORMATS)}")
    path = Path(path)
    try:
        if fmt == "xlsx":
            _write_xlsx(rows, path)
        else:
            text = {"table": render_table, "csv": to_csv, "json": to_json}[fmt](rows)
            path.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
    except OSError as exc:
        raise TargetsError(f"无法写入 {path}：{exc.strerror or exc}") from None
    return path
