"""Quiz builder: grounded 填空 (cloze), 单选 (choice) and 判断 (judge) items from the plan's sections.

Works from :class:`rag.corpus.Section` records only (no index, no embedder), so it is fast and
deterministic: the same sections, options and seed always give the same quiz. Every item is built
from one source sentence whose file span it records; a *fact* in that sentence is blanked or
perturbed. Facts are numbers with a unit (5000家, 50%, 1400万人次, 2025年), quoted programmes or
slogans (“1331”, “六新”) and place/organisation names from a small gazetteer. A blank or a
perturbation always covers whole jieba tokens and whole numbers.

Choice distractors are facts of the same kind from elsewhere in the plan (same unit, same kind of
quote, same kind of place, or another section title for 「出自哪一节」 items); ``difficulty`` picks
them near (hard: close in magnitude / same chapter) or far (easy). Judge items are the original
sentence (正确) or the sentence with one fact swapped (错误), never a sentence the plan contains.

Not handled here: exports, grading, the grounding check ``check_item`` and the ``quiz`` CLI
(rag/quiz_export.py, which builds on this module), the app tab, and LLM-written questions (not
implemented).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from dataclasses import asdict, dataclass
from functools import lru_cache
from random import Random
from typing import Iterable, Sequence

from rag.chunking import split_sentences
from rag.corpus import Section
from rag.errors import RagError

QUIZ_TYPES = ("cloze", "choice", "judge")
TYPE_NAMES = {"cloze": "填空题", "choice": "单选题", "judge": "判断题"}
DIFFICULTIES = ("easy", "medium", "hard")
JUDGE_OPTIONS = ("正确", "错误")
CLOZE_BLANK = "____"
CHOICE_BLANK = "（　　）"
MAX_ITEMS = 500
_MIN_SENT, _MAX_SENT = 14, 160  # shorter: a heading-like fragment; longer: unreadable as a stem

# Longest first so 万千瓦 wins over 千瓦 and 个百分点 over 个.
_UNITS = sorted("""万亿元 亿元 万元 亿美元 万美元 美元 亿公斤 万公斤 亿立方米 亿方 万千瓦 千瓦 亿吨 万吨 吨
万人次 万人 人次 万户 户 家 个百分点 万个 个 项 条 万座 座 万公里 公里 万平方公里 平方公里 万亩 亩 % 倍
岁 所 处 万辆 万套 千伏 年 万""".split(), key=len, reverse=True)
_NUMBER = re.compile(r"(?<![\d.．A-Za-z])(\d+(?:\.\d+)?)(?:([—\-~～])(\d+(?:\.\d+)?))?("
                     + "|".join(map(re.escape, _UNITS)) + r")(?![\d.A-Za-z])")
_QUOTE = re.compile(r"“([^“”\n]{2,12})”")
# Small gazetteer: name -> kind. Longest match wins (太原理工大学 over 太原).
_PLACES = {
    **{c: "place:city" for c in "太原 大同 朔州 忻州 吕梁 晋中 阳泉 长治 晋城 临汾 运城".split()},
    **{r: "place:river" for r in "汾河 桑干河 滹沱河 漳河 沁河 涑水河 大清河 黄河".split()},
    **{m: "place:mountain" for m in "太行山 吕梁山 五台山 恒山 中条山".split()},
    **{g: "place:region" for g in "京津冀 长三角 粤港澳大湾区 雄安新区 关中平原城市群 中原城市群 环渤海 "
       "黄河流域 晋北 晋南 晋东南".split()},
    **{u: "org:university" for u in "清华大学 北京大学 山西大学 太原理工大学 中北大学".split()},
}
_PLACE_RE = re.compile("|".join(sorted(map(re.escape, _PLACES), key=len, reverse=True)))
_SENT_PUNCT = "。！？；!?;"


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


@dataclass(frozen=True)
class Fact:
    """A testable phrase inside a sentence; start/end are relative to the sentence text."""

    start: int
    end: int
    text: str
    kind: str
    value: float | None = None  # numbers only (first number of a range)


@dataclass(frozen=True)
class Sentence:
    """A source sentence (whitespace-trimmed) with its file span and facts."""

    section: Section
    start: int
    end: int
    text: str
    facts: tuple[Fact, ...]


# ------------------------------------------------------------------ analysis


@lru_cache(maxsize=1)
def _jieba():
    from rag.wordseg import _jieba as load

    return load()


def _boundaries(text: str) -> set[int]:
    """Offsets where a jieba token starts or ends (a blank must begin and end on these)."""
    out = {0, len(text)}
    for _, a, b in _jieba().tokenize(text):
        out.update((a, b))
    return out


def _number_kind(m: re.Match) -> str:
    unit = m.group(4)
    if m.group(2):
        return f"range:{unit}"
    if unit == "年" and re.fullmatch(r"(19|20)\d\d", m.group(1)):
        return "year"
    return f"num:{unit}"


def find_facts(text: str) -> list[Fact]:
    """Numbers with units, quoted terms and gazetteer names in ``text``, aligned to jieba tokens."""
    bounds = _boundaries(text)
    facts: list[Fact] = []
    for m in _QUOTE.finditer(text):
        inner = m.group(1)
        kind = "quote:code" if re.fullmatch(r"[\dA-Za-z+]+", inner) else "quote:term"
        facts.append(Fact(m.start(1), m.end(1), inner, kind))
    taken = [(f.start - 1, f.end + 1) for f in facts]  # the quote marks belong to the quote

    def free(a: int, b: int) -> bool:
        return all(b <= x or a >= y for x, y in taken)

    for m in _PLACE_RE.finditer(text):
        if free(m.start(), m.end()) and m.start() in bounds and m.end() in bounds:
            facts.append(Fact(m.start(), m.end(), m.group(0), _PLACES[m.group(0)]))
            taken.append((m.start(), m.end()))
    for m in _NUMBER.finditer(text):
        if free(m.start(), m.end()) and m.start() in bounds and m.end() in bounds:
            facts.append(Fact(m.start(), m.end(), m.group(0), _number_kind(m), float(m.group(1))))
    return sorted(facts, key=lambda f: f.start)


def section_sentences(section: Section) -> list[Sentence]:
    """Complete sentences of a section (ending in 。；！？) with their file spans and facts."""
    out, rel = [], 0
    for a, b in section.parts:
        piece = section.text[rel:rel + (b - a)]
        for s, e in split_sentences(piece, a):
            raw = piece[s - a:e - a]
            text = raw.strip()
            if not text or text[-1] not in _SENT_PUNCT:
                continue  # headings, list labels and metadata lines carry no sentence mark
            s += len(raw) - len(raw.lstrip())
            if not _MIN_SENT <= len(text) <= _MAX_SENT:
                continue
            out.append(Sentence(section, s, s + len(text), text, tuple(find_facts(text))))
        rel += b - a
    return out


@lru_cache(maxsize=4)
def _analyse(sections: tuple[Section, ...]) -> tuple[Sentence, ...]:
    return tuple(s for sec in sections for s in section_sentences(sec))


# ------------------------------------------------------------------ distractors


def _fmt_number(x: float, like: str) -> str:
    decimals = len(like.split(".")[1]) if "." in like else 0
    return f"{x:.{decimals}f}" if decimals else str(int(round(x)))


def _synthetic(fact: Fact, difficulty: str) -> list[str]:
    """Same-unit numbers near (hard) or far (easy) from the fact, for when the plan has too few."""
    m = _NUMBER.fullmatch(fact.text)
    if not m:
        return []
    first, dash, second, unit = m.groups()
    if fact.kind == "year":
        steps = {"hard": (1, -1, 2, -2, 3), "medium": (5, -5, 3, -3, 10), "easy": (10, -10, 15, -15, 5)}
        return [f"{int(first) + d}{unit}" for d in steps[difficulty]]
    factors = {"hard": (1.2, 0.8, 1.5, 0.75, 1.25), "medium": (1.5, 0.5, 2, 0.6, 3),
               "easy": (3, 0.2, 5, 0.1, 10)}[difficulty]
    out = []
    for f in factors:
        a = _fmt_number(float(first) * f, first)
        if unit == "%" and float(a) > 100:
            continue
        b = _fmt_number(float(second) * f, second) if dash else None
        if float(a) <= 0 or a == first:
            continue
        out.append(f"{a}{dash}{b}{unit}" if dash else f"{a}{unit}")
    return out


def _closeness(fact: Fact, sent: Sentence, cand: tuple[str, Section, float | None]) -> tuple:
    """Sort key: smaller = a closer, harder distractor."""
    text, sec, value = cand
    other_chapter = sec.chapter != sent.section.chapter
    if fact.value is not None and value is not None and fact.value > 0 and value > 0:
        return (abs(math.log10(value) - math.log10(fact.value)), other_chapter, text)
    return (other_chapter, abs(len(text) - len(fact.text)), text)


def _pick(cands: list, key, rng: Random, difficulty: str, k: int) -> list:
    """k of ``cands``: from the closest few (hard), the far half (easy) or all (medium)."""
    ordered = sorted(cands, key=key)
    if difficulty == "hard":
        ordered = ordered[:max(k + 2, len(ordered) // 4)]
    elif difficulty == "easy" and len(ordered) >= 2 * k:
        ordered = ordered[len(ordered) // 2:]
    return rng.sample(ordered, min(k, len(ordered)))


class _Pools:
    """Facts and section titles of the whole plan, by kind, in document order."""

    def __init__(self, sentences: Sequence[Sentence], sections: Sequence[Section]):
        self.facts: dict[str, dict[str, tuple[str, Section, float | None]]] = defaultdict(dict)
        for s in sentences:
            for f in s.facts:
                self.facts[f.kind].setdefault(f.text, (f.text, s.section, f.value))
        self.titles = [sec for sec in sections if sec.section > 0]
        self.plan_text = "\n".join(sec.text for sec in sections)

    def distractors(self, fact: Fact, sent: Sentence, rng: Random, difficulty: str,
                    k: int = 3) -> list[str]:
        """k unique same-kind values, none equal to the fact or present in the sentence."""
        def ok(text: str) -> bool:
            return text != fact.text and text not in sent.text and fact.text not in text

        cands = [c for c in self.facts.get(fact.kind, {}).values() if ok(c[0])
                 and (fact.value is None or c[2] != fact.value)]
        out = [c[0] for c in _pick(cands, lambda c: _closeness(fact, sent, c), rng, difficulty, k)]
        if len(out) < k and fact.value is not None:
            for text in _synthetic(fact, difficulty):
                if len(out) < k and ok(text) and text not in out:
                    out.append(text)
        return out if len(out) == k else []

    def title_distractors(self, sent: Sentence, rng: Random, difficulty: str) -> list[str]:
        """Three other section titles (siblings when hard, other chapters when easy)."""
        me = sent.section
        cands = [t for t in self.titles if t.section_title != me.section_title]
        cands = list({t.section_title: t for t in cands}.values())
        key = lambda t: (t.chapter != me.chapter, abs(t.chapter - me.chapter),  # noqa: E731
                         abs(t.section - me.section), t.section_title)
        picked = _pick(cands, key, rng, difficulty, 3)
        return [t.section_title for t in picked] if len(picked) == 3 else []


# ------------------------------------------------------------------ item builders


def _base(sent: Sentence, **kw) -> dict:
    sec = sent.section
    return dict(explanation=sent.text, citation=f"「{sec.label}」", doc_id=sec.doc_id,
                chapter=sec.chapter, section=sec.section, span=(sent.start, sent.end), **kw)


def _blank(sent: Sentence, fact: Fact, mark: str) -> str:
    return sent.text[:fact.start] + mark + sent.text[fact.end:]


def _make(kind: str, sent: Sentence, fact: Fact | None, pools: _Pools, rng: Random,
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
    sentences = _analyse(sections)
    pools = _Pools(sentences, sections)
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


def _take(queue: list, kind: str, pools: _Pools, rng: Random, difficulty: str,
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
