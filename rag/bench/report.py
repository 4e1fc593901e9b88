"""Benchmark reports: each figure next to its target, as results.json, results.md and scale.png.

Input is the dict built by :func:`rag.bench.runner.run_bench`; a figure that was not measured (a
smoke run, a step that failed) is shown as "—" and counts as neither met nor not met.

Not handled here: measuring anything (tasks.py, serving.py, runner.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from rag.bench.measure import MODES

STAGES = ("parse", "chunk", "embed", "chroma", "bm25", "total")


def _get(d, *path):
    """d[path0][path1]… or None when any step is missing."""
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


def _row(name: str, value, unit: str, limit: float | None, op: str = "≤") -> dict:
    met = None if value is None or limit is None else (
        value <= limit if op == "≤" else value < limit)
    return {"name": name, "value": value, "unit": unit, "target": limit, "op": op, "met": met}


def targets(res: dict) -> list[dict]:
    """Every targeted figure with its limit and whether it is met (None: not measured)."""
    one = str(min(int(k) for k in res["scales"]))
    s1 = res["scales"][one]
    rows = [
        _row("冷启动摄取（含随附嵌入缓存）", _get(s1, "ingest", "timings", "total"), "s", 30.0),
        _row("冷启动摄取（不用随附缓存）", _get(res, "uncached_ingest", "timings", "total"), "s", 30.0),
        # a new plan is searchable after phase 1 (rag.phases); phase 2 only refines it
        _row("新规划冷添加后可检索（rag add 第一阶段，折算 200 KB，无缓存）",
             _get(res, "cold_add", "scaled_200kb", "searchable_s"), "s", 60.0),
        _row("新规划补全完成（第二阶段，折算 200 KB；无目标，仅报告）",
             _get(res, "cold_add", "scaled_200kb", "complete_s"), "s", None),
        _row("热重复摄取（进程内 build_index）", _get(s1, "ingest", "warm_s"), "s", 3.0),
        _row("热重复摄取（`python -m rag ingest` 整个进程）", _get(res, "warm_cli", "wall_s"), "s", 3.0),
    ]
    for mode in MODES:
        rows.append(_row(f"检索 p50（{mode}）", _get(s1, "query", "retrieval", mode, "p50_ms"), "ms", 50.0))
        rows.append(_row(f"检索 p95（{mode}）", _get(s1, "query", "retrieval", mode, "p95_ms"), "ms", 100.0))
    rows.append(_row("抽取式回答 p95", _get(s1, "query", "answer", "p95_ms"), "ms", 150.0))
    rows.append(_row("服务进程峰值 RSS（VmHWM）", _get(res, "serving", "VmHWM"), "MB", 1536.0))
    g = res.get("growth", {})
    for q in ("p50", "p95"):
        rows.append(_row(f"hybrid 检索 {q} 随规模增长（log-log 斜率）",
                         _get(g, f"hybrid_{q}_ms", "slope"), "", 1.0, "<"))
    level = next((lv for lv in _get(res, "serving", "levels") or [] if lv["clients"] == 16), None)
    rows.append({"name": "16 个并发客户端无错误", "unit": "",
                 "value": None if level is None else f"{level['ok']}/{level['requests']} 成功，{level['errors']} 个错误",
                 "target": "0 个错误", "op": "", "met": None if level is None else
                 (level["errors"] == 0 and level["ok"] == level["requests"])})
    return rows


def console_summary(res: dict, where) -> str:
    """The console line: how many targets were met, naming every miss with its figure."""
    met = [t for t in res["targets"] if t["met"] is not None]
    missed = [t for t in met if not t["met"]]
    line = f"基准测试完成：{len(met) - len(missed)}/{len(met)} 项达标 → {where}"
    for t in missed:
        value = _fmt(t["value"], 3 if t["unit"] == "" else 1)
        line += f"\n  未达标：{t['name']} {value} {t['unit']}（目标 {t['op']} {t['target']} {t['unit']}）"
    return line.replace(" （", "（").replace(" ）", "）")


def _fmt(v, nd: int = 1) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{nd}f}"
    return str(v)


def _mark(met) -> str:
    return "—（未测）" if met is None else ("✅ 达标" if met else "❌ 未达标")


def _table(header: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_fmt(c, 2) if isinstance(c, float) else _fmt(c) for c in r) + " |"
            for r in rows]
    return out + [""]


def render_md(res: dict) -> str:
    """The Markdown report (Chinese headings; numbers as measured)."""
    m, st = res["machine"], res["settings"]
    scales = sorted(int(k) for k in res["scales"])
    lines = ["# 规划问答基准测试", "",
             f"- 时间 {res['created']}；CPU {m['cpus']} 核；负载（1/5/15 分钟）开始 "
             f"{', '.join(f'{x:.1f}' for x in m['loadavg_start'])}，结束 "
             f"{', '.join(f'{x:.1f}' for x in m.get('loadavg_end', []))}"
             "（负载高于核数说明机器被其他进程共享，绝对耗时偏高）。",
             f"- 嵌入模型 {st['embedder']}；问题 {st['queries']} 个（eval/datasets/dev.jsonl 前若干题）；"
             f"规模 ×{', ×'.join(map(str, scales))}；并发 {st['clients'] or '未测'}（每客户端 {st['per_client']} 题）"
             + ("；**冒烟测试**（规模与题量很小，数字仅供检查工具）" if res.get("smoke") else "") + "。",
             "", "## 目标对照", ""]
    lines += _table(["指标", "测得", "目标", "结论"],
                    [[t["name"], f"{_fmt(t['value'], 3 if t['unit'] == '' else 1)} {t['unit']}".strip(),
                      f"{t['op']} {t['target']} {t['unit']}".strip() if t["target"] is not None else "—",
                      _mark(t["met"]) if t["target"] is not None or t["value"] is None else "仅报告"]
                     for t in res["targets"]])
    missed = [t for t in res["targets"] if t["met"] is False]
    if missed:
        lines += ["**未达标**：" + "；".join(
            f"{t['name']}（测得 {_fmt(t['value'], 3 if t['unit'] == '' else 1)} {t['unit']}，"
            f"目标 {t['op']} {t['target']} {t['unit']}）".replace(" ，", "，").replace(" ）", "）")
            for t in missed), ""]

    lines += ["## 摄取（分阶段，秒）", ""]
    rows = []
    for n in scales:
        ing = res["scales"][str(n)]["ingest"]
        rows.append([f"×{n}（含缓存）", *_ingest_cells(ing)])
    unc = res.get("uncached_ingest")
    if unc:
        rows.append(["×1（不用随附缓存）", *_ingest_cells(unc)])
    lines += ["total 为 build_index 内部计时（含嵌入模型加载，不含 Python 导入）；"
              "“进程”为整个子进程的墙钟时间（含导入与热重复摄取）。", ""]
    lines += _table(["规模", *STAGES, "进程 s", "新嵌入/缓存命中", "索引 MB（Chroma/BM25）",
                     "峰值 RSS MB", "热重复 s"], rows)
    lines += _cold_add(res.get("cold_add"))
    cli = res.get("warm_cli")
    if cli:
        lines += [f"`python -m rag ingest` 热重复（整个进程，含导入）：{cli['wall_s']:.2f} s，"
                  f"退出码 {cli['returncode']}，{'已跳过（语料未变）' if cli['skipped'] else '未跳过！'}。", ""]

    lines += ["## 检索延迟（毫秒，预热后）", ""]
    lines += _table(["规模", "模式", "n", "p50", "p95", "p99", "平均"],
                    [[f"×{n}", mode, *[_get(res["scales"][str(n)], "query", "retrieval", mode, k)
                                       for k in ("n", "p50_ms", "p95_ms", "p99_ms", "mean_ms")]]
                     for n in scales for mode in MODES])
    lines += ["### hybrid 耗时分解（毫秒，检索器自带的逐步计时）", ""]
    prow = []
    for n in scales:
        prof = _get(res["scales"][str(n)], "query", "hybrid_profile") or {}
        cpu = _get(res["scales"][str(n)], "query", "hybrid_profile_cpu") or {}
        if "error" in prof:
            lines += [f"×{n}：分解失败（{prof['error']}）", ""]
            continue
        prow += [[f"×{n}", part, v.get("p50_ms"), v.get("p95_ms"), v.get("mean_ms"),
                  (cpu.get(part) or {}).get("mean_ms")] for part, v in prof.items()]
        if prof:
            prow.append([f"×{n}", "**各步合计**", None, None,
                         round(sum(v.get("mean_ms") or 0.0 for v in prof.values()), 2),
                         round(sum(v.get("mean_ms") or 0.0 for v in cpu.values()), 2) or None])
    lines += ["各步背靠背计时（同一批查询再跑一遍），相加即整体；other 为各步之外的调用开销。"
              "“CPU 平均”为调用线程的 CPU 时间（机器被共用时比墙钟稳定）。", ""]
    lines += _table(["规模", "步骤", "p50", "p95", "平均", "CPU 平均"], prow)

    ans = _get(res["scales"][str(scales[0])], "query", "answer")
    lines += ["## 抽取式回答延迟", ""]
    if not ans:
        lines += ["未测。", ""]
    elif "error" in ans:
        lines += [f"未测：{ans['error']}", ""]
    else:
        lines += [f"n={ans['n']}：p50 {ans['p50_ms']} ms，p95 {ans['p95_ms']} ms，p99 {ans['p99_ms']} ms；"
                  f"拒答 {ans['refused']} 题（{ans['answerer']}）。", ""]

    lines += _naive_md(res, scales[0])
    lines += _serving_md(res.get("serving"))
    lines += _growth_md(res)
    if res.get("notes"):
        lines += ["## 备注", "", *[f"- {n}" for n in res["notes"]], ""]
    return "\n".join(lines)


def _ingest_cells(ing: dict) -> list:
    size = ing["index_bytes"]
    mb = f"{size['total'] / 2**20:.1f}（{size.get('chroma', 0) / 2**20:.1f}/{size.get('bm25', 0) / 2**20:.1f}）"
    return [*[ing["timings"].get(k) for k in STAGES], ing.get("process_s"),
            f"{ing['embedded']}/{ing['cached']}", mb, ing["peak_rss_mb"], ing["warm_s"]]


def _naive_md(res: dict, one: int) -> list[str]:
    ni = res.get("naive_ingest")
    if not ni:
        return ["## 朴素基线", "", "未测。", ""]
    s1 = res["scales"][str(one)]
    ours, unc = s1["ingest"]["timings"]["total"], _get(res, "uncached_ingest", "timings", "total")
    nq, hq = _get(s1, "query", "naive_query"), _get(s1, "query", "retrieval", "hybrid")
    fresh = ni["embedded"] == ni["nodes"]  # the baseline may use its own shipped vectors too
    out = ["## 朴素基线（LlamaIndex 默认：SentenceSplitter 1024/200，同一嵌入模型）", "",
           f"- 冷启动构建 {ni['total_s']:.1f} s（{ni['nodes']} 个节点，新嵌入 {ni['embedded']}"
           f"{'，全部现算' if fresh else '，其余来自其随附缓存'}）。",
           f"- 本系统冷启动（含随附缓存）/ 朴素基线冷启动 = {ours / ni['total_s']:.2f}×"
           + (f"；不用随附缓存 / 朴素基线 = {unc / ni['total_s']:.2f}×" if unc and fresh else "")
           + "。"]
    if nq and hq and nq.get("p50_ms"):
        out.append(f"- 查询：朴素 p50 {nq['p50_ms']} ms / p95 {nq['p95_ms']} ms；hybrid / 朴素 = "
                   f"p50 {hq['p50_ms'] / nq['p50_ms']:.2f}×，p95 {hq['p95_ms'] / nq['p95_ms']:.2f}×。")
    return out + [""]


def _serving_md(sv: dict | None) -> list[str]:
    out = ["## 并发（经运行中的 app.py 的 /ask 接口，gradio_client）", ""]
    if not sv:
        return out + ["未测。", ""]
    if "error" in sv:
        return out + [f"失败：{sv['error']}", ""]
    out += [f"启动到监听 {sv['listen_s']} s，到第一个回答 {sv['first_answer_s']} s；"
            f"服务进程 VmHWM {sv.get('VmHWM', '—')} MB，VmRSS {sv.get('VmRSS', '—')} MB。", ""]
    out += _table(["客户端", "请求", "成功", "错误", "吞吐 q/s", "p50 ms", "p95 ms", "错误示例"],
                  [[lv["clients"], lv["requests"], lv["ok"], lv["errors"], lv["throughput_qps"],
                    lv.get("p50_ms"), lv.get("p95_ms"), "; ".join(lv["error_samples"]) or "—"]
                   for lv in sv["levels"]])
    return out


def _growth_md(res: dict) -> list[str]:
    g = res["growth"]
    out = ["## 规模增长（语料复制为不同文档）", "",
           "斜率为 log(成本) 对 log(规模) 的线性拟合：1 = 线性，< 1 = 次线性。复制的文本与原文相同，"
           "嵌入缓存全部命中，所以嵌入阶段几乎不随规模增长；Chroma 写入与 BM25 的增长才是真实的。", ""]
    out += _table(["成本", *[f"×{n}" for n in g["scales"]], "斜率"],
                  [[name, *v["values"], v["slope"]] for name, v in g.items() if name != "scales"])
    return out


SERIES_NAMES = {"ingest_total_s": ("摄取总计", "ingest total"), "ingest_embed_s": ("嵌入", "embed"),
                "ingest_chroma_s": ("Chroma 写入", "Chroma"), "ingest_bm25_s": ("BM25", "BM25"),
                "ingest_chunk_s": ("切分", "chunk"), "index_mb": ("索引大小", "index size"),
                "ingest_rss_mb": ("摄取峰值 RSS", "ingest peak RSS")}


def _series_name(key: str, zh: bool) -> str:
    if key in SERIES_NAMES:
        return SERIES_NAMES[key][0 if zh else 1]
    mode, q, _ = key.split("_")  # hybrid_p50_ms
    return f"{mode} {q}"


def plot(res: dict, path: Path) -> Path | None:
    """scale.png: ingest stages, index size and query latency against the scale.

    Several scales: log-log lines, each labelled with its fitted slope. One scale: bars of the
    measured values (a growth plot needs at least two points).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from rag.evaluation.plots import use_cjk_font

    zh = use_cjk_font(plt) is not None
    g = res["growth"]
    xs = g["scales"]
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    panels = [
        (("摄取耗时", "ingest time"), "s",
         ["ingest_total_s", "ingest_embed_s", "ingest_chroma_s", "ingest_bm25_s", "ingest_chunk_s"]),
        (("索引大小 / 摄取峰值内存", "index size / ingest RSS"), "MB", ["index_mb", "ingest_rss_mb"]),
        (("检索延迟", "retrieval latency"), "ms", [f"{m}_{q}_ms" for m in MODES for q in ("p50", "p95")]),
    ]
    for ax, (title, unit, keys) in zip(axes, panels):
        keys = [k for k in keys if any(y for y in g[k]["values"])]
        if len(xs) == 1:
            vals = [g[k]["values"][0] for k in keys]
            ax.barh(range(len(keys)), vals, color="#1f77b4")
            ax.set_yticks(range(len(keys)), [_series_name(k, zh) for k in keys])
            ax.invert_yaxis()
            for i, v in enumerate(vals):
                ax.text(v, i, f" {v:.3g}", va="center", fontsize=8)
            ax.set_xlabel(unit)
            ax.set_title(f"{title[0 if zh else 1]}（×{xs[0]}，只有一个规模，无增长曲线）" if zh
                         else f"{title[1]} (×{xs[0]} only)")
            continue
        for k in keys:
            ys, slope = g[k]["values"], g[k]["slope"]
            ax.plot(xs, [y if y and y > 0 else float("nan") for y in ys], marker="o",
                    label=_series_name(k, zh) + (f"（斜率 {round(slope, 2) + 0.0:.2f}）" if zh else f" (slope {round(slope, 2) + 0.0:.2f})")
                    if slope is not None else _series_name(k, zh))
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(xs, [f"×{x}" for x in xs])
        ax.set_xlabel("语料规模（倍，对数轴）" if zh else "corpus scale (log)")
        ax.set_ylabel(f"{unit}（对数轴）" if zh else f"{unit} (log)")
        ax.set_title(title[0 if zh else 1])
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_reports(res: dict, out_dir: Path) -> dict[str, Path]:
    """Write results.json, results.md and scale.png into ``out_dir``; returns their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "md": out_dir / "results.md",
             "png": out_dir / "scale.png"}
    paths["json"].write_text(json.dumps(res, ensure_ascii=False, indent=2), encoding="utf-8")
    paths["md"].write_text(render_md(res), encoding="utf-8")
    plot(res, paths["png"])
    return paths


def _cold_add(add: dict | None) -> list[str]:
    """The ``rag add`` section: time to searchable and to complete, per-stage seconds of each
    phase, what the embed stage had to do, and the dev figures of a phase-1 index."""
    if not add or "timings" not in add:
        return []
    t, e = add["timings"], add.get("embed", {})
    t2 = add.get("phase2_timings", {})
    stages = [("read", "读取"), ("parse_new", "解析新文档"), ("parse", "解析语料"), ("chunk", "切分"),
              ("embed", "嵌入"), ("embed_load", "　其中 模型加载与随附缓存校验"),
              ("embed_sentences", "　其中 句"), ("embed_chunks", "　其中 块"),
              ("embed_headings", "　其中 标题"), ("embed_units", "　其中 句、块、标题"),
              ("embed_terms", "　其中 桥接词"), ("chroma", "Chroma"), ("bm25", "BM25"),
              ("total", "构建合计")]
    rows = [[name, t.get(key), t2.get(key)] for key, name in stages
            if key in t or key in t2 or key[:6] != "embed_"]
    rows.append(["**可检索 / 完成（自 add 开始）**", add.get("searchable_s"), add.get("complete_s")])
    tokens, unique = e.get("tokens", {}), e.get("unique", {})
    kinds = [[name, e.get(k), unique.get(k), tokens.get(k)] for k, name in (
        ("sentences", "句"), ("chunks", "块"), ("headings", "标题"), ("terms", "新桥接词"))]
    smoke = f"（冒烟：只取前 {add['chapters']} 章）" if add.get("chapters") else ""
    load = add.get("loadavg")
    scaled = add.get("scaled_200kb") or {}
    lines = ["### 冷添加一份新规划（`rag add`）", "",
             f"新文档{smoke} {add['text_bytes'] / 1024:.0f} KB 文字（.docx {add['file_bytes'] / 1024:.0f} KB），"
             f"{add['sections']} 节；第一阶段新嵌入 {add['embedded']} 条，缓存命中 {add['cached']} 条，"
             f"第二阶段新嵌入 {add.get('phase2_embedded')} 条；"
             f"每次调用约 {e.get('chars_per_call')} 字（批大小 {e.get('batch_size')}），"
             f"线程 {add.get('threads')}"
             + (f"，结束时负载 {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f}" if load else "") + "。", ""]
    cpu = add.get("cpu_s")
    if cpu:
        lines += [f"本进程 CPU 时间（受负载影响小；空闲的 2 核上墙钟时间不少于它的一半）：可检索 "
                  f"{cpu['searchable']} s，完成 {cpu['complete']} s。", ""]
    if scaled:
        lines += [f"折算到 200 KB（除模型加载外各阶段 ×{scaled['factor']}，按文字量线性）："
                  f"可检索 {scaled['searchable_s']} s，完成 {scaled['complete_s']} s。", ""]
    lines += [*_table(["文本", "条数", "去重后", "token（去重后）"], kinds),
              *_table(["阶段", "第一阶段（可检索）秒", "第二阶段（完成）秒"], rows)]
    q = add.get("quality")
    if q:
        lines += ["第一阶段（块向量由句向量平均、无新桥接词）与完成后的检索质量，dev 集，随附规划当作新文档"
                  "（样本内）：", ""]
        lines += _table(["阶段", "模式", "hit@1", "hit@5", "MRR@10"],
                        [[ph, mode, q[ph][mode]["hit@1"], q[ph][mode]["hit@5"], q[ph][mode]["mrr@10"]]
                         for ph in ("phase1", "phase2") for mode in ("bm25", "dense", "hybrid")])
    return lines