"""``python -m rag eval``: check a dataset, evaluate one or more, compare two runs, export BEIR.

Not handled here: the evaluation itself (rag.evaluation).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.config import PROJECT_ROOT, Settings
from rag.corpus import load_corpus
from rag.evaluation import DEFAULT_DATASET, DEPTH, DatasetError, check_dataset, evaluate


def _csv_ints(text: str, what: str) -> list[int]:
    try:
        return [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise DatasetError(f"{what} 应为逗号分隔的整数，如 1,3,5,10：{text!r}") from None


def _check(args, settings: Settings) -> int:
    corpus = load_corpus(settings.corpus_dir)
    good, bad = check_dataset(args.check, corpus)
    for b in bad:
        if len(b.reasons) == 1:
            print(b)
            continue
        print(f"第 {b.line} 行" + (f" [{b.id}]" if b.id else "") + f"：{len(b.reasons)} 个问题")
        for r in b.reasons:
            print(f"  - {r}")
    n_problems = sum(len(b.reasons) for b in bad)
    print(f"{args.check}：{len(good)} 行合格，{len(bad)} 行不合格"
          + (f"（共 {n_problems} 个问题）" if bad else ""),
          file=sys.stderr if bad else sys.stdout)
    return 1 if bad else 0


def _compare(args) -> int:
    from rag.evaluation.compare import compare_runs, load_results, regressions, render_compare

    old, new = (load_results(p) for p in args.compare)
    cmp = compare_runs(old, new)
    md = render_compare(cmp)
    print(md)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "compare.md").write_text(md, encoding="utf-8")
        (out / "compare.json").write_text(json.dumps(cmp, ensure_ascii=False, indent=1),
                                          encoding="utf-8")
        print(f"→ {out / 'compare.md'}", file=sys.stderr)
    if args.tolerance is not None:
        bad = regressions(cmp, args.tolerance)
        for r in bad:
            print(f"退步：{r['mode']} {r['metric']} {r['old']:.3f} → {r['new']:.3f}"
                  f"（容差 {args.tolerance}）", file=sys.stderr)
        return 1 if bad else 0
    return 0


def run_cli(args, settings: Settings) -> int:
    """``python -m rag eval``: --check, --compare, --export-beir, or run the suite."""
    if args.check:
        return _check(args, settings)
    if args.compare:
        return _compare(args)
    datasets = [Path(d) for d in (args.dataset or [DEFAULT_DATASET])]
    if args.export_beir:
        from rag.evaluation.beir import export_beir

        corpus = load_corpus(settings.corpus_dir)
        for path in datasets:
            out = Path(args.export_beir) / (path.stem if len(datasets) > 1 else "")
            n = export_beir(path, corpus, out)
            print(f"{path} → {out}：{n['sections']} 节，{n['queries']} 个查询，{n['qrels']} 条相关判断"
                  f"（{n['skipped_no_gold']} 道无 gold 的题未导出）")
        return 0
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    ks = _csv_ints(args.k, "--k")
    base = Path(args.out) if args.out else PROJECT_ROOT / "eval" / "reports"
    for path in datasets:
        out = base if (args.out and len(datasets) == 1) else base / path.stem
        res = evaluate(path, settings, modes=modes, ks=ks, answers=args.answers, out_dir=out,
                       progress=not args.quiet, limit=args.limit)
        print(f"{path}：{res['dataset']['rows']} 题 → {out / 'report.md'}")
        unc = res["uncertainty"]["retrieval"]
        for mode in modes:
            o = res["retrieval"][mode]["section"]["overall"]
            cells = "  ".join(f"{k}={o[k]:.3f}" + (f"[{unc[mode][k][0]:.2f},{unc[mode][k][1]:.2f}]"
                                                   if unc[mode].get(k) else "")
                              for k in dict.fromkeys((f"hit@{ks[0]}", res["breakdown"],
                                                      f"mrr@{DEPTH}")) if k in o)
            print(f"  {mode:<7} {cells}")
        f = res["failures"]
        print("  失败题 " + str(f["n_failed"]) + " 道：" + ("，".join(
            f"{len(v)} {k}" for k, v in f["groups"].items() if v) or "无"))
        if args.save_baseline:
            from rag.evaluation.compare import slim

            full = json.loads((out / "results.json").read_text(encoding="utf-8"))
            Path(args.save_baseline).write_text(json.dumps(slim(full), ensure_ascii=False),
                                                encoding="utf-8")
            print(f"  基线 → {args.save_baseline}")
    return 0
