"""Score extracted target rows (rag.targets) against the hand-written gold list.

The gold list (``eval/targets_gold.jsonl``) names each row by chapter, section and a verbatim
``quote`` around the number; it lists every quantitative statement of the plan, so precision
is computed over all extracted rows. An extracted row matches a gold row when it lies in the
same section and its number falls inside the quote's place in the section; matches are one to
one (the closer 指标 wins). Reported: row precision / recall / F1 and, over matched rows, the
share with exact 数值, 单位, both, 时间, 性质 and 修饰, and the mean character F1 of 指标.

Run: ``python -m rag.evaluation.targets_score [--gold FILE] [--chapters 1-7]``.

Not handled here: extraction itself (rag.targets); fuzzy matching of numbers.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.corpus import Corpus, load_corpus
from rag.errors import RagError
from rag.jsonl import read_rows
from rag.targets import Target, extract_targets

GOLD = PROJECT_ROOT / "eval" / "targets_gold.jsonl"
FIELDS = ("chapter", "section", "quote", "指标", "数值", "单位", "修饰", "时间", "性质")


class GoldError(RagError):
    """The gold list cannot be read or a row does not point into the plan."""


def load_gold(path: Path | str = GOLD) -> list[dict]:
    rows = []
    for no, row in read_rows(path, GoldError, "目标金标"):
        if not isinstance(row, dict) or any(k not in row for k in FIELDS):
            raise GoldError(f"{path}:{no}: 金标行须为含 {', '.join(FIELDS)} 的 JSON 对象")
        rows.append(row)
    return rows


def _char_f1(a: str, b: str) -> float:
    common = sum((Counter(a) & Counter(b)).values())
    return 0.0 if not common else 2 * common / (len(a) + len(b))


def _quote_range(corpus: Corpus, row: dict) -> tuple[str, tuple[int, int]]:
    for s in corpus.sections:
        if (s.chapter, s.section) == (row["chapter"], row["section"]):
            pos = s.text.find(row["quote"])
            if pos < 0:
                break
            a = s.parts[0][0] + pos if len(s.parts) == 1 else None
            if a is None:
                break
            return s.doc_id, (a, a + len(row["quote"]))
    raise GoldError(f"金标 {row.get('id')}：引文不在第{row['chapter']}章第{row['section']}节中："
                    f"{row['quote']}")


def match(gold: list[dict], rows: list[Target], corpus: Corpus) -> list[tuple[dict, Target]]:
    """One-to-one pairs (gold row, extracted row)."""
    cands = []
    for gi, g in enumerate(gold):
        doc, (a, b) = _quote_range(corpus, g)
        for ri, r in enumerate(rows):
            if (r.ref.doc_id, r.ref.chapter, r.ref.section) == (doc, g["chapter"], g["section"]) \
                    and a <= r.value_span[0] and r.value_span[1] <= b:
                cands.append((-_char_f1(g["指标"], r.指标), gi, ri))
    pairs, used_g, used_r = [], set(), set()
    for _, gi, ri in sorted(cands):
        if gi not in used_g and ri not in used_r:
            used_g.add(gi)
            used_r.add(ri)
            pairs.append((gold[gi], rows[ri]))
    return pairs


def score(gold: list[dict], rows: list[Target], corpus: Corpus) -> dict:
    pairs = match(gold, rows, corpus)
    n = len(pairs)
    p = n / len(rows) if rows else 0.0
    r = n / len(gold) if gold else 0.0

    def share(ok) -> float:
        return round(sum(bool(ok(g, t)) for g, t in pairs) / n, 4) if n else 0.0

    return {
        "gold": len(gold), "extracted": len(rows), "matched": n,
        "precision": round(p, 4), "recall": round(r, 4),
        "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
        "value_exact": share(lambda g, t: g["数值"] == t.数值),
        "unit_exact": share(lambda g, t: g["单位"] == t.单位),
        "value_unit_exact": share(lambda g, t: g["数值"] == t.数值 and g["单位"] == t.单位),
        "time_exact": share(lambda g, t: g["时间"] == t.时间),
        "kind_exact": share(lambda g, t: g["性质"] == t.性质),
        "modifier_exact": share(lambda g, t: g["修饰"] == t.修饰),
        "indicator_char_f1": round(sum(_char_f1(g["指标"], t.指标) for g, t in pairs) / n, 4)
        if n else 0.0,
    }


def _chapters(spec: str | None) -> set[int] | None:
    if not spec:
        return None
    lo, _, hi = spec.partition("-")
    return set(range(int(lo), int(hi or lo) + 1))


def evaluate(corpus: Corpus, gold: list[dict], chapters: set[int] | None = None) -> dict:
    rows = extract_targets(corpus)
    if chapters is not None:
        gold = [g for g in gold if g["chapter"] in chapters]
        rows = [t for t in rows if t.ref.chapter in chapters]
    return score(gold, rows, corpus)


def errors(corpus: Corpus, gold: list[dict]) -> dict:
    """Unmatched gold rows, unmatched extracted rows and field mismatches (for tuning)."""
    rows = extract_targets(corpus)
    pairs = match(gold, rows, corpus)
    mg = {id(g) for g, _ in pairs}
    mr = {id(t) for _, t in pairs}
    return {"missed": [g for g in gold if id(g) not in mg],
            "spurious": [t for t in rows if id(t) not in mr],
            "mismatch": [(g, t) for g, t in pairs if (g["数值"], g["单位"], g["时间"], g["性质"])
                         != (t.数值, t.单位, t.时间, t.性质)]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="目标一览抽取评分")
    ap.add_argument("--gold", default=str(GOLD))
    ap.add_argument("--corpus", default=str(PROJECT_ROOT / "corpus"))
    ap.add_argument("--chapters", help="只评这些章，如 1-7 或 8-14")
    args = ap.parse_args(argv)
    try:
        corpus = load_corpus(args.corpus)
        print(json.dumps(evaluate(corpus, load_gold(args.gold), _chapters(args.chapters)),
                         ensure_ascii=False))
    except RagError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
