"""Answer metrics: citations, refusals, key quantities, keys, character F1, evidence coverage.

- Key numbers are *quantities* parsed from the reference answer: a number (``1,200`` read as
  1200, decimals, ranges) with its unit (``万千瓦``, ``%``, ``家``, ``年``…). A digit inside a
  name such as 「5G」「C919」 is not a quantity. An answer matches a quantity when it states the
  same number with the same unit (or either has none).
- ``keys`` (dataset field) are strings a correct answer must contain.
- Both are scored on the direct-answer line (``Answer.direct``) when the answerer gives one,
  else on the answer text without [n] markers and the sources list; each record says which.
- Character F1 and evidence coverage compare characters (punctuation and spaces ignored) of the
  scored text with the reference answer and with the evidence sentence.

Not handled here: running the pipeline (runner.py), intervals (stats.py).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np

from rag.evaluation.metrics import dedupe, percentile

_MARKER = re.compile(r"\[\d+\]")
_SOURCES = re.compile(r"\n\s*(?:来源|出处|参考|引用)[:：].*", re.S)
_UNITS = ("千瓦时", "千瓦", "万千瓦", "平方公里", "平方米", "立方米", "公里", "千米", "米", "公顷",
          "亩", "吨", "标准煤", "元", "美元", "人次", "人", "家", "个", "项", "座", "所", "条",
          "处", "只", "头", "张", "台", "辆", "套", "架", "户", "村", "县", "市", "镇", "倍",
          "年", "月", "日", "天", "小时", "分钟", "岁", "度", "次", "位", "名", "支", "类",
          "批", "级", "万", "亿", "千", "百")
_UNIT = "|".join(sorted(map(re.escape, _UNITS), key=len, reverse=True))
_QUANTITY = re.compile(
    r"(?<![A-Za-z0-9.])(\d+(?:,\d{3})*(?:\.\d+)?)"  # a number not glued to a name on its left
    r"(?:\s*[-—–~～至到]\s*(\d+(?:,\d{3})*(?:\.\d+)?))?"  # an optional range end
    r"\s*(%|％|‰|个百分点|(?:[万亿]+)?(?:" + _UNIT + r"))?"
    r"(?![A-Za-z])")  # 5G, 4A, H2: a letter right after the digits makes it a name
_NOT_TEXT = re.compile(r"[\s\W_]+", re.U)


@dataclass(frozen=True)
class Quantity:
    """A number with its unit ("" when none): 1200 亿元 → Quantity("1200", "亿元")."""

    number: str
    unit: str

    def __str__(self) -> str:
        return self.number + self.unit

    def matches(self, other: "Quantity") -> bool:
        return self.number == other.number and (
            self.unit == other.unit or not self.unit or not other.unit)


def _norm_number(text: str) -> str:
    text = text.replace(",", "")
    return text.rstrip("0").rstrip(".") if "." in text else text


def quantities(text: str) -> list[Quantity]:
    """The quantities of a text in order, each once; ranges give both ends with the unit."""
    out = []
    for m in _QUANTITY.finditer(text or ""):
        unit = (m.group(3) or "").replace("％", "%")
        out += [Quantity(_norm_number(g), unit) for g in (m.group(1), m.group(2)) if g]
    return dedupe(out)


def scored_text(answer) -> tuple[str, str]:
    """(text to score, "direct" | "text"): the direct-answer line when present, else the body."""
    direct = getattr(answer, "direct", None)
    if direct:
        return _MARKER.sub("", direct), "direct"
    body = _SOURCES.sub("", answer.text or "")
    return _MARKER.sub("", body), "text"


def _chars(text: str) -> Counter:
    return Counter(_NOT_TEXT.sub("", text or ""))


def char_f1(prediction: str, reference: str) -> float | None:
    """Character-level F1 (multiset overlap, punctuation and spaces ignored); None if no reference."""
    ref, pred = _chars(reference), _chars(prediction)
    if not ref:
        return None
    same = sum((ref & pred).values())
    if not same:
        return 0.0
    p, r = same / sum(pred.values()), same / sum(ref.values())
    return 2 * p * r / (p + r)


def coverage(prediction: str, reference: str) -> float | None:
    """Share of the reference's characters found in the prediction (multiset recall)."""
    ref = _chars(reference)
    if not ref:
        return None
    return sum((ref & _chars(prediction)).values()) / sum(ref.values())


