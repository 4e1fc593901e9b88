"""Quiz items: the QuizItem record, its stable id, and the builders for each item type.

Types: 填空 (cloze), 单选 (choice), 多选 (multi), 判断 (judge) and the optional 出自哪一节
(source). Every builder works from one source sentence: the stem is the clause carrying the
fact (rag.quiz.text), the explanation is the whole sentence with full-width punctuation, and
false 判断 items record what was changed (「原文为X，题干改为Y」). A builder returns None when the
sentence cannot carry a good item of its type.

Not handled here: which sentences are chosen (generate.py), distractors (distractors.py),
quality rules (rules.py), grading and exports.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from random import Random

from rag.quiz.distractors import Pools
from rag.quiz.facts import Fact, Sentence
from rag.quiz.rules import swap
from rag.quiz.text import Enumeration, clause_span, fullwidth, stem_text

QUIZ_TYPES = ("cloze", "choice", "multi", "judge", "source")
DEFAULT_TYPES = ("cloze", "choice", "multi", "judge")
TYPE_NAMES = {"cloze": "填空题", "choice": "单选题", "multi": "多选题", "judge": "判断题",
              "source": "出处题"}
POINTS = {"cloze": 2, "choice": 2, "multi": 3, "judge": 1, "source": 2}
JUDGE_OPTIONS = ("正确", "错误")
CLOZE_BLANK = "____"
CHOICE_BLANK = "（　　）"


@dataclass(frozen=True)
class QuizItem:
    """One question with its answer key and source.

    ``options``: empty for cloze, 4 strings for choice/multi/source, ``("正确", "错误")`` for
    judge. ``answer`` is the option text (multi: the correct options joined by 「、」, listed in
    ``correct``). ``span`` is the source sentence's char span in the document file and
    ``explanation`` that sentence with full-width punctuation. ``fact`` is the tested phrase as it
    stands in the sentence (multi: the whole list; source: empty); ``change`` says what a false
    判断 item altered. ``difficulty`` is the item's own level (easy/medium/hard).
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
    kind: str = ""  # e.g. num:家, quote:term, place:city, suffix:化, section
    difficulty: str = "medium"
    correct: tuple[str, ...] = ()
    change: str = ""
    points: int = 1

    def to_json(self) -> dict:
        """Plain dict (lists for tuples) for JSON export and app state."""
        d = asdict(self)
        for k in ("options", "span", "correct"):
            d[k] = list(d[k])
        return d

    @classmethod
    def from_json(cls, d: dict) -> "QuizItem":
        """Inverse of :meth:`to_json`."""
        return cls(**{**d, "options": tuple(d["options"]), "span": tuple(d["span"]),
                      "correct": tuple(d.get("correct", ()))})

    @property
    def letters(self) -> str:
        """The answer as option letters (「B」, multi 「ABD」); '' for cloze."""
        keys = self.correct if self.type == "multi" else (self.answer,)
        return "".join("ABCD"[i] for i, o in enumerate(self.options) if o in keys)


def item_id(kind: str, doc_id: str, span, fact: str, stem: str) -> str:
    """Stable id from the item's content: the same item always gets the same id."""
    h = hashlib.sha1(f"{kind}|{doc_id}|{span[0]}-{span[1]}|{fact}|{stem}".encode()).hexdigest()
    return f"{kind}-{h[:8]}"


def _item(qtype: str, sent: Sentence, level: str, stem: str, **kw) -> QuizItem:
    sec = sent.section
    fact = kw.get("fact", "")
    return QuizItem(id=item_id(qtype, sec.doc_id, (sent.start, sent.end), fact, stem), type=qtype,
                    stem=stem, explanation=fullwidth(sent.text), citation=f"「{sec.label}」",
                    doc_id=sec.doc_id, chapter=sec.chapter, section=sec.section,
                    span=(sent.start, sent.end), difficulty=level, points=POINTS[qtype], **kw)


def _shuffled(rng: Random, options: list[str]) -> tuple[str, ...]:
    options = sorted(options)
    rng.shuffle(options)
    return tuple(options)


