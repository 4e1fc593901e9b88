"""``python -m rag add FILE``, ``python -m rag documents`` and ``python -m rag remove ID``."""

from __future__ import annotations

import json
import sys

_STAGES = (("read", "读取"), ("parse_new", "解析新文档"), ("parse", "解析语料"), ("chunk", "切分"),
           ("embed", "嵌入"), ("chroma", "Chroma"), ("bm25", "BM25"))


def _timings(timings: dict) -> str:
    return "，".join(f"{name} {timings[key]:.2f}s" for key, name in _STAGES if key in timings)


def run_add(args, settings) -> int:
    from rag.documents import add_document

    done = add_document(settings, args.file, doc_id=args.id, title=args.title,
                        progress=not args.quiet)
    r = done.report
    timings = {**done.timings, **r.timings}
    print(f"已添加「{done.info.title}」（id {done.info.id}，{done.info.format}，{done.sections} 节）；"
          f"新嵌入 {r.embedded} 条，缓存命中 {r.cached} 条；索引 {r.counts}；"
          f"耗时 {timings.get('read', 0) + timings.get('parse_new', 0) + timings.get('total', 0):.1f}s"
          f"（{_timings(timings)}）", file=sys.stderr)
    return 0


def run_documents(args, settings) -> int:
    from rag.documents import list_documents

    rows = list_documents(settings)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print("id\t格式\t节数\t添加时间\t标题")
    for row in rows:
        print(f"{row['id']}\t{row['format']}\t{row['sections']}\t{row['added']}\t{row['title']}")
    return 0


def run_remove(args, settings) -> int:
    from rag.documents import remove_document

    r = remove_document(settings, args.id, progress=not args.quiet)
    print(f"已删除 {args.id}；索引 {r.counts}", file=sys.stderr)
    return 0
