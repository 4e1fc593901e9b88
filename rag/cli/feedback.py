"""``python -m rag feedback {export,stats}``: the ratings users gave in the app.

``export --out FILE.jsonl [--since YYYY-MM-DD]`` writes one row per rating in
eval/datasets/dev.jsonl's schema (cited sections as candidate gold; ``verdict`` and
``comment`` as extra fields) for an evaluator to review before merging; ``stats`` prints the
feedback counts and the usage counts (requests per outcome, mean latency).

Not handled here: storing ratings (rag.feedback, called by the app), merging into datasets.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rag.errors import FeedbackError
from rag.feedback import FeedbackStore, export_row, parse_since, usage_stats


def run_cli(args, settings) -> int:
    store = FeedbackStore(settings)
    if args.action == "stats":
        s = store.stats()
        print(f"反馈共 {s['total']} 条：👍 {s['up']} · 👎 {s['down']} · 附说明 {s['commented']}"
              f" · 其中拒答 {s['refused']}")
        if s["total"]:
            print(f"时间范围（UTC）：{s['first']:%Y-%m-%d %H:%M} — {s['last']:%Y-%m-%d %H:%M}")
        u = usage_stats(settings)
        print(f"用量共 {u['total']} 次：回答 {u['answered']} · 拒答 {u['refused']}"
              f" · 出错 {u['error']} · 平均 {u['mean_ms']} ms")
        return 0
    if not args.out:
        raise FeedbackError("export 需要用 --out 指定输出文件（.jsonl）")
    rows = [export_row(r) for r in store.rows(parse_since(args.since))]
    out = Path(args.out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("w", encoding="utf-8") as f:
            for row in rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise FeedbackError(f"无法写入 {out}：{exc.strerror or exc}") from None
    down = sum(r["verdict"] == "down" for r in rows)
    print(f"已导出 {len(rows)} 条反馈（👎 {down}）：{out}", file=sys.stderr)
    return 0
