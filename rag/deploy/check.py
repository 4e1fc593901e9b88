"""``python -m rag.deploy.check`` (``make deploy-check``): a whole deployment on loopback —
PostgreSQL, a Chroma server, the index built once, 1 and then N app processes behind nginx with
sticky sessions — under a bounded load of simulated users (rag.deploy.load), with one re-ingest
during each run. It passes when no request failed, every follow-up was answered in its own
conversation's context, every client stayed on one process, every rating sent is a row in
PostgreSQL, the re-ingest made a new build and every app is healthy and serving it afterwards
(picked up without a restart), and no process it started is left. It prints and writes (report.json, report.md in --out) requests, errors,
p50/p95 latency and throughput per run and the N/1 throughput ratio.

Not handled here: the services themselves (rag.deploy.stack), a server's setup (docs/deployment.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from rag.deploy.load import run_load, summary
from rag.deploy.stack import Stack
from rag.errors import DeployError, RagError


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m rag.deploy.check",
                                description="本机部署检查：PostgreSQL + Chroma 服务 + 多个应用进程 + nginx（粘性会话），"
                                            "模拟用户压测，期间重建一次索引。")
    p.add_argument("--users", type=int, default=100, help="并发模拟用户数（默认 100）")
    p.add_argument("--seconds", type=float, default=60.0, help="每轮压测秒数（默认 60）")
    p.add_argument("--apps", type=int, default=2, help="应用进程数（默认 2；先用 1 个测一轮作对照）")
    p.add_argument("--feedback-share", type=float, default=0.3, help="对话后提交评价的比例（默认 0.3）")
    p.add_argument("--out", default="storage/deploy-check", help="报告目录（默认 storage/deploy-check）")
    p.add_argument("--keep", action="store_true", help="保留临时目录（日志、数据库、索引）以便排查")
    return p


def check_feedback(db_url: str, sent: dict[str, dict]) -> dict:
    """Which of the ratings sent are rows in the database (matched by their comment token)."""
    import sqlalchemy as sa

    from rag.feedback import feedback

    if not sent:
        return {"sent": 0, "found": 0, "missing": [], "rows_total": None}
    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = {r.comment: r for r in conn.execute(
                sa.select(feedback.c.id, feedback.c.verdict, feedback.c.question, feedback.c.comment)
                .where(feedback.c.comment.in_(list(sent))))}
            total = conn.execute(sa.select(sa.func.count()).select_from(feedback)).scalar_one()
    except sa.exc.SQLAlchemyError as exc:
        raise DeployError(f"无法读取 PostgreSQL 中的反馈表（{type(exc).__name__}）") from None
    finally:
        engine.dispose()
    missing = [t for t, s in sent.items() if t not in rows or rows[t].id != s["id"]
               or rows[t].verdict != s["verdict"] or rows[t].question != s["question"]]
    return {"sent": len(sent), "found": len(sent) - len(missing), "missing": missing[:10], "rows_total": total}


def run_once(stack: Stack, apps: int, args) -> dict:
    """Start ``apps`` app processes and nginx, run the load with a re-ingest, stop them."""
    t0 = time.monotonic()
    stack.start_apps(apps)
    base = f"http://127.0.0.1:{stack.start_nginx()}"
    started = round(time.monotonic() - t0, 1)
    before = stack.build_id()

    async def reingest():
        await asyncio.sleep(args.seconds * 0.25)
        t = time.monotonic()
        proc = stack.ingest(rebuild=True, name=f"reingest-{apps}")
        build = await asyncio.to_thread(stack.finish, proc, f"reingest-{apps}")
        return {"old_build": before, "new_build": build, "seconds": round(time.monotonic() - t, 1)}

    cpu = time.process_time()
    stats = asyncio.run(run_load(base, args.users, args.seconds, args.feedback_share, seed=apps,
                                 during=reingest))
    row = summary(stats, apps)
    row["load_generator_cpu_s"] = round(time.process_time() - cpu, 1)  # this process: the users
    health = wait_for_build(stack, stats.side_result["new_build"])
    row.update(startup_s=started, reingest=stats.side_result, feedback_db=check_feedback(stack.db_url, stats.feedback_sent),
               healthy_after=sum(1 for h in health.values() if h["http"] == 200),
               serving_new_build=sum(1 for h in health.values() if h.get("build_id") == stats.side_result["new_build"]))
    stack.stop_front()
    return row


def wait_for_build(stack: Stack, build: str, timeout: float = 60.0) -> dict[int, dict]:
    """Each app's /healthz once all serve ``build`` (each picks a new build up between
    requests, after opening and warming it up) or ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        health = stack.health()
        if all(h.get("build_id") == build for h in health.values()) or time.monotonic() > deadline:
            return health
        time.sleep(0.5)


