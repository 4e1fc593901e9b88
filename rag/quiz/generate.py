"""Quiz generation: grounded 填空 (cloze), 单选 (choice) and 判断 (judge) items from the plan's sections.

Works from :class:`rag.corpus.Section` records only (no index, no embedder), so it is fast and
deterministic: the same sections, options and seed always give the same quiz. Every item is built
from one source sentence whose file span it records; a *fact* in that sentence (rag.quiz.facts)
is blanked or perturbed. Judge items are the original sentence (正确) or the sentence with one
fact swapped (错误), never a sentence the plan contains.

Not handled here: distractors (distractors.py), grading and the grounding check (grading.py),
exports (export.py), the ``quiz`` CLI (rag/cli/quiz.py), the app tab, and LLM-written questions
(not implemented).
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from random import Random
from typing import Iterable, Sequence

from rag.corpus import Section
from rag.errors import RagError
from rag.quiz.distractors import Pools
from rag.quiz.facts import Fact, Sentence, analyse_sections

QUIZ_TYPES = ("cloze", "choice", "judge")
TYPE_NAMES = {"cloze": "填空题", "choice": "单选题", "judge": "判断题"}
DIFFICULTIES = ("easy", "medium", "hard")
JUDGE_OPTIONS = ("正确", "错误")
CLOZE_BLANK = "____"
CHOICE_BLANK = "（　　）"
MAX_ITEMS = 500


class QuizError(RagError):
    """A quiz request cannot be met (unknown chapter/type, too many items, …)."""


@dataclass(frozen=True)
class QuizItem:
    """One question with its answer key and source.

    ``options``: empty for cloze, 4 strings for choice, ``("正确", "错误")`` for judge; ``answer`` is
    the option text (not a letter). ``span`` is the source sentence's char span in the document
    file and ``explanation`` is exactly that sentence. ``fact`` is the grounded phrase of the
    sentence the item tests (the blanked text; for a judge item the phrase that was or could be
    swapped; empty for 「出自哪一节」 items, whose answer is the section title).
    """

    id: str
    type: str
    stem: str
    options: tuple[str, ...]
    answer: str
    explanation: str
    citation: str
    doc_id: str
    chapter: int
    section: int
    span: tuple[int, int]
    fact: str = ""
    kind: str = ""  # e.g. num:家, year, quote:term, place:city, section
    difficulty: str = "medium"

    def to_json(self) -> dict:
        """Plain dict (lists for tuples) for JSON export and app state."""
        d = asdict(self)
        d["options"] = list(self.options)
        d["span"] = list(self.span)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "QuizItem":
        """Inverse of :meth:`to_json`."""
        return cls(**{**d, "options": tuple(d["options"]), "span": tuple(d["span"])})


# ------------------------------------------------------------------ item builders


def _base(sent: Sentence, **kw) -> dict:
    sec = sent.section
    return dict(explanation=sent.text, citation=f"「{sec.label}」", doc_id=sec.doc_id,
                chapter=sec.chapter, section=sec.section, span=(sent.start, sent.end), **kw)


def _blank(sent: Sentence, fact: Fact, mark: str) -> str:
    return sent.text[:fact.start] + mark + sent.text[fact.end:]


def _make(kind: str, sent: Sentence, fact: Fact | None, pools: Pools, rng: Random,
          difficulty: str) -> dict | None:
    """Build one item's fields, or None when this sentence/fact cannot carry that type."""
    if kind == "cloze":
        return _base(sent, type="cloze", stem=_blank(sent, fact, CLOZE_BLANK), options=(),
                     answer=fact.text, fact=fact.text, kind=fact.kind)
    if kind == "choice" and fact is None:
        if not sent.section.section or pools.plan_text.count(sent.text) != 1:
            return None
        wrong = pools.title_distractors(sent, rng, difficulty)
        if not wrong:
            return None
        options = wrong + [sent.section.section_title]
        rng.shuffle(options)
        return _base(sent, type="choice", stem=f"「{sent.text}」这句话出自规划的哪一节？",
                     options=tuple(options), answer=sent.section.section_title, kind="section")
    if kind == "choice":
        wrong = pools.distractors(fact, sent, rng, difficulty)
        if not wrong:
            return None
        options = wrong + [fact.text]
        rng.shuffle(options)
        return _base(sent, type="choice", stem=_blank(sent, fact, CHOICE_BLANK),
                     options=tuple(options), answer=fact.text, fact=fact.text, kind=fact.kind)
    # judge: a fair coin decides whether this one is the original or a perturbation
    if rng.random() < 0.5:
        return _base(sent, type="judge", stem=sent.text, options=JUDGE_OPTIONS, answer="正确",
                     fact=fact.text, kind=fact.kind)
    wrong = pools.distractors(fact, sent, rng, difficulty, k=1)
    if not wrong:
        return None
    stem = _blank(sent, fact, wrong[0])
    if stem == sent.text or stem in pools.plan_text:  # must really change what the plan says
        return None
    return _base(sent, type="judge", stem=stem, options=JUDGE_OPTIONS, answer="错误",
                 fact=fact.text, kind=fact.kind)


