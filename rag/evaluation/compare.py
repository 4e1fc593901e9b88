"""Two evaluation runs side by side: metric deltas with intervals and tests, flipped questions.

:func:`compare_runs` pairs the questions of two results.json files by id (a changed dataset is
flagged), and for every mode both ran gives the section-level headline metrics old → new with
the paired-bootstrap interval of the difference and an exact McNemar p for 0/1 metrics; with
answers in both, the answer metrics too. A question *flips* when it passed in one run and
failed in the other: on the mode's hit@k (``fixed`` / ``broken``), and on the overall
``failed`` flag (retrieval miss, refusal or answer failure). :func:`regressions` lists the
metrics that dropped by more than a tolerance (the dev-set regression check in the tests).
:func:`slim` keeps only what a comparison reads, for committing a baseline.

Not handled here: running an evaluation (runner.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from rag.errors import RagError
from rag.evaluation.stats import HEADLINE, compare_lists

ANSWER_METRICS = (("refusal_correct", "拒答判断正确"), ("recall", "引用召回率"),
                  ("numbers", "关键数字命中"), ("keys", "要点命中"))


class CompareError(RagError):
    """A results file cannot be read or the two runs have nothing to compare."""


def load_results(path: Path | str) -> dict:
    """A results.json written by ``python -m rag eval`` (with its per-question records)."""
    try:
        res = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CompareError(f"无法读取评测结果 {path}：{exc}") from None
    if not isinstance(res, dict) or not isinstance(res.get("questions"), list):
        raise CompareError(f"{path} 不是 python -m rag eval 写出的 results.json（缺少 questions）")
    return res


def _answer_value(q: dict, metric: str):
    a = q.get("answer")
    if a is None:
        return None
    if metric == "refusal_correct":
        return float(a["refused"] == (not q["gold"]))
    return a.get(metric)


def _section(q: dict, mode: str) -> dict:
    return q["modes"][mode]["metrics"].get("section", {})


def _metric_rows(pairs, modes, metrics) -> list[dict]:
    rows = []
    for mode in modes:
        for m in metrics:
            vals = [(so[m], sn[m]) for o, n in pairs if o["gold"]
                    for so, sn in [(_section(o, mode), _section(n, mode))]
                    if m in so and m in sn]
            if vals:
                rows.append(_row(mode, m, vals))
    return rows


def _row(mode: str, metric: str, vals: list[tuple[float, float]]) -> dict:
    old, new = [v for v, _ in vals], [v for _, v in vals]
    res = compare_lists(old, new, metric)
    return {"mode": mode, "metric": metric, "n": len(vals), "old": sum(old) / len(old),
            "new": sum(new) / len(new), "diff": res["diff"], "ci": res["ci"], "p": res["p"],
            "test": res["test"], "fixed": res.get("b_only"), "broken": res.get("a_only")}


def compare_runs(old: dict, new: dict, flip_metric: str = "hit@5") -> dict:
    """Deltas and flips between two results dicts (old → new)."""
    by_id = {q["id"]: q for q in old["questions"]}
    pairs = [(by_id[q["id"]], q) for q in new["questions"] if q["id"] in by_id]
    if not pairs:
        raise CompareError("两次评测没有相同 id 的题目，无法比较")
    modes = [m for m in new["modes"] if m in old["modes"]]
    metrics = [m for m in HEADLINE]
    out = {"old": {"created": old.get("created"), "dataset": old.get("dataset", {}).get("path"),
                   "sha256": old.get("dataset", {}).get("sha256")},
           "new": {"created": new.get("created"), "dataset": new.get("dataset", {}).get("path"),
                   "sha256": new.get("dataset", {}).get("sha256")},
           "paired_questions": len(pairs), "only_old": len(by_id) - len(pairs),
           "only_new": len(new["questions"]) - len(pairs), "modes": modes,
           "flip_metric": flip_metric,
           "settings_changed": _changed(old.get("settings", {}), new.get("settings", {}))}
    out["same_dataset"] = out["old"]["sha256"] == out["new"]["sha256"]
    out["retrieval"] = _metric_rows(pairs, modes, metrics)
    out["answers"] = []
    for m, _ in ANSWER_METRICS:
        vals = [(_answer_value(o, m), _answer_value(n, m)) for o, n in pairs]
        vals = [(a, b) for a, b in vals if a is not None and b is not None]
        if vals:
            out["answers"].append(_row("answers", m, vals))
    out["flips"] = {}
    for mode in modes:
        fixed, broken = [], []
        for o, n in pairs:
            if not o["gold"]:
                continue
            a = o["modes"][mode]["metrics"]["section"].get(flip_metric)
            b = n["modes"][mode]["metrics"]["section"].get(flip_metric)
            if a is None or b is None or a == b:
                continue
            item = {"id": n["id"], "question": n["question"], "gold": n.get("gold_labels", []),
                    "old_rank": o["modes"][mode].get("rank"), "new_rank": n["modes"][mode].get("rank"),
                    "new_top1": (n["modes"][mode].get("labels") or [""])[0]}
            (fixed if b > a else broken).append(item)
        out["flips"][mode] = {"fixed": fixed, "broken": broken}
    if all("failed" in q for pair in pairs for q in pair):
        out["flips"]["failed"] = {
            "fixed": [_flip(o, n) for o, n in pairs if o["failed"] and not n["failed"]],
            "broken": [_flip(o, n) for o, n in pairs if n["failed"] and not o["failed"]]}
    return out


def _flip(o: dict, n: dict) -> dict:
    return {"id": n["id"], "question": n["question"], "gold": n.get("gold_labels", []),
            "old_reason": "；".join(o.get("failure_reasons", [])),
            "new_reason": "；".join(n.get("failure_reasons", []))}


def _changed(a: dict, b: dict) -> dict:
    return {k: [a.get(k), b.get(k)] for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)}


def regressions(cmp: dict, tolerance: float) -> list[dict]:
    """Rows whose metric fell by more than ``tolerance`` (new < old - tolerance)."""
    return [r for r in cmp["retrieval"] + cmp["answers"] if r["diff"] < -tolerance]


def _fmt_ci(ci) -> str:
    return f"[{ci[0]:+.3f}, {ci[1]:+.3f}]" if ci else ""


def render_compare(cmp: dict) -> str:
    """compare.md: deltas table, then every flipped question."""
    o, n = cmp["old"], cmp["new"]
    lines = ["# 两次评测对比", "",
             f"- 旧：{o['dataset']}（{o['created']}）→ 新：{n['dataset']}（{n['created']}）",
             f"- 配对题目 {cmp['paired_questions']} 道（仅旧 {cmp['only_old']}，"
             f"仅新 {cmp['only_new']}）"
             + ("" if cmp["same_dataset"] else "；⚠️ 数据集内容不同（sha256 不一致）"),
             "- 设置变化：" + ("；".join(f"{k}: {v[0]} → {v[1]}"
                                      for k, v in cmp["settings_changed"].items()
                                      if k != "data_dir") or "无"),
             "", "差值为 新 − 旧，同一批题的配对 bootstrap 95% 区间；0/1 指标用精确 McNemar；"
             "* 为 p < 0.05。", "",
             "| 模式 | 指标 | n | 旧 | 新 | 差值 | 95% 区间 | 修好/改坏 | p |",
             "|---|---|---|---|---|---|---|---|---|"]
    names = dict(ANSWER_METRICS)
    for r in cmp["retrieval"] + cmp["answers"]:
        p = r["p"]
        star = " *" if p is not None and p < 0.05 else ""
        flips = "—" if r.get("fixed") is None else f"{r['fixed']}/{r['broken']}"
        shown = "—" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")
        lines.append(f"| {r['mode']} | {names.get(r['metric'], r['metric'])} | {r['n']} | "
                     f"{r['old']:.3f} | {r['new']:.3f} | {r['diff']:+.3f} | {_fmt_ci(r['ci'])} | "
                     f"{flips} | {shown}{star} |")
    for mode, fl in cmp["flips"].items():
        what = "整体失败标记（检索、拒答、引用、数字、要点）" if mode == "failed" \
            else f"{mode} 节级 {cmp['flip_metric']}"
        lines += ["", f"## 翻转的题：{what}（修好 {len(fl['fixed'])}，"
                      f"改坏 {len(fl['broken'])}）", ""]
        for label, items in (("修好", fl["fixed"]), ("改坏", fl["broken"])):
            for it in items:
                extra = (f"原因：{it['old_reason'] or '—'} → {it['new_reason'] or '—'}"
                         if mode == "failed" else
                         f"gold 名次 {it['old_rank'] or '—'} → {it['new_rank'] or '—'}；"
                         f"新的第一：{it['new_top1']}")
                lines.append(f"- {label} `{it['id']}` {it['question']}"
                             f"（gold {'；'.join(it['gold'])}）{extra}")
    return "\n".join(lines) + "\n"


def slim(results: dict) -> dict:
    """The parts of a results dict a comparison reads (a small file to commit as a baseline)."""
    keep_q = ("id", "question", "gold", "gold_labels", "failed", "failure_reasons")
    qs = []
    for q in results["questions"]:
        s = {k: q[k] for k in keep_q if k in q}
        s["modes"] = {m: {"rank": r.get("rank"), "labels": r.get("labels", [])[:1],
                          "metrics": {"section": {k: v for k, v in _section(q, m).items()
                                                  if k in HEADLINE}}}
                      for m, r in q["modes"].items()}
        if "answer" in q:
            s["answer"] = {k: q["answer"].get(k) for k in ("refused", "recall", "numbers", "keys")}
        qs.append(s)
    return {"created": results.get("created"), "modes": results["modes"],
            "dataset": results["dataset"], "settings": results.get("settings", {}), "questions": qs}
