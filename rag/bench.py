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

Every heavy step runs in a child process (``python -m rag.bench TASK PARAMS OUT``) so peak RSS
and "cold" mean what they say. Reports are written by bench_report.py.

Not handled here: timed assertions (these are reports); tuning retrieval (retrieval.py).
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT, load_settings
from rag.corpus import Corpus, load_corpus
from rag.errors import RagError

DEV = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"
MODES = ("bm25", "dense", "hybrid")
CHILD_TIMEOUT = 3600  # seconds; a ×16 ingest on a busy 2-core machine stays well under this
SERVE_START_TIMEOUT = 600


class BenchError(RagError):
    """The benchmark could not run a step (bad flag, a child process failed)."""


# ------------------------------------------------------------------ helpers


def replicate(corpus: Corpus, n: int) -> Corpus:
    """The corpus repeated ``n`` times as distinct documents (copy i gets id ``<id>-x<i>``)."""
    docs = list(corpus.documents)
    for i in range(2, n + 1):
        for d in corpus.documents:
            new_id = f"{d.id}-x{i}"
            docs.append(replace(d, info=replace(d.info, id=new_id),
                                sections=tuple(replace(s, doc_id=new_id) for s in d.sections)))
    return Corpus(tuple(docs))


def stats_ms(seconds: list[float]) -> dict:
    """n, mean and p50/p95/p99 in milliseconds of a list of durations in seconds."""
    if not seconds:
        return {"n": 0}
    ms = np.asarray(seconds) * 1000.0
    return {"n": len(ms), "mean_ms": round(float(ms.mean()), 2),
            **{f"p{q}_ms": round(float(np.percentile(ms, q)), 2) for q in (50, 95, 99)}}


def dir_size(path: Path) -> int:
    """Bytes of the regular files under ``path`` (symlinks resolved once at the top)."""
    root = Path(os.path.realpath(path))
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file() and not f.is_symlink())


def loglog_slope(xs, ys) -> float | None:
    """Slope of log(y) against log(x) (1 = linear growth); None without two positive points."""
    pts = [(x, y) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len({x for x, _ in pts}) < 2:
        return None
    lx, ly = np.log([p[0] for p in pts]), np.log([p[1] for p in pts])
    return round(float(np.polyfit(lx, ly, 1)[0]), 3)


def read_questions(path: Path, limit: int) -> list[str]:
    """The first ``limit`` questions of a JSONL gold file (only the "question" field is used)."""
    try:
        rows = [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines()
                if line.strip()]
    except (OSError, ValueError) as exc:
        raise BenchError(f"无法读取问题集 {path}：{exc}") from None
    qs = [r["question"] for r in rows if isinstance(r, dict) and isinstance(r.get("question"), str)]
    if not qs:
        raise BenchError(f"问题集 {path} 中没有问题")
    return qs[:limit] if limit > 0 else qs


def _rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)  # KB on Linux


def _proc_status_mb(pid: int) -> dict:
    """VmHWM (peak) and VmRSS of a live process, in MB, from /proc."""
    out = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, val = line.partition(":")
            if key in ("VmHWM", "VmRSS"):
                out[key] = round(int(val.split()[0]) / 1024.0, 1)
    except OSError:
        pass
    return out


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(p: dict):
    return load_settings(corpus_dir=p["corpus_dir"], data_dir=p["data_dir"], embedder=p["embedder"])


# ------------------------------------------------------------------ child tasks


def task_ingest(p: dict) -> dict:
    """Cold build of the corpus ×scale into an empty data dir, then an unchanged re-ingest."""
    from rag.store import build_index

    settings = _settings(p)
    t = time.perf_counter()
    corpus = replicate(load_corpus(settings.corpus_dir), p["scale"])
    parse = time.perf_counter() - t
    rep = build_index(settings, corpus=corpus, progress=False,
                      use_shipped_cache=p.get("shipped", True))
    timings = {k: round(v + (parse if k in ("parse", "total") else 0.0), 3)
               for k, v in rep.timings.items()}
    rss = _rss_mb()
    t = time.perf_counter()
    warm = build_index(settings, corpus=replicate(load_corpus(settings.corpus_dir), p["scale"]),
                       progress=False)
    warm_s = time.perf_counter() - t
    build = settings.index_dir
    size = {"total": dir_size(build)}
    for part in ("chroma", "bm25"):
        if (build / part).exists():
            size[part] = dir_size(build / part)
    return {"scale": p["scale"], "shipped_cache": p.get("shipped", True), "timings": timings,
            "counts": rep.counts, "embedded": rep.embedded, "cached": rep.cached,
            "warm_s": round(warm_s, 4), "warm_skipped": warm.skipped, "peak_rss_mb": rss,
            "index_bytes": size}


