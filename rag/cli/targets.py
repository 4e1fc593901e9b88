"""``python -m rag targets``: the plan's quantitative targets as a table, CSV, JSON or xlsx.

Rows come from the live build (targets.jsonl); without a build they are extracted from the
corpus folder directly. ``--score`` prints the extraction scores against eval/targets_gold.jsonl.

Not handled here: the extraction rules (rag.targets), filters and file formats (rag.targets_view).
"""

from __future__ import annotations

import json
import sys

from rag.targets import current_targets
from rag.targets_view import FORMATS, TargetsError, export_targets, filter_targets, render_table, \
    to_csv, to_json


def run_cli(args, settings) -> int:
    if args.score:
        from rag.corpus import load_corpus
        from rag.evaluation.targets_score import GOLD, evaluate, load_gold

        print(json.dumps(evaluate(load_corpus(settings.corpus_dir), load_gold(args.gold or GOLD)),
                         ensure_ascii=False))
        return 0
    if args.format not in FORMATS:
        raise TargetsError(f"未知格式：{args.format}；可选 {', '.join(FORMATS)}")
    if args.format == "xlsx" and not args.out:
        raise TargetsError("xlsx 格式需要用 --out 指定输出文件")
    rows = filter_targets(current_targets(settings), chapter=args.chapter, year=args.year,
                          kind=args.kind, query=args.query)
    if args.out:
        path = export_targets(rows, args.format, args.out)
        print(f"已导出 {len(rows)} 条目标：{path}", file=sys.stderr)
        return 0
    text = {"table": render_table, "csv": lambda r: "\ufeff" + to_csv(r), "json": to_json}[args.format](rows)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
    return 0
