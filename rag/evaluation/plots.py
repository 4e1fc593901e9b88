"""The evaluation's PNG figures, with Chinese labels in a CJK font found via matplotlib.

Figures: hit@k curves (section and chapter level), per-chapter and per-type bars (n under
every bar), answer metrics with their 95% intervals, and latency distributions (retrieval per
mode, answers). Each mode keeps one colour whatever ``--modes`` selects; y-axes start near the
lowest value so differences near 1.0 stay visible (the axis says where it starts).

:func:`cjk_font` asks matplotlib's font manager for Noto Sans CJK (or WenQuanYi); when a CJK
font file is installed but the manager's cache predates it, the cache is rebuilt. With no CJK
font at all the labels fall back to English and a warning is printed to stderr.

Not handled here: computing anything (runner.py, stats.py), the Markdown (report.py).
"""

from __future__ import annotations

import math
import re
import sys
from pathlib import Path

from rag.corpus import int_to_cn

CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans CJK TC",
             "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Noto Serif CJK SC")
_CJK_FILE = re.compile(r"(NotoSansCJK|NotoSerifCJK|NotoSansSC|wqy|WenQuanYi)", re.I)
MODE_COLORS = {"bm25": "#1f77b4", "dense": "#ff7f0e", "hybrid": "#2ca02c", "naive": "#7f7f7f"}
TYPE_NAMES = {"fact": "事实", "paraphrase": "改述", "concept": "概念", "multi": "多节",
              "everyday": "日常", "broad": "宽泛", "conversation": "对话",
              "unanswerable": "无答案", "instruction": "越权指令", "chitchat": "闲聊"}
_warned = False


def _known(font_manager) -> str | None:
    names = {f.name for f in font_manager.fontManager.ttflist}
    return next((n for n in CJK_FONTS if n in names), None)


def cjk_font(warn: bool = True) -> str | None:
    """Name of a CJK font matplotlib can use (rebuilding its cache if needed), or None."""
    global _warned
    from matplotlib import font_manager

    name = _known(font_manager)
    if name is None and any(_CJK_FILE.search(Path(p).name)
                            for p in font_manager.findSystemFonts()):
        # the font is installed but the cache predates it (fonts-noto-cjk after matplotlib)
        font_manager.fontManager = font_manager._load_fontmanager(try_read_cache=False)
        font_manager.findfont = font_manager.fontManager.findfont
        name = _known(font_manager)
    if name is None and warn and not _warned:
        _warned = True
        print("警告：matplotlib 找不到中文字体（Noto Sans CJK / 文泉驿），图表标签改用英文；"
              "安装：sudo apt-get install fonts-noto-cjk", file=sys.stderr)
    return name


def use_cjk_font(plt) -> str | None:
    """Make ``plt`` draw text in the CJK font (if any); returns its name."""
    font = cjk_font()
    if font:
        plt.rcParams["font.sans-serif"] = [font, *plt.rcParams["font.sans-serif"]]
        plt.rcParams["font.family"] = "sans-serif"
        plt.rcParams["axes.unicode_minus"] = False
    return font


def font_file(name: str | None) -> str | None:
    """The file matplotlib renders ``name`` from (for checking what a figure used)."""
    if not name:
        return None
    from matplotlib import font_manager
    from matplotlib.font_manager import FontProperties

    return font_manager.findfont(FontProperties(family=name), fallback_to_default=False)


def chapter_name(ch: str, zh: bool = True) -> str:
    if not zh:
        return "Pre" if ch == "0" else f"Ch{ch}"
    return "序言" if ch == "0" else f"第{int_to_cn(int(ch))}章"


def _floor(values, margin: float = 0.05) -> float:
    vals = [v for v in values if v is not None and not math.isnan(v)]
    low = min(vals) if vals else 0.0
    return max(0.0, math.floor((low - margin) * 20) / 20)


def _save(fig, path: Path, paths: list[Path]) -> None:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    paths.append(path)
    import matplotlib.pyplot as plt

    plt.close(fig)


