"""Evaluation diagnostics: vocabulary overlap of a question with its gold section, hit@1 by
overlap band, and the top sections of every miss with the signals that put them there.

The overlap is the share of the question's distinct BM25 tokens (rag.wordseg: jieba search
mode, stop words dropped) that also occur in the gold sections' text and headings. Everyday
wording (挖煤 for 原煤产量) scores low; a question copied from the plan scores high.
:func:`report_lines` renders both tables as Markdown for the eval report (one hook there).

Not handled here: running retrieval (runner.py) or computing the signals (rag.fusion).
"""

from __future__ import annotations

from typing import Iterable

from rag.wordseg import tokenize

BANDS = (("low", 0.0, 0.34), ("medium", 0.34, 0.67), ("high", 0.67, 1.01))


def vocabulary_overlap(question: str, section_texts: Iterable[str]) -> float:
    """Share of the question's distinct tokens found in the given section texts (0–1)."""
    q = set(tokenize(question))
    if not q:
        return 0.0
    vocab: set[str] = set()
    for text in section_texts:
        vocab.update(tokenize(text))
    return len(q & vocab) / len(q)


def band(overlap: float) -> str:
    """low / medium / high for an overlap value."""
    return next(name for name, lo, hi in BANDS if lo <= overlap < hi)


def hit1_by_band(records: list[dict], mode: str) -> dict[str, dict]:
    """``{band: {"n", "hit@1"}}`` over per-question records that carry an ``overlap``."""
    out: dict[str, list[float]] = {}
    for r in records:
        if r.get("overlap") is None or not r.get("gold"):
            continue
        hit = r["modes"][mode]["metrics"]["section"]["hit@1"]
        out.setdefault(band(r["overlap"]), []).append(hit)
    return {b: {"n": len(v), "hit@1": sum(v) / len(v)} for b, v in out.items()}


SHOWN_SIGNALS = ("sent_rel", "chunk_rel", "bm25_rel", "bm25x_rel", "cov", "head_cov")


def collect(retriever, questions, per_q: list[dict], sections: dict, mode: str = "hybrid",
            labels: dict | None = None) -> dict:
    """Overlap per question, hit@1 by overlap band, and every miss at hit@1 with its top 3.

    ``sections`` maps a section key to its Section (for the overlap); the top 3 of a miss are
    re-scored with :meth:`Retriever.signals` so the report can show why they ranked first.
    """
    from rag.fusion import FEATURES

    labels = labels or {}
    for q, rec in zip(questions, per_q):
        if q.answerable:
            rec["overlap"] = round(vocabulary_overlap(
                q.question, [t for k in q.gold for t in (sections[k].text,
                                                          sections[k].heading_path)]), 3)
    misses = []
    for q, rec in zip(questions, per_q):
        m = rec["modes"].get(mode, {}).get("metrics", {}).get("section")
        if not q.answerable or not m or m["hit@1"] == 1.0:
            continue
        cands, X, _, _, expansion = retriever.signals(q.question)
        row_of = {k: i for i, k in enumerate(cands)}
        top = []
        for key in [tuple(k) for k in rec["modes"][mode]["ranked"][:3]]:
            sig = {f: round(float(X[row_of[key], FEATURES.index(f)]), 3)
                   for f in SHOWN_SIGNALS} if key in row_of else {}
            top.append({"section": labels.get(key, str(key)), "gold": key in set(q.gold),
                        "signals": sig})
        misses.append({"id": q.id, "type": q.type, "question": q.question,
                       "overlap": rec.get("overlap"), "gold": rec["gold_labels"], "top3": top,
                       "expansion": expansion.tokens if expansion else []})
    return {"mode": mode, "hit1_by_overlap": hit1_by_band(per_q, mode), "misses": misses}


def markdown(diag: dict | None) -> list[str]:
    """Report lines: hit@1 by overlap band, then one block per miss."""
    if not diag:
        return []
    lines = ["", f"## 按词汇重合度 · 节级 hit@1（{diag['mode']}）", "",
             "| 重合度 | 区间 | n | hit@1 |", "|---|---|---|---|"]
    for name, lo, hi in BANDS:
        b = diag["hit1_by_overlap"].get(name)
        if b:
            lines.append(f"| {name} | [{lo:.2f}, {min(hi, 1.0):.2f}) | {b['n']} | "
                         f"{b['hit@1']:.3f} |")
    lines += ["", f"## 未命中 hit@1 的题（{len(diag['misses'])} 题，前 3 节及其信号）", ""]
    for m in diag["misses"]:
        lines.append(f"- **{m['id']}**（{m['type']}，重合度 {m['overlap']}）{m['question']} "
                     f"— 应为 {'、'.join(m['gold'])}")
        if m["expansion"]:
            lines.append(f"  - 扩展词：{'、'.join(m['expansion'])}")
        for i, t in enumerate(m["top3"], start=1):
            sig = "，".join(f"{k} {v}" for k, v in t["signals"].items())
            lines.append(f"  {i}. {t['section']}{' ✓' if t['gold'] else ''}（{sig}）")
    return lines