def task_naive(p: dict) -> dict:
    """Cold build of the naive baseline (rag.evaluation.NaiveRetriever) into an empty data dir."""
    from rag.embeddings import get_embedder
    from rag.evaluation import NaiveRetriever

    settings = _settings(p)
    t = time.perf_counter()
    corpus = load_corpus(settings.corpus_dir)
    naive = NaiveRetriever(corpus, settings, get_embedder(settings.embedder), progress=False)
    return {"total_s": round(time.perf_counter() - t, 3), "nodes": naive.nodes,
            "embedded": naive.embedded, "peak_rss_mb": _rss_mb()}


def _profile_hybrid(retriever, questions: list[str]) -> dict:
    """Where a hybrid query's time goes, by timing the retriever's own steps one by one."""
    from rag.wordseg import tokenize

    idx, parts = retriever.index, {k: [] for k in
                                   ("embed", "chroma_sentences", "chroma_chunks", "jieba", "bm25_scores")}
    for q in questions:
        t0 = time.perf_counter()
        qvec = retriever.embedder.get_query_embedding(q)
        t1 = time.perf_counter()
        retriever._dense(idx.sentence_store, qvec, 80, None, None)
        t2 = time.perf_counter()
        retriever._dense(idx.chunk_store, qvec, 40, None, None)
        t3 = time.perf_counter()
        toks = tokenize(q)
        t4 = time.perf_counter()
        if toks:
            idx.bm25.get_scores(toks)
        t5 = time.perf_counter()
        for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
            parts[k].append(v)
    return {k: stats_ms(v) for k, v in parts.items()}


def task_query(p: dict) -> dict:
    """Retrieval latency per mode, a hybrid profile, answer latency and the naive baseline."""
    from rag.retrieval import Retriever

    settings = _settings(p)
    questions = p["questions"]
    t = time.perf_counter()
    retriever = Retriever.from_settings(settings)
    out: dict = {"scale": p["scale"], "open_s": round(time.perf_counter() - t, 3)}
    for q in questions[:5]:  # warm-up: weights paged in, Chroma and jieba caches filled
        for mode in MODES:
            retriever.search(q, mode=mode)
    out["retrieval"] = {}
    for mode in MODES:
        secs = []
        for q in questions:
            t = time.perf_counter()
            retriever.search(q, mode=mode)
            secs.append(time.perf_counter() - t)
        out["retrieval"][mode] = stats_ms(secs)
    try:  # uses the retriever's private steps: a refactor there must not sink the whole run
        out["hybrid_profile"] = _profile_hybrid(retriever, questions)
    except Exception as exc:
        out["hybrid_profile"] = {"error": f"{type(exc).__name__}: {exc}"}
    if p.get("answers"):
        out["answer"] = _answer_latency(settings, questions)
    if p.get("naive_dir"):
        from rag.evaluation import NaiveRetriever

        nset = settings.model_copy(update={"data_dir": Path(p["naive_dir"])})
        naive = NaiveRetriever(load_corpus(settings.corpus_dir), nset, retriever.embedder,
                               progress=False)
        for q in questions[:3]:
            naive.search(q)
        secs = []
        for q in questions:
            t = time.perf_counter()
            naive.search(q)
            secs.append(time.perf_counter() - t)
        out["naive_query"] = stats_ms(secs)
    out["peak_rss_mb"] = _rss_mb()
    return out


def _answer_latency(settings, questions: list[str]) -> dict:
    """Extractive answer latency through rag.answering.Pipeline (or why it could not run)."""
    try:
        from rag.answering import Pipeline
    except ImportError as exc:
        return {"error": f"rag.answering 不可用：{exc}"}
    pipeline = Pipeline.from_settings(settings.model_copy(update={"answerer": "extractive"}))
    for q in questions[:3]:
        pipeline.ask(q)
    secs, refused = [], 0
    for q in questions:
        t = time.perf_counter()
        ans = pipeline.ask(q)
        secs.append(time.perf_counter() - t)
        refused += bool(ans.refused)
    return {**stats_ms(secs), "refused": refused, "answerer": pipeline.answerer.name}