def _candidates(kind: str, sentences: Iterable[Sentence]) -> list[tuple[Sentence, Fact | None]]:
    """(sentence, fact) pairs that may carry an item of ``kind``, in document order."""
    out = []
    for s in sentences:
        for f in s.facts:
            if s.text.count(f.text) == 1:  # else the blank would still show the answer
                out.append((s, f))
        if kind == "choice" and len(s.text) >= 20:
            out.append((s, None))
    return out


# ------------------------------------------------------------------ selection


# Numbers are the facts trainers care most about but the rarest in the plan: draw them first more often.
_WEIGHTS = {"num": 4.0, "year": 4.0, "range": 4.0, "place": 2.0, "org": 2.0, "quote": 1.5}


def _weighted_shuffle(queue: list, rng: Random) -> None:
    """Order in place so that candidates are popped (from the end) in a weighted random order."""
    def weight(c) -> float:
        return 1.0 if c[1] is None else _WEIGHTS[c[1].kind.split(":")[0]]

    keys = [rng.random() ** (1.0 / weight(c)) for c in queue]  # Efraimidis–Spirakis sampling
    queue[:] = [queue[i] for _, i in sorted(zip(keys, range(len(queue))))]


def _parse_key(key) -> tuple[int, int]:
    if isinstance(key, str):
        m = re.fullmatch(r"\s*(\d+)\s*[.．]\s*(\d+)\s*", key)
        if not m:
            raise QuizError(f"节编号格式应为 章.节（如 2.1），收到「{key}」")
        return int(m[1]), int(m[2])
    chapter, section = key
    return int(chapter), int(section)


def select_sections(sections: Sequence[Section], chapters=None, section_keys=None) -> list[Section]:
    """Sections chosen by chapter numbers and/or ``章.节`` keys; a key narrows its own chapter."""
    have = sorted({s.chapter for s in sections})
    chapters = None if chapters is None else [int(c) for c in chapters]
    for c in chapters or []:
        if c not in have:
            raise QuizError(f"没有第 {c} 章：规划共有第 {have[0]}–{have[-1]} 章（0 为通知及序言）")
    keys = [_parse_key(k) for k in section_keys or []]
    all_keys = {(s.chapter, s.section) for s in sections}
    for k in keys:
        if k not in all_keys:
            raise QuizError(f"没有第 {k[0]} 章第 {k[1]} 节：请检查节编号（章.节，0 为章首）")
        if chapters is not None and k[0] not in chapters:
            raise QuizError(f"第 {k[0]}.{k[1]} 节不在所选的章（{','.join(map(str, chapters))}）中")
    if chapters is None and not keys:
        return list(sections)
    narrowed = {k[0] for k in keys}
    chosen_chapters = set(chapters or []) | narrowed
    return [s for s in sections if s.chapter in chosen_chapters
            and (s.chapter not in narrowed or (s.chapter, s.section) in keys)]


def _check_request(n, types, difficulty) -> tuple[str, ...]:
    if isinstance(types, str):
        types = [t for t in types.split(",")]
    types = tuple(dict.fromkeys(t.strip() for t in types if t.strip()))
    if not types:
        raise QuizError("题型为空：请至少选择 cloze（填空）、choice（单选）、judge（判断）之一")
    unknown = [t for t in types if t not in QUIZ_TYPES]
    if unknown:
        raise QuizError(f"未知题型：{','.join(unknown)}；可选 {', '.join(QUIZ_TYPES)}")
    if difficulty not in DIFFICULTIES:
        raise QuizError(f"未知难度：{difficulty}；可选 {', '.join(DIFFICULTIES)}")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_ITEMS:
        raise QuizError(f"题目数量应为 1–{MAX_ITEMS} 的整数，收到 {n!r}")
    return types