def write_plots(results: dict, per_q: list[dict], out: Path) -> tuple[list[Path], str | None]:
    """Every figure into ``out``; returns (paths, CJK font name or None)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    font = use_cjk_font(plt)
    zh = font is not None
    modes, ret, curve = results["modes"], results["retrieval"], results["curve_ks"]
    metric = results.get("breakdown", "hit@5")
    paths: list[Path] = []

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    low = _floor([ret[m][lv]["overall"].get(f"hit@{k}") for m in modes
                  for lv in ("section", "chapter") for k in curve])
    for ax, level, title in zip(axes, ("section", "chapter"),
                                (("节级", "Section level"), ("章级", "Chapter level"))):
        for m in modes:
            o = ret[m][level]["overall"]
            ax.plot(curve, [o.get(f"hit@{k}") for k in curve], marker="o", label=m,
                    color=MODE_COLORS.get(m))
        ax.set_title(title[0] if zh else title[1])
        ax.set_xlabel("k")
        ax.set_xticks(curve)
        ax.grid(alpha=0.3)
    n = ret[modes[0]]["section"]["overall"].get("n", 0)
    axes[0].set_ylabel(f"hit@k（n={n}，纵轴从 {low:.2f} 起）" if zh else f"hit@k (n={n})")
    axes[0].set_ylim(low, 1.01)
    axes[1].legend(loc="lower right")
    _save(fig, out / "hit_at_k.png", paths)

    def bars(groups, names, key, fname, width_in):
        fig, ax = plt.subplots(figsize=(width_in, 4.4))
        w = 0.8 / max(1, len(modes))
        vals = {m: [ret[m]["section"][key][g][metric] for g in groups] for m in modes}
        for i, m in enumerate(modes):
            ax.bar([x + (i - (len(modes) - 1) / 2) * w for x in range(len(groups))], vals[m], w,
                   label=m, color=MODE_COLORS.get(m))
        counts = [ret[modes[0]]["section"][key][g]["n"] for g in groups]
        ax.set_xticks(range(len(groups)))
        rot = len(groups) > 8
        ax.set_xticklabels([f"{nm}\nn={c}" for nm, c in zip(names, counts)],
                           rotation=45 if rot else 0, ha="right" if rot else "center",
                           fontsize=8 if rot else 9)
        low = _floor([v for vs in vals.values() for v in vs], 0.1)
        ax.set_ylim(low, 1.02)
        ax.set_ylabel((f"节级 {metric}（纵轴从 {low:.2f} 起）" if zh else f"section {metric}"))
        ax.grid(axis="y", alpha=0.3)
        ax.legend(ncol=len(modes), loc="upper center", bbox_to_anchor=(0.5, 1.14))
        _save(fig, out / fname, paths)

    chapters = sorted(ret[modes[0]]["section"]["by_chapter"], key=int)
    if chapters:
        bars(chapters, [chapter_name(c, zh) for c in chapters], "by_chapter", "per_chapter.png",
             max(8, 0.55 * len(chapters) + 3))
    types = [t for t in TYPE_NAMES if t in ret[modes[0]]["section"]["by_type"]]
    if types:
        bars(types, [TYPE_NAMES[t] if zh else t for t in types], "by_type", "per_type.png", 8)

    a = results.get("answers")
    if a:
        _answer_plot(plt, a, results.get("uncertainty", {}).get("answers", {}), zh, out, paths)
    _latency_plot(plt, results, per_q, zh, out, paths)
    return paths, font


ANSWER_BARS = (("citation_precision", "引用准确率", "citation precision"),
               ("citation_recall", "引用召回率", "citation recall"),
               ("refusal_accuracy", "拒答准确率", "refusal accuracy"),
               ("false_refusal_rate", "误拒率", "false refusal"),
               ("key_number_match", "关键数字命中", "key numbers"),
               ("keys_match", "要点命中", "keys"),
               ("answer_f1", "字符 F1", "char F1"),
               ("evidence_coverage", "证据覆盖", "evidence coverage"),
               ("direct_correct", "直答正确", "direct answer"))


def _answer_plot(plt, a: dict, cis: dict, zh: bool, out: Path, paths: list[Path]) -> None:
    rows = [(k, zh_name if zh else en) for k, zh_name, en in ANSWER_BARS if a.get(k) is not None]
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(rows) + 1.4))
    ys = range(len(rows))
    vals = [a[k] for k, _ in rows]
    err = [[max(0.0, v - (cis.get(k) or [v, v])[0]) for (k, _), v in zip(rows, vals)],
           [max(0.0, (cis.get(k) or [v, v])[1] - v) for (k, _), v in zip(rows, vals)]]
    ax.barh(list(ys), vals, xerr=err, color="#2ca02c", alpha=0.8, capsize=3)
    for y, v, up in zip(ys, vals, err[1]):
        ax.text(v + up + 0.015, y, f"{v:.3f}", va="center", fontsize=8)
    ax.set_yticks(list(ys), [name for _, name in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.set_title(f"回答指标（{a.get('answerer', '')}，误差线为 95% 区间）" if zh
                 else f"answer metrics ({a.get('answerer', '')}, 95% CI)")
    ax.grid(axis="x", alpha=0.3)
    _save(fig, out / "answers.png", paths)


def _latency_plot(plt, results: dict, per_q: list[dict], zh: bool, out: Path,
                  paths: list[Path]) -> None:
    modes = results["modes"]
    series = [(m, [r["modes"][m]["seconds"] * 1000 for r in per_q]) for m in modes]
    a = results.get("answers")
    if a and a["latency_ms"].get("values"):
        series.append(("回答" if zh else "answer", a["latency_ms"]["values"]))
    series = [(name, v) for name, v in series if v]
    if not series:
        return
    fig, ax = plt.subplots(figsize=(8, 4.2))
    box = ax.boxplot([v for _, v in series], orientation="horizontal", whis=(5, 95), showfliers=True,
                     patch_artist=True)
    for patch, (name, _) in zip(box["boxes"], series):
        patch.set_facecolor(MODE_COLORS.get(name, "#9467bd"))
        patch.set_alpha(0.6)
    ax.set_yticks(range(1, len(series) + 1), [f"{name} (n={len(v)})" for name, v in series])
    ax.set_xscale("log")
    ax.set_xlabel("毫秒（对数轴；须线为 p5–p95）" if zh else "ms (log; whiskers p5–p95)")
    ax.set_title("每题延迟分布（预热后）" if zh else "latency per question (after warm-up)")
    ax.grid(axis="x", which="both", alpha=0.3)
    _save(fig, out / "latency.png", paths)
