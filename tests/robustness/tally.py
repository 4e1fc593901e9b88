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


def table() -> str:
    """The Markdown table: one block per section, a total row for each."""
    if not _COUNTS:
        return ""
    lines = ["| category | tried | handled | failures |", "|---|---:|---:|---:|"]
    for section, rows in _COUNTS.items():
        tried = handled = 0
        for row, (t, h, _) in rows.items():
            lines.append(f"| {section} · {row} | {t} | {h} | {t - h} |")
            tried, handled = tried + t, handled + h
        if len(rows) > 1:
            lines.append(f"| **{section} total** | **{tried}** | **{handled}** | **{tried - handled}** |")
    fails = [f"- {s} · {r}: {d}" for s, rows in _COUNTS.items() for r, c in rows.items()
             for d in c[2][:5]]
    if fails:
        lines += ["", "First failures:", *fails]
    return "\n".join(lines) + "\n"


def write() -> Path | None:
    """Write the table to SUMMARY (nothing if no robustness test ran)."""
    text = table()
    if not text:
        return None
    SUMMARY.write_text(text, encoding="utf-8")
    return SUMMARY
