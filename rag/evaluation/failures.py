"""Every failure of an evaluation, named: retrieval misses, false refusals, answered
unanswerable questions, citation misses, wrong key numbers and missing keys; and the weakest
question types and chapters, ranked by the metric, each with real misses only.

A retrieval miss is an answerable question whose gold is not in the focus mode's top
:data:`MISS_K`; the miss names what came first and where the other modes ranked that section,
so the signal that pushed it up can be read off.

Not handled here: computing metrics (metrics.py, answers.py), rendering (report.py).
"""

from __future__ import annotations

MISS_K = 5
KINDS = {"retrieval": "检索未命中", "false_refusal": "误拒", "answered_unanswerable": "无答案题被回答",
         "citation": "引用未命中 gold", "numbers": "关键数字缺失", "keys": "要点缺失"}


def gold_rank(ranked: list, gold: list) -> int | None:
    """1-based rank of the first gold section in a ranking, None when absent."""
    gold = {tuple(g) for g in gold}
    return next((i for i, k in enumerate(ranked, start=1) if tuple(k) in gold), None)


def _signals(rec: dict, key: list, focus: str) -> str:
    """Where every other mode ranked ``key``: 「bm25 第 1，dense 第 7」."""
    parts = []
    for mode, res in rec["modes"].items():
        if mode == focus:
            continue
        r = next((i for i, k in enumerate(res["ranked"], start=1) if list(k) == list(key)), None)
        parts.append(f"{mode} 第 {r}" if r else f"{mode} 未进前 {len(res['ranked'])}")
    return "，".join(parts)


def question_failures(q, rec: dict, focus: str) -> list[dict]:
    """The failures of one question (empty when it passed)."""
    out = []
    res = rec["modes"].get(focus)
    if q.answerable and res is not None:
        rank = gold_rank(res["ranked"], rec["gold"])
        if rank is None or rank > MISS_K:
            top = res["ranked"][0] if res["ranked"] else None
            out.append({"kind": "retrieval", "rank": rank,
                        "first": res["labels"][0] if res["labels"] else "（无结果）",
                        "signals": _signals(rec, top, focus) if top else "",
                        "reason": f"{focus} 前 {MISS_K} 无 gold（gold 名次 "
                                  f"{rank or '10 名外'}）"})
    a = rec.get("answer")
    if a is None:
        return out
    if q.answerable and a["refused"]:
        out.append({"kind": "false_refusal", "reason": f"可回答题被拒答（支持度 {_num(a.get('support'))}）"})
    if not q.answerable and not a["refused"]:
        out.append({"kind": "answered_unanswerable",
                    "reason": f"{q.type} 题未拒答（支持度 {_num(a.get('support'))}）"})
    if q.answerable and not a["refused"] and a.get("recall") == 0.0:
        out.append({"kind": "citation", "reason": "回答未引用任何 gold 章节"})
    if a.get("numbers") is not None and a["numbers"] < 1.0:
        out.append({"kind": "numbers", "reason": "缺少 " + "、".join(a.get("numbers_missed", []))})
    if a.get("keys") is not None and a["keys"] < 1.0:
        miss = [k for k in q.keys if k not in a.get("keys_found", [])]
        out.append({"kind": "keys", "reason": "缺少 " + "、".join(miss)})
    return out


def _num(x) -> str:
    return "—" if x is None else f"{x:.3f}"


def collect(questions, per_q: list[dict], focus: str) -> dict:
    """Failures grouped by kind (each entry: id, question, type, gold, reason, details)."""
    groups: dict[str, list[dict]] = {k: [] for k in KINDS}
    for q, rec in zip(questions, per_q):
        fails = question_failures(q, rec, focus)
        rec["failed"] = bool(fails)
        rec["failure_reasons"] = [f"{KINDS[f['kind']]}：{f['reason']}" for f in fails]
        a = rec.get("answer") or {}
        for f in fails:
            groups[f["kind"]].append(f | {"id": q.id, "question": q.question, "type": q.type,
                                          "gold": rec["gold_labels"], "answer": a.get("text"),
                                          "reference": q.answer, "cited": a.get("cited_labels"),
                                          "history_turns": len(q.history)})
    return {"mode": focus, "miss_k": MISS_K, "groups": groups,
            "n_failed": sum(r["failed"] for r in per_q)}


def weakest(questions, per_q: list[dict], summary: dict, mode: str, metric: str,
            n: int = 3) -> dict:
    """Types and chapters below 1.0 on ``metric``, lowest first, with up to 3 real misses each."""
    out = {"mode": mode, "metric": metric}
    sec = summary[mode]["section"]
    for kind, member in (("by_type", lambda q, g: q.type == g),
                         ("by_chapter", lambda q, g: int(g) in {c for _, c in q.gold_chapters})):
        groups = sorted((g for g, v in sec[kind].items() if v.get(metric, 1.0) < 1.0),
                        key=lambda g: (sec[kind][g][metric], sec[kind][g].get("mrr@10", 0)))
        rows = []
        for g in groups[:n]:
            misses = [{"id": q.id, "question": q.question, "gold": r["gold_labels"],
                       "top3": r["modes"][mode]["labels"][:3]}
                      for q, r in zip(questions, per_q)
                      if q.answerable and member(q, g)
                      and r["modes"][mode]["metrics"]["section"].get(metric) == 0.0]
            rows.append({"name": g, "value": sec[kind][g][metric], "n": sec[kind][g]["n"],
                         "misses": misses[:3], "n_misses": len(misses)})
        out[kind] = rows
    return out