def generate_quiz(sections: Sequence[Section], *, n: int, types=QUIZ_TYPES, seed: int = 0,
                  difficulty: str = "medium", chapters=None, section_keys=None) -> list[QuizItem]:
    """Build ``n`` grounded items spread over the chosen sections; same inputs + seed → same quiz.

    Args:
        sections: all sections of the plan (from ``load_corpus(...).sections`` or ``Index.sections``);
            distractors come from all of them, questions only from the chosen ones.
        n: number of items (1–500).
        types: any of "cloze", "choice", "judge" (a list or a comma-separated string).
        seed: random seed; the only source of randomness.
        difficulty: "easy" | "medium" | "hard" (how close distractors are to the answer).
        chapters: chapter numbers to draw from (None = all).
        section_keys: ``(chapter, section)`` pairs or "2.1" strings; a key narrows its chapter.

    Raises:
        QuizError: unknown chapter/section/type/difficulty, empty types, bad n, or fewer possible
            distinct items than ``n``.
    """
    types = _check_request(n, types, difficulty)
    sections = tuple(sections)
    if not sections:
        raise QuizError("没有可出题的章节：语料为空")
    chosen = select_sections(sections, chapters, section_keys)
    sentences = analyse_sections(sections)
    pools = Pools(sentences, sections)
    rng = Random(seed)
    chosen_keys = [(s.doc_id, s.chapter, s.section) for s in chosen]
    by_section: dict[tuple, list[Sentence]] = defaultdict(list)
    for s in sentences:
        by_section[(s.section.doc_id, s.section.chapter, s.section.section)].append(s)
    # type -> section key -> shuffled candidate queue
    queues = {t: {k: _candidates(t, by_section[k]) for k in chosen_keys} for t in types}
    for t in types:
        for k in chosen_keys:
            _weighted_shuffle(queues[t][k], rng)
    order = list(chosen_keys)
    rng.shuffle(order)
    slots = [types[i % len(types)] for i in range(n)]
    items: list[dict] = []
    stems: set[str] = set()
    used: set[tuple[int, str]] = set()  # (sentence start, type): one item per sentence and type
    used_sent: set[int] = set()
    cursor = 0
    for strict in (True, False):  # first pass: one item per sentence; then allow reuse
        pending, slots = slots, []
        for t in pending:
            made = None
            for t2 in [t] + [x for x in types if x != t]:  # a dry type lends its slot to others
                for step in range(len(order)):
                    key = order[(cursor + step) % len(order)]
                    made = _take(queues[t2][key], t2, pools, rng, difficulty, stems, used,
                                 used_sent if strict else None)
                    if made:
                        cursor = (cursor + step + 1) % len(order)
                        break
                if made:
                    break
            if made:
                items.append(made)
            else:
                slots.append(t)
        if not slots:
            break
        for t in types:  # refill the queues for the relaxed pass
            for k in chosen_keys:
                queues[t][k] = [c for c in _candidates(t, by_section[k])
                                if (c[0].start, t) not in used]
                _weighted_shuffle(queues[t][k], rng)
    if len(items) < n:
        where = "、".join(f"第{c}章" for c in sorted({s.chapter for s in chosen}))
        raise QuizError(f"所选范围（{where}）只能出 {len(items)} 道不重复的题，少于请求的 {n} 道："
                        "请减少题数、增加题型或扩大章节范围")
    rank = {t: i for i, t in enumerate(QUIZ_TYPES)}
    items.sort(key=lambda d: (rank[d["type"]], d["span"]))
    return [QuizItem(id=f"q{i:03d}", difficulty=difficulty, **d) for i, d in enumerate(items, 1)]


def _take(queue: list, kind: str, pools: Pools, rng: Random, difficulty: str,
          stems: set[str], used: set, used_sent: set | None) -> dict | None:
    """Pop candidates until one yields a new item; record it as used."""
    while queue:
        sent, fact = queue.pop()
        if (sent.start, kind) in used or (used_sent is not None and sent.start in used_sent):
            continue
        if kind == "judge" and fact is None:
            continue
        item = _make(kind, sent, fact, pools, rng, difficulty)
        if item is None or item["stem"] in stems:
            continue
        stems.add(item["stem"])
        used.add((sent.start, kind))
        if used_sent is not None:
            used_sent.add(sent.start)
        return item
    return None