def build_fact_item(kind: str, sent: Sentence, fact: Fact, level: str, pools: Pools, rng: Random,
                    truth: bool = True) -> QuizItem | None:
    """A cloze, choice or judge item testing ``fact``; None when it cannot be made well."""
    span = clause_span(sent.text, fact.start, fact.end)
    if span is None:
        return None
    a, b = span
    common = dict(fact=fact.text, kind=fact.kind)
    past = "十三五" in sent.section.section_title
    if kind == "cloze":
        return _item("cloze", sent, level, stem_text(sent.text, a, b, fact.start, fact.end,
                                                        CLOZE_BLANK, past),
                     options=(), answer=fact.text, **common)
    if kind == "choice":
        wrong = pools.distractors(fact, sent, rng, level)
        if not wrong:
            return None
        s, e = fact.start, fact.end
        if s and e < len(sent.text) and sent.text[s - 1] in "(（" and sent.text[e] in ")）":
            s, e = s - 1, e + 1  # 中国（太原） → 中国（　　）, not 中国（（　　））
        stem = stem_text(sent.text, a, b, s, e, CHOICE_BLANK, past)
        return _item("choice", sent, level, stem, options=_shuffled(rng, wrong + [fact.text]),
                     answer=fact.text, **common)
    if truth:
        stem = stem_text(sent.text, a, b, fact.start, fact.end, fact.text, past)
        return _item("judge", sent, level, stem, options=JUDGE_OPTIONS, answer="正确", **common)
    new = swap(fact, sent, pools, rng, level)
    if new is None:
        return None
    changed = sent.text[a:fact.start] + new + sent.text[fact.end:b]
    if changed in pools.plan_text:
        return None  # the plan says this too: not false
    stem = stem_text(sent.text, a, b, fact.start, fact.end, new, past)
    return _item("judge", sent, level, stem, options=JUDGE_OPTIONS, answer="错误",
                 change=f"原文为“{fact.text}”，题干改为“{new}”", **common)


MULTI_STEM = "根据规划，下列属于“{clause}”中空白处所列内容的有（　　）。"


def build_multi(sent: Sentence, e: Enumeration, level: str, pools: Pools,
                rng: Random) -> QuizItem | None:
    """A 多选题 from a list: 2–3 of its members are correct, the rest same-kind distractors."""
    span = clause_span(sent.text, e.start, e.end)
    if span is None:
        return None
    n_right = rng.choice((2, 3)) if len(e.members) >= 3 else 2
    n_right = min(n_right, len(e.members))
    wrong = pools.list_distractors(e, sent, rng, 4 - n_right)
    if not wrong:
        return None
    right = rng.sample(list(e.members), n_right)
    clause = stem_text(sent.text, span[0], span[1], e.start, e.end, CLOZE_BLANK).rstrip("。")
    clause = clause.replace("“", "‘").replace("”", "’")  # quotes inside the stem's quotes
    if len(clause) > 70:
        return None
    options = _shuffled(rng, right + wrong)
    right = [o for o in options if o in right]
    return _item("multi", sent, level, MULTI_STEM.format(clause=clause), options=options,
                 answer="、".join(right), correct=tuple(right), fact="、".join(e.members),
                 kind=e.kind)


def build_source(sent: Sentence, pools: Pools, rng: Random) -> QuizItem | None:
    """「出自哪一节」: distractors are neighbouring sections of the same chapter; None when a word
    of the section title gives the answer away or the sentence is not unique in the plan."""
    sec = sent.section
    if not sec.section or pools.plan_text.count(sent.text) != 1 or len(sent.text) > 70:
        return None
    from rag.wordseg import tokenize

    if any(len(w) >= 2 and w in sent.text for w in tokenize(sec.section_title)):
        return None
    wrong = pools.section_distractors(sent, rng)
    if not wrong:
        return None
    stem = f"「{fullwidth(sent.text)}」这句话出自规划第{sec.chapter}章的哪一节？"
    return _item("source", sent, "hard", stem, options=_shuffled(rng, wrong + [sec.section_title]),
                 answer=sec.section_title, kind="section")
