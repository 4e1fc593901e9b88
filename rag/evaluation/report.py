"""Write an evaluation's files: report.md, results.json, per_question.csv and the plots.

report.md opens with a three-line summary (the headline metric per mode with its 95% interval,
the answer metrics, the verdict against :data:`TARGETS`), then 「失败题」 (every failure with
its question, gold, what came first, the answer text), the paired tests between modes, the
weakest types and chapters (real misses only), then the full tables. per_question.csv has one
row per question (UTF-8 with BOM, cells that a spreadsheet would run as formulas are quoted).

Input is what :func:`rag.evaluation.runner.evaluate` computed; nothing is measured here.

Not handled here: running retrieval or computing metrics (runner.py, metrics.py, stats.py),
the figures (plots.py).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from rag.evaluation.failures import KINDS
from rag.evaluation.plots import TYPE_NAMES, chapter_name, cjk_font, font_file, write_plots
from rag.evaluation.stats import SMALL_GROUP
from rag.evaluation import diagnostics

__all__ = ["TARGETS", "cjk_font", "render_markdown", "write_csv", "write_report"]

# (figure, path into results, op, limit): the verdict line checks these
TARGETS = (("hybrid 节级 hit@5", ("retrieval", "hybrid", "section", "overall", "hit@5"), "≥", 0.90),
           ("拒答准确率", ("answers", "refusal_accuracy"), "≥", 0.85),
           ("误拒率", ("answers", "false_refusal_rate"), "≤", 0.05),
           ("引用准确率", ("answers", "citation_precision"), "≥", 0.80))
ANSWER_ROWS = (("citation_precision", "引用准确率", "给出引用的可回答题中，引用章节属于 gold 的比例", "n_cited"),
               ("first_cited_gold", "首条引用命中", "可回答题中第一条引用的章节属于 gold 的比例（拒答计 0；对照检索 hit@1）",
                "n_answerable"),
               ("citation_recall", "引用召回率", "可回答题的 gold 章节被引用的比例（拒答计 0）", "n_answerable"),
               ("refusal_accuracy", "拒答准确率", "无答案题（含越权指令、闲聊）被拒答的比例", "n_unanswerable"),
               ("false_refusal_rate", "误拒率", "可回答题被拒答的比例", "n_answerable"),
               ("key_number_match", "关键数字命中", "参考答案中的数量（数字+单位，不含 5G 之类名称）出现在答案里的比例",
                "n_with_numbers"),
               ("key_number_all", "数字全部命中", "参考答案的数量全部出现的题的比例", "n_with_numbers"),
               ("keys_match", "要点命中 keys", "数据集 keys 字段的字符串出现在答案里的比例", "n_with_keys"),
               ("answer_f1", "字符 F1", "答案与参考答案的字符级 F1（标点空白不计）", "n_answerable"),
               ("evidence_coverage", "证据覆盖", "evidence 原文的字符出现在答案里的比例", "n_answerable"),
               ("direct_correct", "直答正确", "直答行含全部 keys 与关键数量的题的比例", "n_direct"))


def _get(d, path):
    for p in path:
        if not isinstance(d, dict) or d.get(p) is None:
            return None
        d = d[p]
    return d


def _f(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}f}"


def _ci(ci) -> str:
    return f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else ""


def _p(p) -> str:
    return "—" if p is None else ("< 0.001" if p < 0.001 else f"{p:.3f}")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |"
            for r in rows]
    return out


def _verdict(results: dict) -> list[str]:
    unc = results.get("uncertainty", {})
    out = []
    for name, path, op, limit in TARGETS:
        v = _get(results, path)
        if v is None:
            continue
        ok = v >= limit if op == "≥" else v <= limit
        ci = _get(unc, ("retrieval", path[1], path[-1]) if path[0] == "retrieval"
                  else ("answers", path[-1]))
        sure = bool(ci) and (ci[0] >= limit if op == "≥" else ci[1] <= limit)
        mark = "❌" if not ok else ("✅" if sure or not ci else "✅（区间跨过目标）")
        out.append(f"{name} {_f(v)} {op} {limit:g} {mark}")
    return out


def summary_lines(results: dict) -> list[str]:
    """The three lines that open the report."""
    modes, unc = results["modes"], results.get("uncertainty", {})
    metric = results.get("breakdown", "hit@5")
    ret = results["retrieval"]
    n = ret[modes[0]]["section"]["overall"].get("n", 0)
    cells = [f"{m} {_f(ret[m]['section']['overall'].get(metric))} "
             f"{_ci(_get(unc, ('retrieval', m, metric)))}" for m in modes]
    lines = [f"- **检索**（节级 {metric}，{n} 道可回答题，95% 区间）：" + "；".join(cells)]
    a = results.get("answers")
    if a:
        ua = unc.get("answers", {})
        lines.append(f"- **回答**（{a['answerer']}）：" + "；".join(
            f"{label} {_f(a.get(k))} {_ci(ua.get(k))}".strip()
            for k, label, _, _ in ANSWER_ROWS[:6] if a.get(k) is not None))
    else:
        lines.append("- **回答**：未评测（加 `--answers`）")
    f = results.get("failures") or {}
    counts = "，".join(f"{KINDS[k]} {len(v)}" for k, v in f.get("groups", {}).items() if v)
    verdict = _verdict(results)
    lines.append("- **结论**：" + ("；".join(verdict) if verdict else "无可对照的目标")
                 + f"。失败题 {f.get('n_failed', 0)} 道（{counts or '无'}），见「失败题」。")
    return lines


def _failure_lines(results: dict) -> list[str]:
    f = results.get("failures")
    if not f:
        return []
    lines = ["", "## 失败题", "",
             f"检索按 {f['mode']} 前 {f['miss_k']} 判定；每类全部列出。", ""]
    if not f["n_failed"]:
        lines += ["无。"]
    for kind, items in f["groups"].items():
        if not items:
            continue
        lines += [f"### {KINDS[kind]}（{len(items)}）", ""]
        for it in items:
            head = f"- `{it['id']}`（{TYPE_NAMES.get(it['type'], it['type'])}" + (
                f"，对话第 {it['history_turns'] // 2 + 1} 轮" if it.get("history_turns") else "") + \
                f"）{it['question']}"
            lines.append(head)
            lines.append(f"  - gold：{'；'.join(it['gold']) or '（无，应拒答）'}；{it['reason']}")
            if kind == "retrieval":
                lines.append(f"  - 排第一的：{it['first']}（{it['signals'] or '无其他模式'}）")
            if it.get("answer") is not None and kind != "retrieval":
                text = " ".join(it["answer"].split())
                lines.append(f"  - 答案：{text[:160]}{'…' if len(text) > 160 else ''}")
                if it.get("cited"):
                    lines.append(f"  - 引用：{'；'.join(it['cited'])}")
                if it.get("reference"):
                    lines.append(f"  - 参考答案：{it['reference']}")
        lines.append("")
    return lines


def _paired_lines(results: dict) -> list[str]:
    unc = results.get("uncertainty")
    if not unc or not unc.get("paired"):
        return []
    focus = (results.get("failures") or {}).get("mode", results["modes"][0])
    rows = []
    for p in unc["paired"]:
        if focus not in (p["a"], p["b"]) or p["metric"].startswith("ndcg"):
            continue
        a, b, sign = (p["a"], p["b"], 1) if p["b"] == focus else (p["b"], p["a"], -1)
        counts = None if "a_only" not in p else (
            (p["b_only"], p["a_only"]) if sign == 1 else (p["a_only"], p["b_only"]))
        rows.append([f"{b} − {a}", p["metric"], f"{sign * p['diff']:+.3f}",
                     _ci(sorted(sign * x for x in p["ci"])),
                     p["test"] + (f"（{counts[0]}/{counts[1]}）" if counts else ""),
                     _p(p["p"]) + (" *" if p["p"] is not None and p["p"] < 0.05 else "")])
    out = ["", f"## {focus} 与其他模式的配对检验（节级，同一批题；全部模式对见 results.json）", "",
           f"差值的 95% 区间为配对 bootstrap（{unc['resamples']} 次，种子 {unc['seed']}）；0/1 指标用精确 "
           "McNemar 检验，括号内为只有前者 / 只有后者答对的题数；* 为 p < 0.05。", ""]
    out += _table(["对比", "指标", "差值", "95% 区间", "检验", "p"], rows)
    small = unc.get("small_groups") or []
    if small:
        out += ["", f"⚠️ 以下分组少于 {SMALL_GROUP} 题，其指标波动大，仅供参考：" + "、".join(
            (TYPE_NAMES.get(g["name"], g["name"]) if g["group"] == "by_type"
             else chapter_name(g["name"])) + f"（{g['n']}）" for g in small)]
    return out


def _weakest_lines(results: dict) -> list[str]:
    w = results.get("weakest")
    if not w:
        return []
    out = ["", f"## 最弱的题型与章（{w['mode']}，按节级 {w['metric']} 从低到高，只列未达 1.0 的）", ""]
    for kind, title, name in (("by_type", "题型", lambda g: f"{TYPE_NAMES.get(g, g)} ({g})"),
                              ("by_chapter", "章", chapter_name)):
        if not w[kind]:
            out.append(f"- {title}：全部为 1.000，无未命中")
            continue
        for g in w[kind]:
            out.append(f"- {title} **{name(g['name'])}**：{w['metric']} = {_f(g['value'])}"
                       f"（{g['n']} 题，未命中 {g['n_misses']}）")
            out += [f"  - `{m['id']}` {m['question']} → gold {'；'.join(m['gold'])}；"
                    f"检索前 3：{'；'.join(m['top3']) or '（无结果）'}" for m in g["misses"]]
    return out


def _answer_table(results: dict) -> list[str]:
    a = results.get("answers")
    if not a:
        return []
    ua = results.get("uncertainty", {}).get("answers", {})
    cal = a.get("calibration") or {}
    out = ["", f"## 回答（{a['answerer']}）", ""]
    if a.get("refusal_threshold") is not None:
        note = {True: f"阈值是在同一数据集（{cal.get('dataset')}）上校准的，拒答准确率与误拒率为样本内结果，偏乐观",
                False: f"阈值在 {cal.get('dataset')} 上校准，与本数据集不同",
                None: "阈值来源：" + str(cal.get("source", "未知"))}[cal.get("same_dataset")]
        out += [f"拒答阈值 {a['refusal_threshold']:.4f}（{note}）。", ""]
    src = a.get("scored_on", {})
    out += [f"关键数字与 keys 的评分文本：直答行 {src.get('direct', 0)} 题，答案全文（去掉 [n] 与来源）"
            f" {src.get('text', 0)} 题。", ""]
    same = a.get("key_number_all") == a.get("key_number_match")  # one quantity per answer
    rows = [[label, _f(a.get(k)), _ci(ua.get(k)), f"{a.get(n_key, '—')}", how]
            for k, label, how, n_key in ANSWER_ROWS if a.get(k) is not None
            and not (k == "key_number_all" and same)]
    if same and a.get("key_number_match") is not None:
        out += ["每道含数量的题其数量要么全部命中、要么全部缺失，所以「数字全部命中」与「关键数字命中」相同，只列一行。",
                ""]
    lat = a["latency_ms"]
    rows.append(["延迟 p50 / p95 ms", f"{_f(lat['p50'], 1)} / {_f(lat['p95'], 1)}", "", "",
                 "每题一次 Pipeline.ask，预热一题后计时"])
    return out + _table(["指标", "值", "95% 区间", "n", "口径"], rows)


def _retrieval_tables(results: dict) -> list[str]:
    modes, ks, cut = results["modes"], results["ks"], results.get("mrr_cut", 10)
    ret, unc = results["retrieval"], results.get("uncertainty", {})
    out = []
    for level, name in (("section", "节级（section）"), ("chapter", "章级（chapter）")):
        header = ["模式"] + [f"hit@{k}" for k in ks] + [f"recall@{k}" for k in ks] + \
            [f"MRR@{cut}", f"nDCG@{cut}"] + (["p50 ms", "p95 ms"] if level == "section" else [])
        rows = []
        for m in modes:
            o = ret[m][level]["overall"]
            row = [m] + [_f(o.get(f"hit@{k}")) for k in ks] + \
                [_f(o.get(f"recall@{k}")) for k in ks] + [_f(o.get(f"mrr@{cut}")),
                                                          _f(o.get(f"ndcg@{cut}"))]
            if level == "section":
                row += [_f(ret[m]["latency_ms"]["p50"], 1), _f(ret[m]["latency_ms"]["p95"], 1)]
            rows.append(row)
        out += ["", f"## 总体 · {name}", ""] + _table(header, rows)
    head = [k for k in ("hit@1", "hit@5", f"mrr@{cut}", f"ndcg@{cut}")
            if any(_get(unc, ("retrieval", m, k)) for m in modes)]
    if head:
        out += ["", "### 节级指标的 95% bootstrap 区间", ""]
        out += _table(["模式"] + head, [[m] + [_ci(_get(unc, ("retrieval", m, k))) for k in head]
                                       for m in modes])
    return out


def _n(group: dict) -> str:
    return f"{group['n']}" + (" ⚠️" if group["n"] < SMALL_GROUP else "")


def _breakdowns(results: dict) -> list[str]:
    modes, cut = results["modes"], results.get("mrr_cut", 10)
    metric, ret = results.get("breakdown", "hit@5"), results["retrieval"]
    sec0 = ret[modes[0]]["section"]

    def cells(kind, g):
        if kind == "by_type":
            return [f"{_f(ret[m]['section'][kind][g][metric])} / "
                    f"{_f(ret[m]['section'][kind][g][f'mrr@{cut}'])}" for m in modes]
        return [f"{_f(ret[m]['section'][kind][g][metric])} "
                f"({_f(ret[m]['chapter'][kind][g][metric])})" for m in modes]

    out = ["", f"## 按题型 · 节级 {metric} / MRR@{cut}", ""]
    out += _table(["题型", "n"] + modes,
                  [[f"{TYPE_NAMES[t]} ({t})", _n(sec0["by_type"][t])] + cells("by_type", t)
                   for t in TYPE_NAMES if t in sec0["by_type"]])
    titles = results.get("chapter_titles", {})
    out += ["", f"## 按章 · 节级 {metric}（章级 {metric}）", "",
            f"多节题计入其每个 gold 章；⚠️ = 少于 {SMALL_GROUP} 题。", ""]
    out += _table(["章", "标题", "n"] + modes,
                  [[chapter_name(c), titles.get(c, ""), _n(sec0["by_chapter"][c])]
                   + cells("by_chapter", c) for c in sorted(sec0["by_chapter"], key=int)])
    return out


def render_markdown(results: dict, plots: list[str] | None = None) -> str:
    """The report.md text: summary, failures, paired tests, weakest groups, tables, plots."""
    ds, idx = results["dataset"], results["index"]
    counts = idx["counts"]
    lines = [f"# 评测报告：{Path(ds['path']).name}", "", "## 摘要", "", *summary_lines(results)]
    lines += _failure_lines(results)
    lines += _paired_lines(results)
    lines += _weakest_lines(results)
    lines += _answer_table(results)
    lines += _retrieval_tables(results)
    lines += _breakdowns(results)
    lines += ["", "## 运行信息", "",
              f"- 数据集：`{ds['path']}`（sha256 `{ds['sha256'][:16]}…`），{ds['rows']} 题，"
              f"其中可回答 {ds['answerable']} 题；题型："
              + "、".join(f"{TYPE_NAMES.get(t, t)} {n}" for t, n in ds["types"].items() if n),
              f"- 索引：build `{idx['build_id']}`，嵌入模型 `{idx['embedder']}`，"
              + "，".join(f"{k} {v}" for k, v in counts.items())
              + f"；版本 {results['package_version']}；生成于 {results['created']}",
              f"- 每题检索 {results['depth']} 节；hit@k 的 k = {', '.join(map(str, results['ks']))}；"
              f"MRR 与 nDCG 截在 {results.get('mrr_cut', 10)}；无答案题不计入检索指标；"
              "并列按检索器返回顺序；章级指标先按排名去重章再计算；对话题按最后一轮评分。"]
    if results.get("naive"):
        n = results["naive"]
        lines.append(f"- naive 基线：LlamaIndex SentenceSplitter({n['chunk_size']}/{n['chunk_overlap']})"
                     f" 切原文为 {n['nodes']} 个节点，无标题元数据，同一嵌入模型，余弦 top-k，"
                     "按字符重叠映射回章节。")
    lines += diagnostics.markdown(results.get("diagnostics"))  # misses with signals, overlap bands
    if plots:
        font = results.get("plot_font")
        lines += ["", "## 图", "", f"字体：{font['name']}" if font and font.get("name")
                  else "⚠️ 未找到中文字体，图中标签为英文。", ""]
        lines += [f"![{p}]({p})" for p in plots]
    return "\n".join(lines) + "\n"


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(x) -> str:
    if x is None:
        return ""
    if isinstance(x, bool):
        return "1" if x else "0"
    if isinstance(x, float):
        return f"{x:.4f}".rstrip("0").rstrip(".") if not math.isnan(x) else ""
    s = str(x)
    return "'" + s if s.startswith(_FORMULA) else s


def write_csv(per_q: list[dict], modes: list[str], path: Path) -> None:
    """One row per question for error analysis (UTF-8 with BOM for spreadsheets).

    ``rank_<mode>`` is the 1-based rank of the first gold section (empty: not retrieved, or
    an unanswerable question); ``top1_<mode>`` is what came first in the focus mode.
    """
    has_answers = any("answer" in r for r in per_q)
    focus = ["hybrid" if "hybrid" in modes else modes[0]]
    header = ["id", "type", "question", "gold"] + [f"rank_{m}" for m in modes] + \
        [f"top1_{m}" for m in focus]
    if has_answers:
        header += ["refused", "support", "answer", "direct", "scored_on", "reference", "cited",
                   "citation_precision", "first_cited_gold", "citation_recall", "key_numbers", "keys",
                   "char_f1"]
    header += ["failed", "reason"]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in per_q:
            row = [r["id"], r["type"], r["question"], "；".join(r["gold_labels"])]
            row += [r["modes"][m].get("rank") for m in modes]
            row += [(r["modes"][m]["labels"] or [""])[0] for m in focus]
            if has_answers:
                a = r.get("answer", {})
                row += [a.get("refused"), a.get("support"), a.get("text"), a.get("direct"),
                        a.get("scored_on"), r.get("reference"), "；".join(a.get("cited_labels", [])),
                        a.get("precision"), a.get("first_gold"), a.get("recall"), a.get("numbers"),
                        a.get("keys"),
                        a.get("f1")]
            row += [r.get("failed", False), "；".join(r.get("failure_reasons", []))]
            w.writerow([_cell(c) for c in row])


def write_report(results: dict, per_q: list[dict], out: Path) -> dict[str, Path]:
    """Write every report file into ``out`` (created if needed); returns name → path."""
    out.mkdir(parents=True, exist_ok=True)
    paths, font = write_plots(results, per_q, out)
    results["plot_font"] = {"name": font, "file": font_file(font)}
    files = {"report.md": out / "report.md", "results.json": out / "results.json",
             "per_question.csv": out / "per_question.csv"}
    files["report.md"].write_text(render_markdown(results, [p.name for p in paths]),
                                  encoding="utf-8")
    files["results.json"].write_text(
        json.dumps({k: v for k, v in results.items() if k != "questions"} | {"questions": per_q},
                   ensure_ascii=False, indent=1), encoding="utf-8")
    write_csv(per_q, results["modes"], files["per_question.csv"])
    for p in paths:
        files[p.name] = p
    return files