def problems(row: dict) -> list[str]:
    """Why a run fails the check (empty: it passes)."""
    out = []
    if row["errors"]:
        out.append(f"{row['errors']} 个请求失败：{row['error_kinds']}")
    if not row["conversations"] or row["in_context"] != row["conversations"]:
        out.append(f"追问在本对话语境中回答 {row['in_context']}/{row['conversations']}")
    if row["users_on_one_process"] != row["users_seen"]:
        out.append(f"粘性会话：{row['users_seen'] - row['users_on_one_process']} 个用户被分到多个进程")
    if row["apps"] > 1 and len(row["per_process"]) < row["apps"]:
        out.append(f"只有 {len(row['per_process'])} 个进程收到请求（共 {row['apps']} 个）")
    fb = row["feedback_db"]
    if not fb["sent"] or fb["found"] != fb["sent"]:
        out.append(f"评价入库 {fb['found']}/{fb['sent']}")
    if row["reingest"]["new_build"] == row["reingest"]["old_build"]:
        out.append("压测期间的重建没有产生新版本")
    if row["healthy_after"] != row["apps"]:
        out.append(f"重建后健康的进程 {row['healthy_after']}/{row['apps']}")
    if row["serving_new_build"] != row["apps"]:
        out.append(f"重建后改用新版本的进程 {row['serving_new_build']}/{row['apps']}（不重启即切换）")
    return out


def markdown(report: dict) -> str:
    lines = ["| apps | requests | errors | p50 (s) | p95 (s) | throughput (req/s) |", "|---|---|---|---|---|---|"]
    for r in report["runs"]:
        lines.append(f"| {r['apps']} | {r['requests']} | {r['errors']} | {r['p50_s']:.2f} | {r['p95_s']:.2f} "
                     f"| {r['throughput_rps']:.1f} |")
    lines.append("")
    if report.get("ratio") is not None:
        lines.append(f"throughput ratio {report['runs'][-1]['apps']}/1 apps: {report['ratio']:.2f}")
    m = report["machine"]
    lines.append(f"{report['users']} users × {report['seconds']:.0f} s per run; {m['cpus']} CPUs; load average "
                 f"before {m['load_before']}, after {m['load_after']}; {report['finished']}")
    for r in report["runs"]:
        fb, ri = r["feedback_db"], r["reingest"]
        lines.append(f"- {r['apps']} app(s): {r['conversations']} conversations, follow-ups in context "
                     f"{r['in_context']}/{r['conversations']}, users on one process {r['users_on_one_process']}/"
                     f"{r['users_seen']}, per process {r['per_process']}, feedback rows in PostgreSQL "
                     f"{fb['found']}/{fb['sent']}, re-ingest {ri['seconds']} s ({ri['old_build']} → {ri['new_build']}), "
                     f"apps serving the new build after the run {r['serving_new_build']}/{r['apps']}, "
                     f"load generator CPU {r['load_generator_cpu_s']} s in {r['elapsed_s']} s")
    lines.append(f"\nprocesses left: {report['leftovers']}; result: {'PASS' if report['ok'] else 'FAIL'}")
    for p in report["problems"]:
        lines.append(f"- {p}")
    return "\n".join(lines) + "\n"


def _interrupt(signum, _frame):
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.users < 1 or args.apps < 1 or args.seconds <= 0 or not 0 <= args.feedback_share <= 1:
        print("错误：--users、--apps 须 ≥1，--seconds 须 >0，--feedback-share 在 0 到 1 之间", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _interrupt)  # stop everything on `kill` as on Ctrl-C
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
    folder = Path(tempfile.mkdtemp(prefix="guihua-deploy-"))
    stack = Stack(folder)
    report = {"users": args.users, "seconds": args.seconds, "runs": [], "problems": [],
              "machine": {"cpus": os.cpu_count(), "load_before": [round(x, 2) for x in os.getloadavg()]}}
    code = 1
    try:
        stack.start_postgres()
        stack.start_chroma()
        t = time.monotonic()
        report["first_build"] = stack.finish(stack.ingest())
        report["first_ingest_s"] = round(time.monotonic() - t, 1)
        for apps in sorted({1, args.apps}):
            row = run_once(stack, apps, args)
            report["runs"].append(row)
            report["problems"] += [f"{apps} 个进程：{p}" for p in problems(row)]
        code = 0 if not report["problems"] else 1
    except RagError as exc:
        report["problems"].append(str(exc))
        print(f"错误：{exc}", file=sys.stderr)
    except KeyboardInterrupt:
        report["problems"].append("被中断")
        print("已中断，正在停止所有服务……", file=sys.stderr)
        code = 130
    finally:
        stack.stop_all()
        report["leftovers"] = len(stack.services.leftovers())
        report["process_groups"] = stack.services.groups
        report["daemon_pids"] = stack.services.pids
        if report["leftovers"]:
            report["problems"].append(f"{report['leftovers']} 个进程组未能停止")
            code = code or 1
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        shutil.copytree(folder / "logs", out / "logs", dirs_exist_ok=True)
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    runs = report["runs"]
    report["ratio"] = (round(runs[-1]["throughput_rps"] / runs[0]["throughput_rps"], 2)
                       if len(runs) > 1 and runs[0]["throughput_rps"] else None)
    report["machine"]["load_after"] = [round(x, 2) for x in os.getloadavg()]
    report["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    report["ok"] = code == 0
    (out / "report.json").write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")
    text = markdown(report)
    (out / "report.md").write_text(text, encoding="utf-8")
    print(text)
    if args.keep:
        print(f"临时目录已保留：{folder}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
