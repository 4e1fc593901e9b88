"""Match a 多少/目标 question to the target rows (rag.targets) whose 指标 it asks about.

:func:`match_targets` is what the answerer calls: for 「到2025年5G基站要达到多少座？」 it returns
the 5G基站 row (12万座) first. A row matches when the question's jieba tokens cover most of its
指标 or most of the question's topic tokens are found in it (the sentence adds a little); a year or period in the question (2025, 十四五末, 十三五,
2020, 2035) and a count word (多少家) rank rows of that time and unit first, and rows of other
times stay in the list (a 十三五 result next to a 十四五 target, both labelled by 时间/性质).

:func:`answer_text` words the matched rows as the direct answer, each labelled with its time
frame and kind (「5G基站：12万座（十四五 目标）」); :func:`direct_answer` adds [n] markers and the
:class:`~rag.citations.Citation` of each row's sentence (one per sentence).

Not handled here: deciding when the answerer prefers a row over retrieved sentences (the
answerer), questions without a quantity word (they match nothing).
"""

from __future__ import annotations

import re

from rag.citations import Citation
from rag.targets import Target
from rag.wordseg import tokenize

_QUANTITY_Q = re.compile(r"多少|几[个家座项所条万亿]|目标|多大|多高|多长|比重|占比|比例|规模|数量|"
                         r"达到|增长|提高|是几|有几")
_NOT_TOPIC = set("多少 几 目标 达到 达 要 到 年 末 时 时期 期间 预期 计划 力争 实现 提高 增长 多大 "
                 "多高 十四五 十三五 规划 期末 全省 山西 我省 2020 2025 2035".split())
_TIME_Q = (("十四五末", re.compile(r"十四五.?末|期末")), ("2025", re.compile(r"2025")),
           ("十三五", re.compile(r"十三五")), ("2020", re.compile(r"2020")),
           ("2035", re.compile(r"2035")), ("十四五", re.compile(r"十四五")))
_PLAN_END = {"2025", "十四五末", "十四五"}  # the plan's horizon: one time frame for a question
MIN_COVERAGE = 0.5


def is_quantity_question(question: str) -> bool:
    return bool(_QUANTITY_Q.search(question or ""))


def _question_time(question: str) -> str | None:
    for name, pat in _TIME_Q:
        if pat.search(question):
            return name
    return None


def _coverage(tokens: list[str], text: str) -> tuple[float, int]:
    """Share of ``text``'s characters covered by question tokens, and the longest token found."""
    low = text.lower()
    covered = [False] * len(low)
    longest = 0
    for tok in tokens:
        for m in re.finditer(re.escape(tok), low):
            covered[m.start():m.end()] = [True] * (m.end() - m.start())
            longest = max(longest, len(tok))
    return (sum(covered) / len(low) if low else 0.0), longest


def _time_fit(row: Target, wanted: str | None) -> int:
    if wanted is None:
        return 1
    if row.时间 == wanted or (wanted in _PLAN_END and row.时间 in _PLAN_END):
        return 2
    return 0


def match_targets(rows: list[Target], question: str, limit: int = 5) -> list[Target]:
    """Rows whose 指标 the quantity question asks about, best first ([] if none or not a 多少 question)."""
    if not is_quantity_question(question):
        return []
    tokens = [t for t in dict.fromkeys(tokenize(question)) if t not in _NOT_TOPIC and not t.isdigit()]
    if not tokens:
        return []
    wanted = _question_time(question)
    unit = re.search(r"多少([^\s，。？?！!]{1,2})", question)
    scored = []
    for row in rows:
        cov, longest = _coverage(tokens, row.指标)
        low = row.指标.lower()
        q_cov = sum(len(t) for t in tokens if t in low) / sum(len(t) for t in tokens)
        if max(cov, q_cov) < MIN_COVERAGE or longest < 2:
            continue
        ctx, _ = _coverage(tokens, row.sentence)
        unit_fit = bool(unit and row.单位 and unit.group(1)[0] in row.单位)
        scored.append((cov + q_cov + 0.2 * ctx, _time_fit(row, wanted), unit_fit, row))
    if not scored:
        return []
    best = max(s[0] for s in scored)
    kept = [s for s in scored if s[0] >= 0.8 * best]
    kept.sort(key=lambda s: (-s[1], -s[2], -s[0], s[3].span))
    return [s[3] for s in kept[:limit]]


_BEFORE = ("力争", "争取", "预计", "累计", "突破", "超过", "约", "近", "不低于", "不少于", "不超过")


def value_text(row: Target) -> str:
    """数值 with its unit and modifiers as the plan says it: 「力争1700亿元左右」."""
    mods = row.修饰.split("、") if row.修饰 else []
    before = "".join(m for m in mods if m in _BEFORE)
    after = "".join(m for m in mods if m not in _BEFORE)
    return f"{before}{row.数值}{row.单位}{after}"


def time_text(row: Target) -> str:
    """「2025年 目标」, 「十三五 实绩」: the row's time frame and kind."""
    when = f"{row.时间}年" if row.时间.isdigit() else row.时间
    return f"{when} {row.性质}".strip()


def answer_text(rows: list[Target]) -> str:
    """The direct answer from matched rows: one labelled clause per row (「；」 between rows)."""
    return "；".join(f"{t.指标}：{value_text(t)}（{time_text(t)}）" for t in rows)


def direct_answer(rows: list[Target]) -> tuple[str, list[Citation]]:
    """``(text with [n] markers, citations)`` for matched rows; rows quoting one sentence share n."""
    cites: dict[tuple[int, int], Citation] = {}
    parts = []
    for t in rows:
        c = cites.setdefault(t.span, Citation(len(cites) + 1, t.ref, t.sentence, t.span))
        parts.append(f"{t.指标}：{value_text(t)}（{time_text(t)}）[{c.n}]")
    return "；".join(parts), list(cites.values())
