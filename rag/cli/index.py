"""``python -m rag ingest`` and ``python -m rag search``."""

from __future__ import annotations

import sys

from rag.cli.batchio import print_json as _print_json
from rag.cli.batchio import read_batch as _read_batch
from rag.errors import RagError


def run_ingest(args, settings) -> int:
    from rag.store import build_index, current_manifest

    if args.export_cache:
        from rag.shipped_cache import export_shipped_cache

        print(f"已导出嵌入缓存：{export_shipped_cache(settings)}", file=sys.stderr)
        return 0
    if args.if_missing and current_manifest(settings) is not None:
        print("索引已存在，跳过（用 --rebuild 强制重建）", file=sys.stderr)
        return 0
    if args.no_wait or args.lock_timeout is not None:
        timeout = 0.0 if args.no_wait else args.lock_timeout
        if timeout < 0:
            raise RagError("--lock-timeout 须为非负秒数")
        settings = settings.model_copy(update={"lock_timeout": timeout})
    report = build_index(settings, rebuild=args.rebuild, progress=not args.quiet,
                         on_wait=lambda message: print(message, file=sys.stderr, flush=True))
    if report.skipped:
        print("语料与设置未变，索引已是最新（用 --rebuild 强制重建）", file=sys.stderr)
    else:
        t = report.timings
        wait = f"，等待另一构建 {t['wait']:.1f}s" if t.get("wait", 0) >= 0.1 else ""
        print(f"索引已构建：{report.counts}；新嵌入 {report.embedded} 条，缓存命中 {report.cached} 条；"
              f"耗时 {t['total']:.1f}s（解析 {t['parse']:.2f}s，切分 {t['chunk']:.2f}s，"
              f"嵌入 {t['embed']:.1f}s，Chroma {t['chroma']:.1f}s，BM25 {t['bm25']:.2f}s{wait}）",
              file=sys.stderr)
    return 0


def run_search(args, settings) -> int:
    from rag.retrieval import Retriever

    if args.batch is None and not (args.question or "").strip():
        raise RagError("问题为空：用法 python -m rag search \"问题\"")
    rows = _read_batch(args.batch) if args.batch else None
    retriever = Retriever.from_settings(settings)
    if rows is not None:
        for row in rows:
            try:
                found = retriever.search_full(row["question"], k=args.k, mode=args.mode,
                                              chapter=args.chapter)
                out = {"id": row.get("id"), "question": row["question"],
                       "hits": retriever.explain(found)}
            except RagError as exc:
                out = {"id": row.get("id"), "question": row["question"], "hits": [],
                       "error": str(exc)}
            _print_json(out)
        return 0
    found = retriever.search_full(args.question, k=args.k, mode=args.mode, chapter=args.chapter)
    if args.json:  # each hit carries the bridge's expansion and the terms it matched there
        _print_json(retriever.explain(found))
        return 0
    for h in found.hits:
        snippet = " ".join(h.text.split())[:80]
        print(f"{h.rank:>2}  {h.score:.4f}  「{h.label}」\n    {snippet}")
    return 0
