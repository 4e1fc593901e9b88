"""Counts of inputs tried / handled / failed, per table section and row, for the closing summary.

Tests call :func:`record` for every input or fault they try; ``conftest.py`` writes the table to
``<tmp>/guihua-robustness-summary.md`` and prints it at the end of the session.

Not handled here: judging an outcome (each test decides ``ok`` itself).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

# ROBUSTNESS_SUMMARY lets two runs in parallel (e.g. the slow kill test apart) keep both tables
SUMMARY = Path(os.environ.get("ROBUSTNESS_SUMMARY")
               or Path(tempfile.gettempdir()) / "guihua-robustness-summary.md")

# section -> row -> [tried, handled, [failure details]]
_COUNTS: dict[str, dict[str, list]] = {}


def record(section: str, row: str, ok: bool, detail: str = "") -> bool:
    """Count one tried input; a failure keeps a short detail for the report. Returns ``ok``."""
    cell = _COUNTS.setdefault(section, {}).setdefault(row, [0, 0, []])
    cell[0] += 1
    if ok:
        cell[1] += 1
    else:
        cell[2].append(detail[:300])
    return ok


def failures(section: str, row: str | None = None) -> list[str]:
    """Failure details recorded so far in a section (or one row of it)."""
    rows = _COUNTS.get(section, {})
    return [d for r, cell in rows.items() if row is None or r == row for d in cell[2]]


def _rows(title: str, cells: dict[str, list]) -> list[str]:
    lines = [f"**{title}**", "", "| category | tried | handled | failures |", "|---|---:|---:|---:|"]
    total = [0, 0]
    for row, (t, h) in cells.items():
        lines.append(f"| {row} | {t} | {h} | {t - h} |")
        total = [total[0] + t, total[1] + h]
    lines += [f"| **total** | **{total[0]}** | **{total[1]}** | **{total[0] - total[1]}** |", ""]
    return lines


def table() -> str:
    """Markdown tables: bad questions by input category and by path, then every other row."""
    if not _COUNTS:
        return ""
    by_cat: dict[str, list] = {}
    by_path: dict[str, list] = {}
    other: dict[str, list] = {}
    for section, rows in _COUNTS.items():
        for row, (t, h, _) in rows.items():
            if section == "questions" and " · " in row:  # rows are "<category> · <path>"
                cat, path = row.split(" · ", 1)
                for d, k in ((by_cat, cat), (by_path, path)):
                    d.setdefault(k, [0, 0])
                    d[k] = [d[k][0] + t, d[k][1] + h]
            else:
                other[f"{section} · {row}"] = [t, h]
    lines = []
    if by_cat:
        lines += _rows("Bad questions by input category (all paths)", by_cat)
        lines += _rows("Bad questions by path", by_path)
    if other:
        lines += _rows("Faults, security, concurrency", other)
    fails = [f"- {s} · {r}: {d}" for s, rows in _COUNTS.items() for r, c in rows.items()
             for d in c[2][:5]]
    if fails:
        lines += ["First failures:", *fails]
    return "\n".join(lines) + "\n"


def write() -> Path | None:
    """Write the table to SUMMARY (nothing if no robustness test ran)."""
    text = table()
    if not text:
        return None
    SUMMARY.write_text(text, encoding="utf-8")
    return SUMMARY
