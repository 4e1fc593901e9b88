"""``python -m rag bench``: parse the benchmark's flags, run it, print where the report went."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from rag.bench import DEV, BenchError, read_questions, run_bench
from rag.config import PROJECT_ROOT


def _csv_ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(x) for x in str(text).split(",") if x.strip()]
    except ValueError:
        vals = []
    if not vals or any(v < 1 for v in vals):
        raise BenchError(f"{what} 应为逗号分隔的正整数，如 1,4,16：{text!r}")
    return sorted(set(vals))


def run_cli(args, settings) -> int:
    """``python -m rag bench``: run the benchmark and print where the report went."""
    smoke = bool(args.smoke)
    scales = _csv_ints(args.scale or ("1" if smoke else "1,4,16"), "--scale")
    clients = [] if args.clients == "0" else _csv_ints(
        args.clients or ("1,2" if smoke else "1,4,16"), "--clients")
    queries = args.queries if args.queries is not None else (5 if smoke else 0)
    questions = read_questions(Path(args.questions or DEV), queries)
    out_dir = Path(args.out) if args.out else PROJECT_ROOT / "eval" / "reports" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    uncached = args.uncached if args.uncached is not None else not smoke
    keep = args.work is not None
    work = Path(args.work) if keep else Path(tempfile.mkdtemp(prefix="rag-bench-"))
    if keep and work.exists() and any(work.iterdir()):
        raise BenchError(f"工作目录 {work} 非空：基准测试需要空目录（冷启动）")
    log = (lambda *_: None) if args.quiet else (lambda m: print(m, file=sys.stderr, flush=True))
    try:
        res = run_bench(settings, scales=scales, questions=questions, clients=clients,
                        per_client=max(1, args.per_client), out_dir=out_dir, work_dir=work,
                        uncached=uncached, naive=not args.no_naive, serve=bool(clients),
                        smoke=smoke, log=log)
    finally:
        if not keep:
            shutil.rmtree(work, ignore_errors=True)
    from rag.bench.report import console_summary

    print(console_summary(res, out_dir / "results.md"))
    return 0
