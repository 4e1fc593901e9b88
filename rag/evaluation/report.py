"""Write an evaluation's files: report.md, results.json, per_question.csv and PNG plots.

Input is what :func:`rag.evaluation.runner.evaluate` computed; nothing is measured here. Plots use
matplotlib's Agg backend and a CJK font (Noto Sans CJK, or WenQuanYi) when font_manager finds
one; otherwise their labels fall back to English.

Not handled here: running retrieval or computing metrics (runner.py, metrics.py).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from rag.corpus import int_to_cn
from rag.evaluation import diagnostics

TYPE_NAMES = {"fact": "事实", "paraphrase": "改述", "concept": "概念", "multi": "多节",
              "unanswerable": "无答案"}
BREAKDOWN = "hit@5"  # the cut-off shown in per-type and per-chapter breakdowns
_CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC",
              "WenQuanYi Micro Hei", "WenQuanYi Zen Hei")


def cjk_font() -> str | None:
    """Name of an installed CJK font matplotlib can use, or None."""
    from matplotlib import font_manager

    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in _CJK_FONTS if n in names), None)


def _f(x, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "—"
    return f"{x:.{digits}f}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return out


def _chapter_name(ch: str) -> str:
    return "序言" if ch == "0" else f"第{int_to_cn(int(ch))}章"


def render_markdown(results: dict) -> str:
    """The report.md text: overall tables per level, breakdowns, worst types, answers."""
    modes, ks, depth = results["modes"], results["ks"], 10
    ret = results["retrieval"]
    ds = results["dataset"]
    idx = results["index"]
    lines = [f"# 评测报告：{Path(ds['path']).name}", "",
             f"- 数据集：`{ds['path']}`（sha256 `{ds['sha256'][:16]}…`），{ds['rows']} 题，"
             f"其中可回答 {ds['answerable']} 题；题型："
             + "、".join(f"{TYPE_NAMES.get(t, t)} {n}" for t, n in ds["types"].items() if n),
             f"- 索引：build `{idx['build_id']}`，嵌入模型 `{idx['embedder']}`，{idx['counts']}；"
             f"版本 {results['package_version']}；生成于 {results['created']}",
             "- 检索深度 10 节；无答案题不计入检索指标；并列按检索器返回顺序；"
             "章级指标先按排名去重章再计算。"]
    if results.get("naive"):
        n = results["naive"]
        lines.append(f"- naive 基线：LlamaIndex SentenceSplitter"
                     f"({n['chunk_size']}/{n['chunk_overlap']})"
                     f" 切原文为 {n['nodes']} 个节点，无标题元数据，同一嵌入模型，余弦 top-10，"
                     "按字符重叠映射回章节。")
    for level, name in (("section", "节级（section）"), ("chapter", "章级（chapter）")):
        header = ["模式"] + [f"hit@{k}" for k in ks] + [f"recall@{k}" for k in ks] + \
            [f"MRR@{depth}", f"nDCG@{depth}"] + (["p50 ms", "p95 ms"] if level == "section" else [])
        rows = []
        for m in modes:
            o = ret[m][level]["overall"]
            row = [m] + [_f(o.get(f"hit@{k}")) for k in ks] + \
                [_f(o.get(f"recall@{k}")) for k in ks] + [_f(o.get(f"mrr@{depth}")),
                                                          _f(o.get(f"ndcg@{depth}"))]
            if level == "section":
                lat = ret[m]["latency_ms"]
                row += [_f(lat["p50"], 1), _f(lat["p95"], 1)]
            rows.append(row)
        lines += ["", f"## 总体 · {name}", ""] + _table(header, rows)

    lines += ["", f"## 按题型 · 节级 {BREAKDOWN} / MRR@{depth}", ""]
    types = [t for t in TYPE_NAMES if any(t in ret[m]["section"]["by_type"] for m in modes)]
    lines += _table(["题型", "n"] + modes, [
        [f"{TYPE_NAMES[t]} ({t})", str(ret[modes[0]]["section"]["by_type"][t]["n"])]
        + [f"{_f(ret[m]['section']['by_type'][t][BREAKDOWN])} / "
           f"{_f(ret[m]['section']['by_type'][t][f'mrr@{depth}'])}" for m in modes]
        for t in types])

    lines += ["", f"## 按章 · 节级 {BREAKDOWN}（章级 {BREAKDOWN}）", "",
              "多节题计入其每个 gold 章。", ""]
    titles = results.get("chapter_titles", {})
    chapters = sorted(ret[modes[0]]["section"]["by_chapter"], key=int)
    lines += _table(["章", "标题", "n"] + modes, [
        [_chapter_name(c), titles.get(c, ""),
         str(ret[modes[0]]["section"]["by_chapter"][c]["n"])]
        + [f"{_f(ret[m]['section']['by_chapter'][c][BREAKDOWN])} "
           f"({_f(ret[m]['chapter']['by_chapter'][c][BREAKDOWN])})" for m in modes]
        for c in chapters])

    worst = results.get("worst_types")
    if worst:
        lines += ["", f"## 最弱的题型（{worst['mode']}，按节级 {BREAKDOWN} 排序）", ""]
        for i, w in enumerate(worst["types"], start=1):
            ex = w["example"]
            lines += [f"{i}. **{TYPE_NAMES.get(w['type'], w['type'])} ({w['type']})**："
                      f"{w['metric']} = {_f(w['value'])}，MRR@10 = {_f(w['mrr'])}（{w['n']} 题）",
                      f"   - 例 `{ex['id']}`：{ex['question']}",
                      f"   - gold：{'；'.join(ex['gold'])}",
                      f"   - 检索前 3：{'；'.join(ex['top3']) or '（无结果）'}"]

    a = results.get("answers")
    if a:
        lines += ["", f"## 回答（{a['answerer']}）", ""]
        if a.get("refusal_threshold") is not None:
            lines += [f"拒答阈值 {a['refusal_threshold']:.4f}（若阈值是在同一数据集上校准的，"
                      "拒答准确率与误拒率为样本内结果，偏乐观）。", ""]
        lines += _table(["指标", "值", "口径"], [
            ["引用准确率 citation precision", _f(a["citation_precision"]),
             f"给出引用的可回答题（{a['n_cited']} 题）中，引用章节属于 gold 的比例"],
            ["引用召回率 citation recall", _f(a["citation_recall"]),
             f"可回答题（{a['n_answerable']} 题）的 gold 章节被引用的比例（拒答计 0）"],
            ["拒答准确率 refusal accuracy", _f(a["refusal_accuracy"]),
             f"无答案题（{a['n_unanswerable']} 题）被拒答的比例"],
            ["误拒率 false refusal", _f(a["false_refusal_rate"]), "可回答题被拒答的比例"],
            ["关键数字命中 key numbers", _f(a["key_number_match"]),
             f"参考答案含数字的题（{a['n_with_numbers']} 题）中，数字出现在答案里的比例"],
            ["数字全部命中", _f(a["key_number_all"]), "参考答案的数字全部出现的题的比例"],
            ["延迟 p50 / p95 ms",
             f"{_f(a['latency_ms']['p50'], 1)} / {_f(a['latency_ms']['p95'], 1)}",
             "每题一次 Pipeline.ask"]])

    lines += diagnostics.markdown(results.get("diagnostics"))  # rag/evaluation/diagnostics.py
    lines += ["", "## 图", "", "![hit@k](hit_at_k.png)", "", "![按章](per_chapter.png)", "",
              "![按题型](per_type.png)", ""]
    return "\n".join(lines)


def write_csv(per_q: list[dict], modes: list[str], path: Path) -> None:
    """One row per question and mode, for error analysis (UTF-8 with BOM for spreadsheets)."""
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        w = csv.writer(fh)
        has_answers = any("answer" in r for r in per_q)
        w.writerow(["id", "mode", "type", "question", "gold", "top5", "hit@1", "hit@5", "hit@10",
                    "reciprocal_rank", "chapter_hit@5"]
                   + (["refused", "cited", "citation_precision", "citation_recall"]
                      if has_answers else []))
        for r in per_q:
            for m in modes:
                res = r["modes"][m]
                sec = res["metrics"].get("section", {})
                chap = res["metrics"].get("chapter", {})
                top5 = "；".join(f"{i}:{lab}" for i, lab in enumerate(res["labels"][:5], start=1))
                row = [r["id"], m, r["type"], r["question"], "；".join(r["gold_labels"]), top5,
                       sec.get("hit@1", ""), sec.get("hit@5", ""), sec.get("hit@10", ""),
                       sec.get("mrr@10", ""), chap.get("hit@5", "")]
                if has_answers:
                    a = r.get("answer", {})
                    row += [a.get("refused", ""),
                            "；".join(f"{c[1]}-{c[2]}" for c in a.get("cited", [])),
                            "" if a.get("precision") is None else a["precision"],
                            a.get("recall", "")]
                w.writerow(row)


def write_plots(results: dict, out: Path) -> list[Path]:
    """hit@k curves per mode (section and chapter level), per-chapter and per-type bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = cjk_font()
    zh = font is not None
    if zh:
        plt.rcParams["font.sans-serif"] = [font, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["axes.unicode_minus"] = False
    modes, ret = results["modes"], results["retrieval"]
    curve = results["curve_ks"]
    paths = []

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for ax, level, title in zip(axes, ("section", "chapter"),
                                (("节级", "Section level"), ("章级", "Chapter level"))):
        for m in modes:
            o = ret[m][level]["overall"]
            ax.plot(curve, [o[f"hit@{k}"] for k in curve], marker="o", label=m)
        ax.set_title(title[0] if zh else title[1])
        ax.set_xlabel("k")
        ax.set_xticks(curve)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("hit@k")
    axes[0].set_ylim(0, 1.02)
    axes[1].legend(loc="lower right")
    fig.tight_layout()
    paths.append(out / "hit_at_k.png")
    fig.savefig(paths[-1], dpi=120)
    plt.close(fig)

    def bars(groups: list[str], names: list[str], key: str, fname: str, ylabel: str, width_in):
        fig, ax = plt.subplots(figsize=(width_in, 4.2))
        w = 0.8 / max(1, len(modes))
        for i, m in enumerate(modes):
            vals = [ret[m]["section"][key][g][BREAKDOWN] for g in groups]
            ax.bar([x + (i - (len(modes) - 1) / 2) * w for x in range(len(groups))], vals, w,
                   label=m)
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(names, rotation=45 if len(groups) > 8 else 0, ha="right"
                           if len(groups) > 8 else "center")
        ax.set_ylabel(ylabel)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(ncol=len(modes), loc="upper center", bbox_to_anchor=(0.5, 1.12))
        fig.tight_layout()
        paths.append(out / fname)
        fig.savefig(paths[-1], dpi=120)
        plt.close(fig)

    chapters = sorted(ret[modes[0]]["section"]["by_chapter"], key=int)
    names = [(_chapter_name(c) if zh else ("Pre" if c == "0" else f"Ch{c}")) for c in chapters]
    bars(chapters, names, "by_chapter", "per_chapter.png",
         f"节级 {BREAKDOWN}" if zh else f"section {BREAKDOWN}", max(8, 0.5 * len(chapters) + 3))
    types = [t for t in TYPE_NAMES if t in ret[modes[0]]["section"]["by_type"]]
    bars(types, [TYPE_NAMES[t] if zh else t for t in types], "by_type", "per_type.png",
         f"节级 {BREAKDOWN}" if zh else f"section {BREAKDOWN}", 8)
    return paths


def write_report(results: dict, per_q: list[dict], out: Path) -> dict[str, Path]:
    """Write every report file into ``out`` (created if needed); returns name → path."""
    out.mkdir(parents=True, exist_ok=True)
    files = {"report.md": out / "report.md", "results.json": out / "results.json",
             "per_question.csv": out / "per_question.csv"}
    files["report.md"].write_text(render_markdown(results), encoding="utf-8")
    files["results.json"].write_text(
        json.dumps(results | {"questions": per_q}, ensure_ascii=False, indent=1), encoding="utf-8")
    write_csv(per_q, results["modes"], files["per_question.csv"])
    for p in write_plots(results, out):
        files[p.name] = p
    return files
