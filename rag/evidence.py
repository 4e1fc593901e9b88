"""Sentence-level evidence: score the sentences of retrieved sections, decide refusals.

Every sentence of the plan is already an index unit (``kind='s'``) with its vector in
Chroma; the vectors are read once into a matrix so scoring a question's candidate
sentences is one matrix product, never a re-embedding. A sentence's score mixes

- cosine similarity with the question (e5 vectors),
- IDF-weighted coverage of the question's jieba tokens (BM25-style term overlap),
- a small prior for the retrieval rank of its section.

The refusal decision uses features of the best evidence (how much of the question the best
sentence and section cover, question words unknown to the whole plan, a number asked for
but absent) and one threshold calibrated on the dev set (:func:`calibrate`), stored in
``eval/refusal.json`` (committed, measured) or ``<data_dir>/refusal.json`` (local override).

Not handled here: composing the answer text (answering.py), citations (citations.py).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rag.chunking import Chunk
from rag.config import PROJECT_ROOT, Settings
from rag.retrieval import Hit
from rag.store import Index
from rag.wordseg import tokenize

CALIBRATION_FILE = "refusal.json"
DEFAULT_CALIBRATION = PROJECT_ROOT / "eval" / CALIBRATION_FILE
# weights of the sentence score; a grid on the dev set (coverage 0.1–0.5, rank 0–0.1)
# put the best sentence in a gold section for 86–87% of answerable questions at these
W_COVERAGE = 0.20
W_RANK = 0.02
# Off-topic floor (红烧肉怎么做？梅西在哪个球队？): best sentence cosine below 0.875 and ≥70% of
# the question's IDF mass in words the plan never uses. The dev set has no such questions;
# these values refuse none of its 196 answerable ones (lowest answerable cosine 0.870, and
# those colloquial questions keep more plan words).
OFF_TOPIC_COSINE = 0.875
OFF_TOPIC_UNKNOWN = 0.7
# A question asking for an amount / a time, and the unit it wants (longest first).
_ASKS_NUMBER = re.compile(r"多少|(?<!哪)几[个项家座所年岁张套条种批倍]|百分之几|第几")
_ASKS_TIME = re.compile(r"哪一年|哪年|什么时候|何时|哪一天")
_UNITS = sorted("""亿元 万元 元 亿吨 万吨 吨 万千瓦 千瓦 平方公里 公里 万人 人次 人 家 座 个 项 所 张 套 条 岁
年 亩 立方米 微克 户 倍 种 批 亿方""".split(), key=len, reverse=True)
_NUM = r"(?:[0-9０-９][0-9０-９.,，—\-~]*|[一二三四五六七八九十两百千]+)[万亿千百]?"
_ANY_NUMBER = re.compile(r"[0-9０-９]|[一二三四五六七八九十两百千]+(?:个|项|家|座|所|年|岁|张|套|条|倍|种|批|大)|百分之")
_A_YEAR = re.compile(r"(?:19|20)\d\d年|年底|年前")
_PAST_SECTION = "十三五"  # the review section(s) of the previous plan: past facts, not targets
_FUTURE_Q = re.compile(r"到20[2-9]\d|十四五|末|要|目标|计划|将|力争")
# Words that frame a question in time or scope but say nothing about its topic; a sentence
# matching only these ("到2025年，全省……达到") is not evidence for a specific target.
_FRAME = frozenset("""十四五 十三五 时期 期间 到 末 达到 目标 要 计划 预计 全省 力争 实现 年 规划 主要 全年
全面 提出 重点 今后 未来 五年 省里 咱们 山西 要求 多少 几 控制 以内 以上 提高 增加 下降 年均""".split())
# provincial-level regions; a question about one the plan never names is out of scope
_REGIONS = """北京 天津 河北 内蒙古 辽宁 吉林 黑龙江 上海 江苏 浙江 安徽 福建 江西 山东 河南 湖北 湖南
广东 广西 海南 重庆 四川 贵州 云南 西藏 陕西 甘肃 青海 宁夏 新疆 台湾 香港 澳门""".split()


def asked_unit(question: str) -> str | None:
    """The unit a 多少/几 question asks for (多少家 → 家), '%' for shares, else None."""
    m = re.search(r"(?:多少|几)(\S{0,4})", question)
    if m:
        for unit in _UNITS:
            if m.group(1).startswith(unit):
                return unit
    if "百分之几" in question or re.search(r"(比重|比例|占比|率)[^，。？]{0,6}多少", question):
        return "%"
    return None


def holds_answer_type(question: str, text: str) -> bool:
    """Whether a sentence holds the kind of value the question asks for (number, unit, year)."""
    if _ASKS_TIME.search(question) and not _A_YEAR.search(text):
        return False
    if not _ASKS_NUMBER.search(question):
        return True
    unit = asked_unit(question)
    if unit == "%":
        return bool(re.search(r"%|％|百分点|百分之|[一二三四五六七八九]成", text))
    if unit is not None:
        return bool(re.search(_NUM + "(?:多|余|以上)?" + unit, text))
    return bool(_ANY_NUMBER.search(text))


@dataclass(frozen=True)
class Scored:
    """One candidate sentence with its scores."""

    unit: Chunk
    hit: Hit  # the retrieved section it belongs to
    cosine: float
    coverage: float  # IDF-weighted share of question tokens found in the sentence
    score: float


@dataclass(frozen=True)
class Features:
    """What the refusal decision looks at for one question."""

    best_cosine: float
    best_coverage: float  # of the best sentence
    section_coverage: float  # of the best sentence's whole section (with its headings)
    unknown: float  # IDF mass share of question tokens that occur nowhere in the plan
    asks_value: bool  # the question asks for a number, an amount or a time
    typed_coverage: float  # best topic coverage among top sentences that hold the asked value
    no_typed_evidence: bool  # no top sentence holds the asked value type in the asked time frame
    foreign: bool  # names a region or year the plan never mentions
    off_topic: bool = False  # weak best sentence and mostly words the plan never uses

    def refusal_score(self) -> float:
        """Support in [-1, 2]; a question is refused below the calibrated threshold.

        Retrieval scores (RRF, cosine, BM25) barely separate the dev set's unanswerable
        questions, which ask for targets on topics the plan does cover; what separates them
        is whether a retrieved sentence holds the asked value *about the asked topic*. So
        value questions score their typed topic coverage; other questions score
        1 + cosine and are refused only by the hard checks.
        """
        if self.foreign or self.no_typed_evidence or self.off_topic:
            return -1.0
        if self.asks_value:
            return self.typed_coverage
        return 1.0 + self.best_cosine

    def to_json(self) -> dict:
        return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


_CLAUSE_MARKS = re.compile(r"[。；;，,：:！？!?、]")


def is_statement(text: str) -> bool:
    """False for lines that state nothing: headings (第三节 …), 附件:, 扫一扫… page furniture.

    They stay in the index (retrieval matches titles) but are never quoted as an answer.
    """
    text = text.strip()
    return bool(_CLAUSE_MARKS.search(text.rstrip(":：")) or len(text) >= 25)


class SentenceScorer:
    """Holds every sentence's vector and tokens; scores candidates for a question."""

    def __init__(self, index: Index):
        self.index = index
        self.sentences: dict[tuple, list[Chunk]] = {}  # (doc, chapter, section) -> sentences
        units = [u for u in index.units.values() if u.kind == "s"]
        for u in units:
            if is_statement(u.text):
                self.sentences.setdefault(u.key, []).append(u)
        for key in self.sentences:
            self.sentences[key].sort(key=lambda u: u.ordinal)
        got = index.sentence_store._collection.get(include=["embeddings"])
        vecs = np.asarray(got["embeddings"], dtype=np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-12
        self._row = {uid: i for i, uid in enumerate(got["ids"])}
        self._vecs = vecs
        self._tokens = {u.id: set(tokenize(u.text)) for u in units}
        df: dict[str, int] = {}
        for toks in self._tokens.values():
            for t in toks:
                df[t] = df.get(t, 0) + 1
        n = len(units)
        self._idf = {t: math.log((n + 1) / (c + 0.5)) for t, c in df.items()}
        self._idf_unknown = math.log((n + 1) / 0.5)
        self._sec_cache: dict[tuple, set[str]] = {}  # section key -> tokens, filled lazily
        self._plan_years = {m.group(0) for s in index.sections
                            for m in re.finditer(r"(?:19|20)\d\d", s.text)}
        plan_text = "".join(s.text for s in index.sections)
        self._plan_regions = {r for r in _REGIONS if r in plan_text}

    def idf(self, token: str) -> float:
        """Inverse sentence frequency; tokens unknown to the plan get the maximum."""
        return self._idf.get(token, self._idf_unknown)

    def coverage(self, q_tokens: list[str], tokens: set[str]) -> float:
        """IDF-weighted share of question tokens present in ``tokens``."""
        total = sum(self.idf(t) for t in q_tokens)
        if total <= 0:
            return 0.0
        return sum(self.idf(t) for t in q_tokens if t in tokens) / total

    def _section_tokens_of(self, hit: Hit) -> set[str]:
        key = hit.key
        if key not in self._sec_cache:
            sec = self.index.section(*key)
            self._sec_cache[key] = set(tokenize(sec.heading_path + "\n" + sec.text))
        return self._sec_cache[key]

    def score(self, question: str, qvec, hits: list[Hit]) -> list[Scored]:
        """Every sentence of the hit sections, best first."""
        q = np.asarray(qvec, dtype=np.float32)
        q /= np.linalg.norm(q) + 1e-12
        q_tokens = list(dict.fromkeys(tokenize(question)))
        out: list[Scored] = []
        for hit in hits:
            units = self.sentences.get(hit.key, [])
            if not units:
                continue
            rows = [self._row[u.id] for u in units]
            cos = self._vecs[rows] @ q
            for u, c in zip(units, cos):
                cov = self.coverage(q_tokens, self._tokens[u.id])
                s = float(c) + W_COVERAGE * cov + W_RANK / hit.rank
                out.append(Scored(u, hit, float(c), cov, s))
        out.sort(key=lambda x: -x.score)
        return out

    def in_scope(self, question: str, unit: Chunk, hit: Hit) -> bool:
        """A sentence can answer the question: right value type, time frame and years."""
        if not holds_answer_type(question, unit.text):
            return False
        if _FUTURE_Q.search(question) and _PAST_SECTION not in question \
                and _PAST_SECTION in hit.section_title:
            return False  # a target asked, a past achievement found
        years = set(re.findall(r"(?:19|20)\d\d", question))
        if years:
            sec_text = self.index.section(*hit.key).text
            if any(y not in sec_text for y in years):
                return False
        return True

    def features(self, question: str, scored: list[Scored], top: int = 8) -> Features:
        """Refusal features of a question given its scored sentences (best first)."""
        q_tokens = list(dict.fromkeys(tokenize(question)))
        total = sum(self.idf(t) for t in q_tokens) or 1.0
        unknown = sum(self.idf(t) for t in q_tokens if t not in self._idf) / total
        years = set(re.findall(r"(?:19|20)\d\d", question))
        foreign = bool(years - self._plan_years) or any(
            r in question for r in _REGIONS if r not in self._plan_regions)
        asks = bool(_ASKS_NUMBER.search(question) or _ASKS_TIME.search(question))
        if not scored:
            return Features(0.0, 0.0, 0.0, unknown, asks, 0.0, True, foreign)
        best = scored[0]
        sec_cov = self.coverage(q_tokens, self._section_tokens_of(best.hit))
        typed = [x for x in scored[:top] if self.in_scope(question, x.unit, x.hit)]
        focus = [t for t in q_tokens if t not in _FRAME and not re.fullmatch(r"\d+", t)]
        typed_cov = max((self.coverage(focus, self._tokens[x.unit.id]) for x in typed),
                        default=0.0)
        off_topic = best.cosine < OFF_TOPIC_COSINE and unknown >= OFF_TOPIC_UNKNOWN
        return Features(best.cosine, best.coverage, sec_cov, unknown, asks, typed_cov,
                        not typed, foreign, off_topic)


def load_threshold(settings: Settings) -> float:
    """The refusal threshold: settings override, else data_dir/refusal.json, else eval/."""
    if settings.refusal_threshold:
        return float(settings.refusal_threshold)
    for path in (Path(settings.data_dir) / CALIBRATION_FILE, DEFAULT_CALIBRATION):
        try:
            return float(json.loads(path.read_text(encoding="utf-8"))["threshold"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return 0.0  # no calibration at all: never refuse on the score alone


def pick_threshold(answerable: list[float], unanswerable: list[float],
                   max_false: float = 0.05) -> tuple[float, float, float]:
    """Threshold maximising refused unanswerable with false refusals ≤ ``max_false``.

    A question is refused when its score is below the threshold. Returns
    ``(threshold, refused_unanswerable_rate, false_refusal_rate)``.
    """
    cands = sorted(set(answerable) | set(unanswerable))
    best = (min(cands) - 1e-6 if cands else 0.0, 0.0, 0.0)
    for i, c in enumerate(cands):
        # midpoint to the next candidate: robust to ties and small drift
        t = (c + cands[i + 1]) / 2 if i + 1 < len(cands) else c + 1e-6
        fr = sum(a < t for a in answerable) / max(1, len(answerable))
        ru = sum(u < t for u in unanswerable) / max(1, len(unanswerable))
        if fr <= max_false and (ru, -fr) > (best[1], -best[2]):
            best = (t, ru, fr)
    return best
