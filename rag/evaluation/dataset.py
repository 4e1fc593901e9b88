"""Gold datasets: JSONL, one question a line, validated against the corpus.

Each line is::

    {"id", "question", "gold": [{"chapter", "section"[, "doc_id"]}], "answer", "evidence", "type"}

``type`` is fact | paraphrase | concept | multi | everyday | unanswerable; gold is [] exactly for
unanswerable questions; ``evidence`` must be a substring of a gold section. :func:`check_dataset`
lists every bad row with its reason; :func:`load_dataset` refuses a file with any.

Not handled here: scoring (metrics.py, runner.py).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.corpus import Corpus
from rag.errors import RagError
from rag.evaluation.metrics import Key, dedupe
from rag.jsonl import read_rows

TYPES = ("fact", "paraphrase", "concept", "multi", "everyday", "unanswerable")
DEFAULT_DATASET = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"


class DatasetError(RagError):
    """A gold dataset cannot be read or has rows that do not fit the corpus."""


@dataclass(frozen=True)
class GoldQuestion:
    """One validated dataset row; ``gold`` holds full section keys."""

    id: str
    question: str
    gold: tuple[Key, ...]
    answer: str
    evidence: str
    type: str
    line: int

    @property
    def answerable(self) -> bool:
        return bool(self.gold)

    @property
    def gold_chapters(self) -> tuple[tuple[str, int], ...]:
        return tuple(dedupe((d, c) for d, c, _ in self.gold))


@dataclass(frozen=True)
class BadRow:
    """A dataset row that failed validation, with the reason in Chinese."""

    line: int
    id: str | None
    reason: str

    def __str__(self) -> str:
        return f"第 {self.line} 行" + (f" [{self.id}]" if self.id else "") + f"：{self.reason}"


def _default_doc(corpus: Corpus) -> str | None:
    return corpus.documents[0].id if len(corpus.documents) == 1 else None


def _check_row(row, line: int, corpus: Corpus,
               sections: dict) -> tuple[GoldQuestion | None, str | None]:
    """Validate one parsed row; returns (question, None) or (None, reason)."""
    if not isinstance(row, dict):
        return None, "不是 JSON 对象"
    for name in ("id", "question", "type"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            return None, f"缺少非空字符串字段 \"{name}\""
    for name in ("answer", "evidence"):
        if not isinstance(row.get(name, ""), str):
            return None, f"字段 \"{name}\" 应为字符串"
    if row["type"] not in TYPES:
        return None, f"type {row['type']!r} 无效，应为 {' | '.join(TYPES)}"
    gold = row.get("gold")
    if not isinstance(gold, list):
        return None, "gold 应为列表（无答案题为 []）"
    keys: list[Key] = []
    for g in gold:
        if not isinstance(g, dict) or not all(
                isinstance(g.get(f), int) and not isinstance(g.get(f), bool)
                for f in ("chapter", "section")):
            return None, f"gold 条目 {g!r} 应为 {{\"chapter\": 整数, \"section\": 整数}}"
        doc = g.get("doc_id") or _default_doc(corpus)
        if doc is None:
            return None, "语料有多份文档，gold 条目需要 doc_id"
        key = (doc, g["chapter"], g["section"])
        if key not in sections:
            return None, f"第 {g['chapter']} 章第 {g['section']} 节在语料中不存在" + (
                f"（文档 {doc}）" if g.get("doc_id") else "")
        keys.append(key)
    if len(set(keys)) != len(keys):
        return None, "gold 中有重复的章节"
    unanswerable = row["type"] == "unanswerable"
    if unanswerable and keys:
        return None, "unanswerable 题的 gold 应为 []"
    if not unanswerable and not keys:
        return None, "gold 为 []，但 type 不是 unanswerable"
    evidence = row.get("evidence", "")
    if keys:
        if not evidence:
            return None, "evidence 为空"
        if not any(evidence in sections[k].text for k in keys):
            return None, "evidence 不是任一 gold 章节原文的子串"
    return GoldQuestion(row["id"], row["question"].strip(), tuple(keys), row.get("answer", ""),
                        evidence, row["type"], line), None


def check_dataset(path: Path | str, corpus: Corpus) -> tuple[list[GoldQuestion], list[BadRow]]:
    """Validate a dataset file against a corpus; returns (good questions, bad rows).

    Raises:
        DatasetError: the file cannot be read as UTF-8 text.
    """
    rows = read_rows(path, DatasetError, "数据集")
    sections = {(s.doc_id, s.chapter, s.section): s for s in corpus.sections}
    good: list[GoldQuestion] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    for no, row in rows:
        if isinstance(row, json.JSONDecodeError):
            bad.append(BadRow(no, None, f"不是合法的 JSON（{row.msg}）"))
            continue
        rid = row.get("id") if isinstance(row, dict) and isinstance(row.get("id"), str) else None
        if rid is not None and rid in seen:
            bad.append(BadRow(no, rid, f"id 重复（首次出现在第 {seen[rid]} 行）"))
            continue
        if rid is not None:
            seen[rid] = no
        q, reason = _check_row(row, no, corpus, sections)
        if reason:
            bad.append(BadRow(no, rid, reason))
        else:
            good.append(q)
    if not good and not bad:
        bad.append(BadRow(0, None, "数据集为空"))
    return good, bad


def load_dataset(path: Path | str, corpus: Corpus) -> list[GoldQuestion]:
    """Validated questions of a dataset; any bad row is an error naming the first few."""
    good, bad = check_dataset(path, corpus)
    if bad:
        head = "；".join(str(b) for b in bad[:3])
        raise DatasetError(f"数据集 {path} 有 {len(bad)} 行不合格（{head}）："
                           f"请先运行 python -m rag eval --check {path}")
    return good


def file_sha256(path: Path | str) -> str:
    """sha256 of a file's bytes."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
