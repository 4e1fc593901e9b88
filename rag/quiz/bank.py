"""A question bank: items already handed out (to exclude from new quizzes) and coverage.

:func:`load_bank` reads quiz JSON exports — files, or folders holding them (every ``*.json``,
recursively) — into item dicts that ``generate_quiz(exclude=...)`` accepts. :func:`coverage_report`
counts, per chapter and section, the items of the new quiz, those already in the bank, and the
sentences still unasked, as a Markdown table.

Not handled here: building items (generate.py), the export formats (export.py).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from rag.corpus import Section
from rag.errors import RagError
from rag.quiz.facts import analyse_sections


class BankError(RagError):
    """A bank file or folder cannot be read."""


def _read(path: Path) -> list[dict]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise BankError(f"无法读取题库文件 {path}：{exc.strerror}") from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise BankError(f"题库文件 {path} 不是有效的 JSON（应为 quiz --format json 导出的文件）") from None
    if not isinstance(data, list) or not all(isinstance(d, dict) and {"doc_id", "span"} <= d.keys()
                                             for d in data):
        raise BankError(f"题库文件 {path} 不是 quiz 导出的题目列表")
    return data


def load_bank(paths: Iterable) -> list[dict]:
    """Item dicts from quiz JSON files and folders of them, in path order (duplicates by id kept once)."""
    out, seen = [], set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            files = sorted(p.rglob("*.json"))
        elif p.is_file():
            files = [p]
        else:
            raise BankError(f"题库路径不存在：{p}")
        for f in files:
            for d in _read(f):
                if d.get("id") not in seen:
                    seen.add(d.get("id"))
                    out.append(d)
    return out


def _key(d) -> tuple:
    return (d["doc_id"], d["chapter"], d["section"]) if isinstance(d, dict) \
        else (d.doc_id, d.chapter, d.section)


def coverage_report(items: Sequence, sections: Sequence[Section], bank: Sequence = ()) -> str:
    """Markdown table per section: items in this quiz, items in the bank, sentences left unasked."""
    now, before = Counter(map(_key, items)), Counter(map(_key, bank))
    asked = {(d["doc_id"], tuple(d["span"])) if isinstance(d, dict) else (d.doc_id, tuple(d.span))
             for d in [*items, *bank]}
    left = Counter(s.section.key for s in analyse_sections(tuple(sections))
                   if s.facts and (s.section.doc_id, (s.start, s.end)) not in asked)
    lines = ["| 章 | 节 | 本卷题数 | 题库已有 | 未出过的句子 |", "|---|---|---:|---:|---:|"]
    chapters: dict[int, list[int]] = {}
    for sec in sections:
        if sec.chapter == 0:
            continue
        k = sec.key
        row = [now[k], before[k], left[k]]
        tot = chapters.setdefault(sec.chapter, [0, 0, 0])
        for i, v in enumerate(row):
            tot[i] += v
        name = sec.section_title if sec.section else "章首"
        lines.append(f"| {sec.chapter} | {sec.section} {name} | {row[0]} | {row[1]} | {row[2]} |")
    lines += ["", "| 章 | 本卷题数 | 题库已有 | 未出过的句子 |", "|---|---:|---:|---:|"]
    lines += [f"| 第{c}章 | {a} | {b} | {n} |" for c, (a, b, n) in chapters.items()]
    untouched = [c for c, (a, b, _) in chapters.items() if a + b == 0]
    if untouched:
        lines += ["", "尚未出题的章：" + "、".join(f"第{c}章" for c in untouched)]
    return "\n".join(lines) + "\n"
