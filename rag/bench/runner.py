"""One benchmark run: every scale's child tasks, the uncached ingest, serving, growth fits.

:func:`run_bench` starts each heavy step as a child process (tasks.py), collects their results
into one dict, adds the growth of each cost with the scale and writes the reports.

Not handled here: what each child measures (tasks.py, serving.py), the report text (report.py),
the ``bench`` CLI (rag/cli/bench.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rag.bench.measure import MODES, BenchError, loglog_slope
from rag.bench.serving import serve_bench
from rag.config import PROJECT_ROOT

CHILD_TIMEOUT = 3600  # seconds; a ×16 ingest on a busy 2-core machine stays well under this


def _child(task: str, params: dict, log) -> dict:
    """Run one task in a fresh Python process; returns its JSON result."""
    fd, out = tempfile.mkstemp(prefix=f"bench-{task}-", suffix=".json")
    os.close(fd)
    t = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-m", "rag.bench", task, json.dumps(params), out],
                              cwd=PROJECT_ROOT, capture_output=True, text=True,
                              timeout=CHILD_TIMEOUT)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["(无输出)"]
            raise BenchError(f"子进程 {task} 失败（退出码 {proc.returncode}）：{tail[0]}")
        res = json.loads(Path(out).read_text(encoding="utf-8"))
    except subprocess.TimeoutExpired:
        raise BenchError(f"子进程 {task} 超时（{CHILD_TIMEOUT}s）") from None
    finally:
        Path(out).unlink(missing_ok=True)
    res["process_s"] = round(time.perf_counter() - t, 3)
    log(f"  {task} ×{params.get('scale', 1)}: {res['process_s']:.1f}s")
    return res


def _cli_warm(data_dir: Path, corpus_dir: Path, embedder: str) -> dict:
    """Wall time of ``python -m rag ingest`` on an unchanged corpus (imports included)."""
    env = {**os.environ, "RAG_CORPUS_DIR": str(corpus_dir), "RAG_EMBEDDER": embedder}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "rag", "--data-dir", str(data_dir), "ingest",
                           "--quiet"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=CHILD_TIMEOUT)
    return {"wall_s": round(time.perf_counter() - t, 3), "returncode": proc.returncode,
            "skipped": "未变" in proc.stderr, "stderr": proc.stderr.strip()[-200:]}


def run_bench(settings, *, scales: list[int], questions: list[str], clients: list[int],
              per_client: int, out_dir: Path, work_dir: Path, uncached: bool, naive: bool,
              serve: bool, smoke: bool, log=print) -> dict:
    """Run every measurement and write results.json, results.md and scale.png to ``out_dir``."""
    from rag.bench.report import targets, write_reports

    base = {"corpus_dir": str(settings.corpus_dir), "embedder": settings.embedder}
    res: dict = {"created": time.strftime("%Y-%m-%dT%H:%M:%S"), "smoke": smoke,
                 "machine": {"cpus": os.cpu_count(), "loadavg_start": list(os.getloadavg())},
                 "settings": {**base, "scales": scales, "queries": len(questions),
                              "clients": clients, "per_client": per_client},
                 "scales": {}, "notes": []}
    one = min(scales)
    for n in scales:
        log(f"×{n}")
        d = work_dir / f"x{n}"
        ingest = _child("ingest", {**base, "data_dir": str(d), "scale": n, "shipped": True}, log)
        naive_dir = None
        if n == one:
            if naive:
                naive_dir = work_dir / "naive"
                res["naive_ingest"] = _child("naive", {**base, "data_dir": str(naive_dir)}, log)
            res["warm_cli"] = _cli_warm(d, settings.corpus_dir, settings.embedder) \
                if n == 1 else None
        query = _child("query", {**base, "data_dir": str(d), "scale": n, "questions": questions,
                                 "answers": n == one,
                                 "naive_dir": str(naive_dir) if naive_dir else None}, log)
        res["scales"][str(n)] = {"ingest": ingest, "query": query}
    if uncached:
        log("cold ingest without the shipped cache")
        res["uncached_ingest"] = _child(
            "ingest", {**base, "data_dir": str(work_dir / "uncached"), "scale": 1,
                       "shipped": False}, log)
        log("cold add of a new 200 KB plan (rag add)")
        # the phase-1 quality check scores dev.jsonl, whose gold is the bundled plan's sections
        bundled = Path(settings.corpus_dir).resolve() == (PROJECT_ROOT / "corpus").resolve()
        if not bundled:
            res["notes"].append("第一阶段检索质量未测：dev.jsonl 的金标属于随附规划，本次语料是 "
                                f"{settings.corpus_dir}")
        res["cold_add"] = _child("add", {**base, "data_dir": str(work_dir / "add"),
                                         "quality": bundled, "limit": 20 if smoke else None}, log)
    if serve and clients:
        log("serving")
        d = work_dir / f"x{one}"
        try:
            res["serving"] = serve_bench(d, settings.corpus_dir, settings.embedder, clients,
                                         questions, per_client, out_dir / "app.log", log)
        except BenchError as exc:
            res["serving"] = {"error": str(exc)}
    res["growth"] = growth(res)
    res["machine"]["loadavg_end"] = list(os.getloadavg())
    res["targets"] = targets(res)
    write_reports(res, out_dir)
    return res


def growth(res: dict) -> dict:
    """Per-scale series of each cost and the slope of its log-log fit against the scale."""
    scales = sorted(int(k) for k in res["scales"])
    get = {
        "ingest_total_s": lambda s: s["ingest"]["timings"].get("total"),
        "ingest_embed_s": lambda s: s["ingest"]["timings"].get("embed"),
        "ingest_chroma_s": lambda s: s["ingest"]["timings"].get("chroma"),
        "ingest_bm25_s": lambda s: s["ingest"]["timings"].get("bm25"),
        "ingest_chunk_s": lambda s: s["ingest"]["timings"].get("chunk"),
        "index_mb": lambda s: s["ingest"]["index_bytes"]["total"] / 2**20,
        "ingest_rss_mb": lambda s: s["ingest"]["peak_rss_mb"],
        **{f"{m}_{q}_ms": (lambda s, m=m, q=q: s["query"]["retrieval"][m].get(f"{q}_ms"))
           for m in MODES for q in ("p50", "p95")},
    }
    out = {"scales": scales}
    for name, fn in get.items():
        ys = [fn(res["scales"][str(n)]) for n in scales]
        out[name] = {"values": [round(y, 4) if isinstance(y, float) else y for y in ys],
                     "slope": loglog_slope(scales, ys)}
    return out
