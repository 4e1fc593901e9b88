"""JSON Lines files: the numbered, parsed rows of a file, one JSON value a line.

Blank lines are skipped; a line that is not JSON is returned as its ``JSONDecodeError`` so each
caller decides whether that is fatal (batch input) or one bad row among others (gold datasets).

Not handled here: what a row must contain (the callers validate their own fields).
"""

from __future__ import annotations

import json
from pathlib import Path

from rag.errors import RagError


def read_rows(path: Path | str, error: type[RagError],
              what: str) -> list[tuple[int, object | json.JSONDecodeError]]:
    """``[(line number, value or JSONDecodeError)]`` for the non-blank lines of ``path``.

    Raises:
        error: ``无法读取<what> <path>：<reason>`` when the file cannot be read as UTF-8 text.
    """
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"无法读取{what} {path}：{exc}") from None
    rows: list[tuple[int, object | json.JSONDecodeError]] = []
    for no, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            rows.append((no, json.loads(line)))
        except json.JSONDecodeError as exc:
            rows.append((no, exc))
    return rows
