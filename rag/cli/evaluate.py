"""``python -m rag eval``: check a dataset, or evaluate one or more and print the headline numbers."""

from __future__ import annotations

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


def run_cli(args, settings: Settings) -> int:
    """``python -m rag eval``: --check FILE, or run the suite on one or more datasets."""
    if args.check:
        corpus = load_corpus(settings.corpus_dir)
        good, bad = check_dataset(args.check, corpus)
        for b in bad:
            print(b)
        print(f"{args.check}：{len(good)} 行合格，{len(bad)} 行不合格",
              file=sys.stderr if bad else sys.stdout)
        return 1 if bad else 0
    datasets = [Path(d) for d in (args.dataset or [DEFAULT_DATASET])]
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    ks = _csv_ints(args.k, "--k")
    base = Path(args.out) if args.out else PROJECT_ROOT / "eval" / "reports"
    for path in datasets:
        out = base if (args.out and len(datasets) == 1) else base / path.stem
        res = evaluate(path, settings, modes=modes, ks=ks, answers=args.answers, out_dir=out,
                       progress=not args.quiet, limit=args.limit)
        print(f"{path}：{res['dataset']['rows']} 题 → {out / 'report.md'}")
        for mode in modes:
            o = res["retrieval"][mode]["section"]["overall"]
            cells = "  ".join(f"{k}={o[k]:.3f}" for k in (f"hit@{ks[0]}", f"hit@{ks[-1]}",
                                                           f"mrr@{DEPTH}") if k in o)
            print(f"  {mode:<7} {cells}")
    return 0
