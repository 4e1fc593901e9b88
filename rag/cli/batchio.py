"""JSONL batch files for ``search --batch`` and ``ask --batch``: read questions, print results.

Not handled here: answering or retrieval; callers pass what they computed.
"""

from __future__ import annotations

import json

from rag.errors import RetrievalError
from rag.jsonl import read_rows


def print_json(obj) -> None:
    """Print one JSON line (UTF-8; \\u-escaped if the object holds an unpaired surrogate)."""
    text = json.dumps(obj, ensure_ascii=False)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # an unpaired surrogate echoed from input: \u-escape everything
        text = json.dumps(obj)
    print(text)


def read_batch(path: str) -> list[dict]:
    """Lines of a JSONL file that carry a non-empty "question"; bad lines are errors."""
    rows = []
    for no, row in read_rows(path, RetrievalError, "批量文件"):
        if isinstance(row, json.JSONDecodeError):
            raise RetrievalError(f"{path}:{no}: 不是合法的 JSON（{row.msg}）")
        if not isinstance(row, dict) or not isinstance(row.get("question"), str):
            raise RetrievalError(f"{path}:{no}: 缺少字符串字段 \"question\"")
        rows.append(row)
    return rows
