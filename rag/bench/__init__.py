"""Benchmarks: ingest and query cost, memory, concurrency, and how they grow with the corpus.

``python -m rag bench`` measures, into fresh data folders under a work directory (never the
user's index):

- cold ingest split by stage (parse, chunk, embed, chroma, bm25), with and without the
  embedding cache shipped in corpus/cache/, warm re-ingest (in-process and as a whole
  ``python -m rag ingest`` process), index size on disk, peak RSS of ingestion;
- retrieval latency per mode (bm25, dense, hybrid) over the dev questions after warm-up,
  with a per-component profile of hybrid, and extractive answer latency;
- the running app (app.py in a subprocess on a free loopback port) under 1, 4, 16
  simultaneous gradio_client clients: throughput, p95, errors, peak RSS (VmHWM);
- the corpus replicated ×1, ×4, ×16 as distinct documents: growth of each cost and the slope
  of a log-log fit; the naive LlamaIndex baseline of rag.evaluation as a ratio.

Every heavy step runs in a child process (``python -m rag.bench TASK PARAMS OUT``, see
__main__.py) so peak RSS and "cold" mean what they say. Modules: measure (replication,
statistics, growth fits), tasks (the child tasks), serving (the app under load), runner
(run_bench), report (results.json, results.md, scale.png). This package re-exports their
public names.

Not handled here: the ``bench`` CLI (rag/cli/bench.py); timed assertions (these are reports);
tuning retrieval (rag/retrieval.py).
"""

from rag.bench.measure import (DEV, MODES, BenchError, dir_size, loglog_slope, read_questions,
                               replicate, stats_ms)
from rag.bench.runner import CHILD_TIMEOUT, growth, run_bench
from rag.bench.serving import SERVE_START_TIMEOUT, free_port, serve_bench
from rag.bench.tasks import TASKS, child_main

__all__ = [
    "CHILD_TIMEOUT", "DEV", "MODES", "SERVE_START_TIMEOUT", "TASKS", "BenchError", "child_main",
    "dir_size", "free_port", "growth", "loglog_slope", "read_questions", "replicate",
    "run_bench", "serve_bench", "stats_ms",
]