TASKS = {"ingest": task_ingest, "naive": task_naive, "query": task_query}


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


# ------------------------------------------------------------------ serving


def _client_loop(url: str, questions: list[str], start: threading.Barrier, lat: list,
                 errors: list) -> None:
    from gradio_client import Client

    try:
        client = Client(url, verbose=False)
    except Exception as exc:  # counted, never raised: the load test reports errors
        errors.append(f"connect: {type(exc).__name__}: {exc}"[:200])
        start.wait()
        return
    start.wait()
    for q in questions:
        t = time.perf_counter()
        try:
            out = client.predict(q, "全部", None, api_name="/ask")
            if not isinstance(out, dict) or "answer" not in out:
                raise BenchError(f"unexpected reply {str(out)[:80]}")
            lat.append(time.perf_counter() - t)
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}"[:200])


def serve_bench(data_dir: Path, corpus_dir: Path, embedder: str, clients: list[int],
                questions: list[str], per_client: int, log_path: Path, log) -> dict:
    """Launch app.py on a free loopback port, load it with N clients per level, read VmHWM."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_CORPUS_DIR": str(corpus_dir),
           "RAG_EMBEDDER": embedder, "RAG_APP_HOST": "127.0.0.1", "RAG_APP_PORT": str(port)}
    env.pop("RAG_APP_PASSWORD", None)  # loopback only; a password would lock the clients out
    out: dict = {"port": port, "levels": []}
    with log_path.open("w") as logf:
        proc = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port",
                                 str(port), "--data-dir", str(data_dir)], cwd=PROJECT_ROOT,
                                env=env, stdout=logf, stderr=subprocess.STDOUT)
        try:
            t0 = time.perf_counter()
            while True:
                if proc.poll() is not None:
                    raise BenchError(f"app.py 启动失败（退出码 {proc.returncode}），见 {log_path}")
                if time.perf_counter() - t0 > SERVE_START_TIMEOUT:
                    raise BenchError(f"app.py 在 {SERVE_START_TIMEOUT}s 内未就绪，见 {log_path}")
                with socket.socket() as s:
                    if s.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.5)
            out["listen_s"] = round(time.perf_counter() - t0, 2)
            lat: list[float] = []
            errs: list[str] = []
            _client_loop(url, questions[:1], threading.Barrier(1), lat, errs)  # waits for the index
            out["first_answer_s"] = round(time.perf_counter() - t0, 2)
            out["warmup_errors"] = errs
            for n in clients:
                lat, errs = [], []
                start = threading.Barrier(n + 1)
                threads = [threading.Thread(
                    target=_client_loop, daemon=True,
                    args=(url, [questions[(i * per_client + j) % len(questions)]
                                for j in range(per_client)], start, lat, errs))
                    for i in range(n)]
                for th in threads:
                    th.start()
                start.wait(timeout=300)
                t = time.perf_counter()
                for th in threads:
                    th.join(timeout=600)
                wall = time.perf_counter() - t
                level = {"clients": n, "requests": n * per_client, "ok": len(lat),
                         "errors": len(errs), "wall_s": round(wall, 3),
                         "throughput_qps": round(len(lat) / wall, 2) if wall > 0 else None,
                         **stats_ms(lat), "error_samples": sorted(set(errs))[:3]}
                out["levels"].append(level)
                log(f"  serve {n} clients: {level['ok']}/{level['requests']} ok, "
                    f"{level['throughput_qps']} q/s, p95 {level.get('p95_ms')} ms")
            out.update(_proc_status_mb(proc.pid))
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return out


# ------------------------------------------------------------------ the run


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
    from rag.bench_report import targets, write_reports

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


# ------------------------------------------------------------------ CLI


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
    met = [t for t in res["targets"] if t["met"] is not None]
    print(f"基准测试完成：{sum(t['met'] for t in met)}/{len(met)} 项达标 → "
          f"{out_dir / 'results.md'}")
    return 0


def _child_main(argv: list[str]) -> int:
    task, params, out = argv
    try:
        res = TASKS[task](json.loads(params))
    except RagError as exc:  # one line for the parent's error message, no traceback
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    Path(out).write_text(json.dumps(res, ensure_ascii=False), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
