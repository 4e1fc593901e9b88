"""Load test of the running app: app.py on a free loopback port under N gradio_client clients.

Each level starts N client threads together (a barrier), each asking its share of the dev
questions through the app's /ask API; it reports throughput, latency percentiles, errors (counted,
never raised) and the server's peak RSS (VmHWM from /proc).

Not handled here: the in-process measurements (tasks.py), the report (report.py).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from rag.bench.measure import BenchError, stats_ms
from rag.config import PROJECT_ROOT

SERVE_START_TIMEOUT = 600


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
