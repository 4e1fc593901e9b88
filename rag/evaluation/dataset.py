"""Gold datasets: JSONL, one question a line, validated against the corpus.

Each line is (eval/datasets/README or /work/notes/dataset-schema.md)::

    {"id", "question", "gold": [{"chapter", "section"[, "doc_id"]}], "answer", "evidence", "type"
     [, "history": [{"role", "content"}…], "keys": [str…], "overlap": float]}

``type`` is one of :data:`TYPES`; gold is [] exactly for the types in :data:`NO_ANSWER_TYPES`
(they must be refused); ``evidence`` must be a substring of a gold section. A row with
``history`` is asked as a follow-up (its question is the conversation's last turn).
:func:`check_dataset` lists *every* problem of every bad row; a file with a UTF-8 BOM is read,
a file in another encoding (GBK…) is named with the command that converts it, and evidence that
fails only because of full-width punctuation gets a hint. :func:`load_dataset` refuses a file
with any bad row.

Not handled here: scoring (metrics.py, answers.py, runner.py).
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

TYPES = ("fact", "paraphrase", "concept", "multi", "everyday", "broad", "conversation",
         "unanswerable", "instruction", "chitchat")
NO_ANSWER_TYPES = ("unanswerable", "instruction", "chitchat")  # gold [], must be refused
DEFAULT_DATASET = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"
_ROLES = ("user", "assistant", "system")
# full-width punctuation the plan writes half-width (and the reverse for a few)
_WIDTH = str.maketrans({"，": ",", "：": ":", "；": ";", "（": "(", "）": ")", "！": "!",
                        "？": "?", "％": "%"})


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
    history: tuple[dict, ...] = ()
    keys: tuple[str, ...] = ()
    overlap: float | None = None

    @property
    def answerable(self) -> bool:
        return bool(self.gold)

    @property
    def gold_chapters(self) -> tuple[tuple[str, int], ...]:
        return tuple(dedupe((d, c) for d, c, _ in self.gold))


@dataclass(frozen=True)
class BadRow:
    """A dataset row that failed validation, with every reason in Chinese."""

    line: int
    id: str | None
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        return "；".join(self.reasons)

    def __str__(self) -> str:
        return f"第 {self.line} 行" + (f" [{self.id}]" if self.id else "") + f"：{self.reason}"


def _default_doc(corpus: Corpus) -> str | None:
    return corpus.documents[0].id if len(corpus.documents) == 1 else None


def _check_gold(gold, corpus: Corpus, sections: dict, problems: list[str]) -> list[Key]:
    if not isinstance(gold, list):
        problems.append("gold 应为列表（无答案题为 []）")
        return []
    keys: list[Key] = []
    for g in gold:
        if not isinstance(g, dict) or not all(
                isinstance(g.get(f), int) and not isinstance(g.get(f), bool)
                for f in ("chapter", "section")):
            problems.append(f"gold 条目 {g!r} 应为 {{\"chapter\": 整数, \"section\": 整数}}")
            continue
        doc = g.get("doc_id") or _default_doc(corpus)
        if doc is None:
            problems.append("语料有多份文档，gold 条目需要 doc_id")
            continue
        key = (doc, g["chapter"], g["section"])
        if key not in sections:
            problems.append(f"第 {g['chapter']} 章第 {g['section']} 节在语料中不存在" + (
                f"（文档 {doc}）" if g.get("doc_id") else ""))
            continue
        keys.append(key)
    if len(set(keys)) != len(keys):
        problems.append("gold 中有重复的章节")
    return keys


def _check_history(history, problems: list[str]) -> None:
    if not isinstance(history, list) or not history:
        problems.append("history 应为非空的消息列表 [{\"role\": \"user\", \"content\": …}, …]")
        return
    for i, m in enumerate(history, start=1):
        if not isinstance(m, dict) or m.get("role") not in _ROLES \
                or not isinstance(m.get("content"), str):
            problems.append(f"history 第 {i} 条应为 {{\"role\": user|assistant, \"content\": 字符串}}")
            return
    if not any(m["role"] == "user" for m in history):
        problems.append("history 中没有 user 消息")


def _evidence_problem(evidence: str, keys: list[Key], sections: dict) -> str | None:
    texts = [sections[k].text for k in keys]
    if any(evidence in t for t in texts):
        return None
    msg = "evidence 不是任一 gold 章节原文的子串"
    if any(evidence.translate(_WIDTH) in t for t in texts):
        return msg + "（规划原文用半角标点「,」「:」「;」「(」，把 evidence 里的全角标点改成半角即可匹配）"
    if any(" ".join(evidence.split()) in " ".join(t.split()) for t in texts):
        return msg + "（空白或换行与原文不同）"
    return msg


def _check_row(row, line: int, corpus: Corpus,
               sections: dict) -> tuple[GoldQuestion | None, list[str]]:
    """Validate one parsed row; returns (question, []) or (None, every problem found)."""
    if not isinstance(row, dict):
        return None, ["不是 JSON 对象"]
    problems: list[str] = []
    for name in ("id", "question", "type"):
        if not isinstance(row.get(name), str) or not row[name].strip():
            problems.append(f"缺少非空字符串字段 \"{name}\"")
    for name in ("answer", "evidence"):
        if not isinstance(row.get(name, ""), str):
            problems.append(f"字段 \"{name}\" 应为字符串")
    rtype = row.get("type") if isinstance(row.get("type"), str) else None
    if rtype and rtype.strip() and rtype not in TYPES:
        problems.append(f"type {rtype!r} 无效，应为 {' | '.join(TYPES)}")
    keys = _check_gold(row.get("gold"), corpus, sections, problems)
    if "history" in row:
        _check_history(row["history"], problems)
    elif rtype == "conversation":
        problems.append("conversation 题需要 history（之前的对话）")
    want = row.get("keys", [])
    if not isinstance(want, list) or not all(isinstance(k, str) and k.strip() for k in want):
        problems.append("keys 应为非空字符串的列表，如 [\"12万座\"]")
        want = []
    overlap = row.get("overlap")
    if overlap is not None and (isinstance(overlap, bool) or not isinstance(overlap, (int, float))):
        problems.append("overlap 应为数字")
    no_answer = rtype in NO_ANSWER_TYPES
    if rtype in TYPES and isinstance(row.get("gold"), list):
        if no_answer and row["gold"]:
            problems.append(f"{rtype} 题的 gold 应为 []")
        # a conversation's last turn may ask what the plan does not state (那2035年呢)
        if not no_answer and not row["gold"] and rtype != "conversation":
            problems.append(f"gold 为 []，但 type 不是 {' / '.join(NO_ANSWER_TYPES)} / conversation")
        no_answer = no_answer or not row["gold"]
    evidence = row.get("evidence", "")
    if keys and isinstance(evidence, str) and not no_answer:
        if not evidence:
            problems.append("evidence 为空")
        elif (why := _evidence_problem(evidence, keys, sections)):
            problems.append(why)
    if problems:
        return None, problems
    return GoldQuestion(row["id"], row["question"].strip(), tuple(keys), row.get("answer", ""),
                        evidence, rtype, line, tuple(row.get("history", ())), tuple(want),
                        float(overlap) if overlap is not None else None), []


def _read_lines(path: Path | str) -> list[str]:
    """The file's lines as text: UTF-8 with or without BOM; other encodings are named."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DatasetError(f"无法读取数据集 {path}：{exc.strerror or exc}") from None
    try:
        return data.decode("utf-8-sig").splitlines()
    except UnicodeDecodeError:
        pass
    for enc in ("gb18030", "big5", "utf-16"):
        try:
            data.decode(enc)
        except UnicodeDecodeError:
            continue
        raise DatasetError(f"无法读取数据集 {path}：文件不是 UTF-8，看起来是 {enc.upper()} 编码；"
                           f"请转换：iconv -f {enc.upper()} -t UTF-8 {path} > {Path(path).stem}"
                           ".utf8.jsonl")
    raise DatasetError(f"无法读取数据集 {path}：文件不是 UTF-8 文本")


def check_dataset(path: Path | str, corpus: Corpus) -> tuple[list[GoldQuestion], list[BadRow]]:
    """Validate a dataset file against a corpus; returns (good questions, bad rows).

    Raises:
        DatasetError: the file cannot be read, or is not UTF-8 (the message names the encoding).
    """
    sections = {(s.doc_id, s.chapter, s.section): s for s in corpus.sections}
    good: list[GoldQuestion] = []
    bad: list[BadRow] = []
    seen: dict[str, int] = {}
    for no, line in enumerate(_read_lines(path), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            bad.append(BadRow(no, None, (f"不是合法的 JSON（第 {exc.colno} 列：{exc.msg}）",)))
            continue
        rid = row.get("id") if isinstance(row, dict) and isinstance(row.get("id"), str) else None
        q, problems = _check_row(row, no, corpus, sections)
        if rid is not None and rid in seen:
            problems = [f"id 重复（首次出现在第 {seen[rid]} 行）", *problems]
        elif rid is not None:
            seen[rid] = no
        if problems:
            bad.append(BadRow(no, rid, tuple(problems)))
        else:
            good.append(q)
    if not good and not bad:
        bad.append(BadRow(0, None, ("数据集为空",)))
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
