"""``python -m rag add FILE``, ``python -m rag documents`` and ``python -m rag remove ID``.

``add`` prints when the plan became searchable (phase 1) and, by default, waits for phase 2
and prints when the index is complete. ``add --no-wait`` returns after phase 1 and leaves
phase 2 to a background ``python -m rag ingest --quiet`` (its output in
``<data_dir>/complete.log``); ``documents`` shows the plan as 待补全 until it is done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

_STAGES = (("read", "读取"), ("parse_new", "解析新文档"), ("parse", "解析语料"), ("chunk", "切分"),
           ("embed", "嵌入"), ("chroma", "Chroma"), ("bm25", "BM25"))


def _timings(timings: dict) -> str:
    return "，".join(f"{name} {timings[key]:.2f}s" for key, name in _STAGES if key in timings)


def _searchable(done) -> None:
    r = done.report
    timings = {**done.timings, **r.timings}
    print(f"已可检索「{done.info.title}」（id {done.info.id}，{done.info.format}，{done.sections} 节）："
          f"用时 {done.timings['searchable']:.1f}s（{_timings(timings)}）；新嵌入 {r.embedded} 条，"
          f"缓存命中 {r.cached} 条，{r.counts.get('pooled_chunks', 0)} 个块向量暂由句向量平均，"
          f"{r.counts.get('terms_left_out', 0)} 个桥接词待补", file=sys.stderr, flush=True)


def _background_complete(settings) -> Path:
    """Start ``python -m rag ingest --quiet`` detached (phase 2); returns its log file."""
    log = Path(settings.data_dir) / "complete.log"
    with log.open("ab") as out:
        subprocess.Popen([sys.executable, "-m", "rag", "--data-dir", str(settings.data_dir),
                          "--embedder", settings.embedder, "ingest", "--quiet"],
                         stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                         env={**os.environ, "RAG_CORPUS_DIR": str(settings.corpus_dir)})
    return log


def run_add(args, settings) -> int:
    from rag.documents import add_document

    done = add_document(settings, args.file, doc_id=args.id, title=args.title,
                        progress=not args.quiet, wait=not args.no_wait, on_searchable=_searchable)
    if args.no_wait:
        log = _background_complete(settings)
        print(f"第二阶段（块向量与桥接词）在后台进行，日志 {log}；完成前 `python -m rag documents` "
              "显示「待补全」", file=sys.stderr)
        return 0
    r = done.complete
    print(f"已完成「{done.info.title}」的索引：共用时 {done.timings['complete']:.1f}s"
          f"（第二阶段 {r.timings.get('total', 0):.1f}s：{_timings(r.timings)}）；"
          f"新嵌入 {r.embedded} 条；索引 {r.counts}", file=sys.stderr)
    return 0


def run_documents(args, settings) -> int:
    from rag.documents import list_documents

    rows = list_documents(settings)
    if args.json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False))
        return 0
    print("id\t格式\t节数\t添加时间\t状态\t标题")
    for row in rows:
        print(f"{row['id']}\t{row['format']}\t{row['sections']}\t{row['added']}\t{row['state']}"
              f"\t{row['title']}")
    return 0


def run_remove(args, settings) -> int:
    from rag.documents import remove_document

    r = remove_document(settings, args.id, progress=not args.quiet)
    print(f"已删除 {args.id}；索引 {r.counts}", file=sys.stderr)
    return 0
