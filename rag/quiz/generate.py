"""Quiz generation: which sentences and facts become items, spread over the plan and levels.

Works from :class:`rag.corpus.Section` records only (no index, no embedder), so it is fast and
deterministic: the same sections, options and seed always give the same quiz. Candidates are
every askable fact (rules.askable), list (text.enumerations) and, when asked for, sentence for
「出自哪一节」; each has a level (rules.level). The quiz draws them in a weighted random order
from the whole chosen range (not section by section, so chapter openings are not favoured),
with a cap per section and per chapter, one item per sentence, 判断 answers balanced 50/50, and
a level blend set by ``difficulty`` ("mixed" = 30% easy, 40% medium, 30% hard). Items whose
sentence was already handed out (``exclude``) are skipped.

Not handled here: item builders (items.py), distractors, grading, exports, the CLI and app.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from random import Random
from typing import Iterable, Sequence

from rag.corpus import Section
from rag.errors import RagError
from rag.quiz.distractors import Pools
from rag.quiz.facts import _PLACES, Fact, Sentence, analyse_sections
from rag.quiz.items import (CHOICE_BLANK, CLOZE_BLANK, DEFAULT_TYPES, JUDGE_OPTIONS, QUIZ_TYPES,
                            TYPE_NAMES, QuizItem, build_fact_item, build_multi, build_source)
from rag.quiz.rules import LEVELS, MAX_ANSWER, askable, level
from rag.quiz.text import enumerations

__all__ = ["CHOICE_BLANK", "CLOZE_BLANK", "DEFAULT_TYPES", "DIFFICULTIES", "JUDGE_OPTIONS",
           "MAX_ITEMS", "QUIZ_TYPES", "TYPE_NAMES", "QuizError", "QuizItem", "generate_quiz",
           "select_sections"]

DIFFICULTIES = ("mixed", "easy", "medium", "hard")
MAX_ITEMS = 500
SOURCE_SHARE = 0.1  # 出自哪一节 is capped at this share of the quiz
_BLEND = {"mixed": {"easy": 0.3, "medium": 0.4, "hard": 0.3},
          **{lv: {lv: 1.0} for lv in LEVELS}}
_WEIGHTS = {"num": 3.0, "range": 3.0, "year": 1.0, "place": 1.5, "org": 1.0, "quote": 1.5,
            "suffix": 1.0, "section": 1.0}


class QuizError(RagError):
    """A quiz request cannot be met (unknown chapter/type, too many items, …)."""


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


def parse_types(types) -> tuple[str, ...]:
    """Item types from a list or a comma-separated string, checked."""
    if isinstance(types, str):
        types = types.replace("，", ",").split(",")
    types = tuple(dict.fromkeys(t.strip() for t in types if t.strip()))
    if not types:
        raise QuizError("题型为空：请至少选择 cloze（填空）、choice（单选）、multi（多选）、judge（判断）之一")
    unknown = [t for t in types if t not in QUIZ_TYPES]
    if unknown:
        raise QuizError(f"未知题型：{','.join(unknown)}；可选 {', '.join(QUIZ_TYPES)}")
    return types


def _check_request(n, types, difficulty) -> tuple[str, ...]:
    types = parse_types(types)
    if difficulty not in DIFFICULTIES:
        raise QuizError(f"未知难度：{difficulty}；可选 {', '.join(DIFFICULTIES)}")
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= MAX_ITEMS:
        raise QuizError(f"题目数量应为 1–{MAX_ITEMS} 的整数，收到 {n!r}")
    return types


# ------------------------------------------------------------------ candidates


def _candidates(kind: str, sentences: Iterable[Sentence], plan_text: str) -> list[tuple]:
    """(sentence, fact-or-list-or-None, level, weight) that may carry an item of ``kind``."""
    out = []
    for s in sentences:
        if s.section.chapter == 0:
            continue
        opening = 0.6 if s.section.section == 0 else 1.0
        if kind == "multi":
            for e in enumerations(s.text, _PLACES):
                lv = "easy" if e.kind.startswith("place") else "medium" if len(e.members) == 3 \
                    else "hard"  # recalling which of 4–8 parallel phrases the plan lists is hard
                out.append((s, e, lv, opening))
            continue
        if kind == "source":
            if len(s.text) >= 20:
                out.append((s, None, "hard", opening))
            continue
        for f in s.facts:
            if s.text.count(f.text) != 1 or not askable(f, s):
                continue
            if kind == "cloze" and len(f.text) > MAX_ANSWER and not f.kind.startswith(("num", "range")):
                continue
            out.append((s, f, level(f, plan_text), _WEIGHTS[f.kind.split(":")[0]] * opening))
    return out


def _share(queues: dict[str, list[tuple]]) -> dict[str, list[tuple]]:
    """Divide each candidate's weight by its sentence's number of candidates over all types, so a
    sentence with many facts and a list (太原、大同、临汾…) is not drawn more often than others."""
    per = Counter(c[0].start for cands in queues.values() for c in cands)
    return {t: [(s, w, lv, weight / per[s.start]) for s, w, lv, weight in cands]
            for t, cands in queues.items()}


def _order(cands: list[tuple], rng: Random) -> list[tuple]:
    """Weighted random order (Efraimidis–Spirakis): heavier candidates tend to come first."""
    keys = [rng.random() ** (1.0 / c[3]) for c in cands]
    return [c for _, c in sorted(zip(keys, range(len(cands))), key=lambda x: -x[0])
            for c in [cands[c]]]


def _quotas(n: int, types: tuple[str, ...]) -> dict[str, int]:
    """Items per type: 出自哪一节 capped at SOURCE_SHARE, the rest shared evenly."""
    q = dict.fromkeys(types, 0)
    rest = list(types)
    if "source" in q and len(types) > 1:
        q["source"] = max(1, int(n * SOURCE_SHARE))
        rest.remove("source")
    left = n - sum(q.values())
    for i in range(left):
        q[rest[i % len(rest)]] += 1
    return q


def _slots(quota: int, difficulty: str, pool: Counter) -> list[str]:
    """Levels for ``quota`` items following the difficulty's blend (largest remainders).

    In a mixed blend a level draws at most a sixth of its candidates, the rest going to the
    level with most candidates, so a scarce level is not asked in every quiz of a series.
    """
    blend = _BLEND[difficulty]
    raw = {lv: quota * w for lv, w in blend.items()}
    counts = {lv: int(v) for lv, v in raw.items()}
    short = quota - sum(counts.values())
    for lv in sorted(raw, key=lambda lv: (counts[lv] - raw[lv], LEVELS.index(lv)))[:short]:
        counts[lv] += 1
    if difficulty == "mixed":
        big = max(LEVELS, key=lambda lv: (pool[lv], -LEVELS.index(lv)))
        for lv in LEVELS:
            extra = counts[lv] - max(1, pool[lv] // 6)
            if lv != big and extra > 0:
                counts[lv] -= extra
                counts[big] += extra
    return [lv for lv in LEVELS for _ in range(counts.get(lv, 0))]


def _nearest(lv: str) -> list[str]:
    i = LEVELS.index(lv)
    return sorted(LEVELS, key=lambda x: (abs(LEVELS.index(x) - i), LEVELS.index(x)))


def generate_quiz(sections: Sequence[Section], *, n: int, types=DEFAULT_TYPES, seed: int = 0,
                  difficulty: str = "mixed", chapters=None, section_keys=None,
                  exclude: Iterable = ()) -> list[QuizItem]:
    """Build ``n`` grounded items spread over the chosen sections; same inputs + seed → same quiz.

    Args:
        sections: all sections of the plan (from ``load_corpus(...).sections`` or ``Index.sections``);
            distractors come from all of them, questions only from the chosen ones.
        n: number of items (1–500).
        types: any of cloze, choice, multi, judge, source (a list or a comma-separated string).
        seed: random seed; the only source of randomness.
        difficulty: "mixed" (default blend) | "easy" | "medium" | "hard": which items are chosen
            (how recallable the answer is) and how close their distractors are.
        chapters: chapter numbers to draw from (None = all).
        section_keys: ``(chapter, section)`` pairs or "2.1" strings; a key narrows its chapter.
        exclude: items (QuizItem or their JSON dicts) already handed out; their sentences are
            not asked again.

    Raises:
        QuizError: unknown chapter/section/type/difficulty, empty types, bad n, or fewer possible
            distinct items than ``n``.
    """
    types = _check_request(n, types, difficulty)
    sections = tuple(sections)
    if not sections:
        raise QuizError("没有可出题的章节：语料为空")
    chosen = select_sections(sections, chapters, section_keys)
    chosen_keys = {s.key for s in chosen}
    sentences = analyse_sections(sections)
    mine = [s for s in sentences if s.section.key in chosen_keys]
    lists = [(s, e) for s in sentences for e in enumerations(s.text, _PLACES)]
    pools = Pools(sentences, sections, lists)
    done = {(d["doc_id"], tuple(d["span"])) if isinstance(d, dict) else (d.doc_id, tuple(d.span))
            for d in exclude}
    mine = [s for s in mine if (s.section.doc_id, (s.start, s.end)) not in done]
    rng = Random(seed)
    queues = _share({t: _candidates(t, mine, pools.plan_text) for t in types})
    queues = {t: _order(queues[t], rng) for t in types}
    quotas = _quotas(n, types)
    slots = [(t, lv) for t in types
             for lv in _slots(quotas[t], difficulty, Counter(c[2] for c in queues[t]))]
    rng.shuffle(slots)
    n_sections = max(1, len({s.section.key for c in queues.values() for s, *_ in c}))
    n_chapters = max(1, len({s.section.chapter for c in queues.values() for s, *_ in c}))
    judge_truth = [i % 2 == 0 for i in range(sum(t == "judge" for t, _ in slots))]
    rng.shuffle(judge_truth)
    state = _State(rng, pools, judge_truth)
    # passes: spread caps on; caps off; finally a sentence may carry a second item of another type
    for caps, reuse in (((math.ceil(1.5 * n / n_sections), math.ceil(1.5 * n / n_chapters) + 1),
                         False), ((None, None), False), ((None, None), True)):
        pending, slots = slots, []
        for t, lv in pending:
            if not state.fill(queues, t, lv, caps, reuse) and not any(
                    state.fill(queues, t2, lv, caps, reuse) for t2 in types if t2 != t):
                slots.append((t, lv))
        if not slots:
            break
    items = state.items
    if len(items) < n:
        where = "、".join(f"第{c}章" for c in sorted({s.chapter for s in chosen}))
        raise QuizError(f"所选范围（{where}）只能出 {len(items)} 道不重复的题，少于请求的 {n} 道："
                        "请减少题数、增加题型或扩大章节范围")
    rank = {t: i for i, t in enumerate(QUIZ_TYPES)}
    return sorted(items, key=lambda it: (rank[it.type], it.span, it.id))


def _topic(sent: Sentence, what) -> str:
    """The tested phrase with the words right after it: equal topics test the same fact."""
    if what is None:
        return ""
    if isinstance(what, Fact):
        return sent.text[what.start:what.end + 4]
    return "、".join(sorted(what.members))


class _State:
    """What the quiz holds so far: items, used sentences and stems, counts per section/chapter."""

    def __init__(self, rng: Random, pools: Pools, judge_truth: list[bool]):
        self.rng, self.pools, self.judge_truth = rng, pools, judge_truth
        self.items: list[QuizItem] = []
        self.used: set[tuple] = set()  # (sentence start, None) and (sentence start, type)
        self.stems: set[str] = set()
        self.topics: set[str] = {""}
        self.per_section: Counter = Counter()
        self.per_chapter: Counter = Counter()

    def fill(self, queues: dict, kind: str, lv: str, caps, reuse: bool = False) -> bool:
        """Add one item of ``kind`` at level ``lv`` (or the nearest level that has one); with
        ``reuse`` a sentence already asked may carry it if no item of this type used it."""
        for want in _nearest(lv):
            queue = queues[kind]
            for i, cand in enumerate(queue):
                sent, what, clv, _ = cand
                if clv != want or (sent.start, kind if reuse else None) in self.used:
                    continue
                sec = sent.section
                if caps[0] is not None and (self.per_section[sec.key] >= caps[0]
                                            or self.per_chapter[sec.chapter] >= caps[1]):
                    continue
                topic = _topic(sent, what)
                if topic and topic in self.topics:
                    continue  # the same fact in the same words (14个战略性新兴产业集群) once a quiz
                item = self._build(kind, sent, what, clv)
                if item is None or item.stem in self.stems:
                    continue
                del queue[i]
                self.items.append(item)
                self.used.update({(sent.start, None), (sent.start, kind)})
                self.stems.add(item.stem)
                self.topics.add(topic)
                self.per_section[sec.key] += 1
                self.per_chapter[sec.chapter] += 1
                return True
        return False

    def _build(self, kind: str, sent: Sentence, what, lv: str) -> QuizItem | None:
        if kind == "multi":
            return build_multi(sent, what, lv, self.pools, self.rng)
        if kind == "source":
            return build_source(sent, self.pools, self.rng)
        truth = True
        if kind == "judge":  # planned answers first, then whichever side is behind
            judged = [it.answer == "正确" for it in self.items if it.type == "judge"]
            truth = self.judge_truth[len(judged)] if len(judged) < len(self.judge_truth) \
                else sum(judged) * 2 < len(judged) + 1
        return build_fact_item(kind, sent, what, lv, self.pools, self.rng, truth)