def _cited_labels(answer, labels: dict | None) -> list[str]:
    """Cited sections in the report's 「第X章 第Y节 标题」 form, each once."""
    return dedupe((labels or {}).get(c.key, c.label) for c in answer.citations)


def answer_record(q, answer, labels: dict | None = None) -> dict:
    """Per-question answer metrics for one rag.answering.Answer against a GoldQuestion."""
    cited = dedupe(c.key for c in answer.citations)
    text, source = scored_text(answer)
    rec = {"refused": bool(answer.refused), "cited": [list(c) for c in cited],
           "cited_labels": _cited_labels(answer, labels),
           "text": answer.text, "direct": getattr(answer, "direct", None), "scored_on": source,
           "support": getattr(answer, "support", None), "standalone": answer.standalone}
    if q.keys and not answer.refused:
        rec["keys_found"] = [k for k in q.keys if k in text]
    if q.keys:
        rec["keys"] = len(rec.get("keys_found", [])) / len(q.keys)
    if not q.answerable:
        return rec
    gold = set(q.gold)
    rec["precision"] = (sum(c in gold for c in cited) / len(cited)) if cited else None
    # the section a reader sees first; a refusal counts as a miss (compare retrieval's hit@1)
    rec["first_gold"] = float(bool(cited) and not answer.refused and cited[0] in gold)
    rec["recall"] = 0.0 if answer.refused else len(gold & set(cited)) / len(gold)
    want = quantities(q.answer)
    if want:
        found = [] if answer.refused else quantities(text)
        hit = [w for w in want if any(w.matches(f) for f in found)]
        rec["numbers"] = len(hit) / len(want)
        rec["numbers_missed"] = [str(w) for w in want if w not in hit]
    if not answer.refused:
        rec["f1"] = char_f1(text, q.answer)
        rec["evidence_coverage"] = coverage(text, q.evidence)
    else:
        rec["f1"], rec["evidence_coverage"] = 0.0, 0.0
    if rec["direct"] is not None and (q.keys or want):
        rec["direct_correct"] = float((rec.get("keys", 1.0) == 1.0)
                                      and rec.get("numbers", 1.0) == 1.0)
    return rec


def _avg(xs) -> float | None:
    xs = [x for x in xs if x is not None]
    return float(np.mean(xs)) if xs else None


def answer_summary(questions, records: list[dict], seconds: list[float]) -> dict:
    """Aggregate answer metrics; precision over answers that cite, recall over answerable."""
    ans = [(q, r) for q, r in zip(questions, records) if q.answerable]
    una = [r for q, r in zip(questions, records) if not q.answerable]
    nums = [r["numbers"] for _, r in ans if "numbers" in r]
    keyed = [r["keys"] for r in records if "keys" in r]
    sources = Counter(r.get("scored_on", "text") for r in records)
    return {
        "citation_precision": _avg(r.get("precision") for _, r in ans),
        "first_cited_gold": _avg([r["first_gold"] for _, r in ans]),
        "citation_recall": _avg([r["recall"] for _, r in ans]),
        "refusal_accuracy": _avg([float(r["refused"]) for r in una]),
        "false_refusal_rate": _avg([float(r["refused"]) for _, r in ans]),
        "key_number_match": _avg(nums), "key_number_all": _avg([float(x == 1.0) for x in nums]),
        "keys_match": _avg(keyed), "keys_all": _avg([float(x == 1.0) for x in keyed]),
        "answer_f1": _avg(r.get("f1") for _, r in ans),
        "evidence_coverage": _avg(r.get("evidence_coverage") for _, r in ans),
        "direct_correct": _avg(r.get("direct_correct") for r in records),
        "n_answerable": len(ans), "n_unanswerable": len(una),
        "n_cited": sum(r.get("precision") is not None for _, r in ans),
        "n_with_numbers": len(nums), "n_with_keys": len(keyed),
        "n_direct": sum(r.get("direct_correct") is not None for r in records),
        "scored_on": dict(sources),
        "latency_ms": {"p50": percentile(seconds, 50) * 1000,
                       "p95": percentile(seconds, 95) * 1000,
                       "values": [round(s * 1000, 2) for s in seconds]},
    }


def key_numbers(text: str) -> list[str]:
    """The numbers of a text's quantities (``1,200`` read as 1200), in order, each once."""
    return dedupe(q.number for q in quantities(text))
