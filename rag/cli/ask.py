"""``python -m rag ask``: one question, a batch file, or ``--calibrate`` the refusal threshold."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rag.answering import Answer, Pipeline
from rag.cli.batchio import print_json, read_batch
from rag.config import Settings
from rag.errors import RetrievalError


def calibrate(pipeline: Pipeline, dataset, max_false: float = 0.05) -> dict:
    """Pick the refusal threshold on a gold JSONL set (``type == "unanswerable"`` rows).

    Maximises the share of unanswerable questions refused while refusing at most
    ``max_false`` of the answerable ones. Returns the calibration record to store.
    """
    from rag.refusal import pick_threshold

    rows = [json.loads(line) for line in Path(dataset).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    ans, una = [], []
    for row in rows:
        q = pipeline.answerer.prepare(row["question"])
        (una if row.get("type") == "unanswerable" or not row.get("gold") else ans).append(q.support)
    threshold, refused, false = pick_threshold(ans, una, max_false)
    return {"threshold": round(threshold, 6), "dataset": str(dataset),
            "answerable": len(ans), "unanswerable": len(una),
            "refused_unanswerable": round(refused, 4), "false_refusal": round(false, 4),
            "max_false_refusal": max_false, "embedder": pipeline.settings.embedder,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S")}


def _history(row: dict) -> list[dict] | None:
    """A batch line's optional "history" (OpenAI message format), checked."""
    history = row.get("history")
    if history is None:
        return None
    if not isinstance(history, list) or not all(
            isinstance(t, dict) and t.get("role") in ("user", "assistant", "system")
            and isinstance(t.get("content"), str) for t in history):
        raise RetrievalError('"history" 须为 [{"role": "user"|"assistant", "content": "…"}, …] 的列表')
    return history


def _print_answer(answer: Answer) -> None:
    if answer.notice:
        print(f"（{answer.notice}）")
    print(answer.text)
    for c in answer.citations:
        print(f"\n[{c.n}] 「{c.label}」 {c.span[0]}–{c.span[1]}\n    {c.quote}")


def run_cli(args, settings: Settings) -> int:
    """``python -m rag ask``: one question, a batch file, or ``--calibrate``."""
    from rag.refusal import CALIBRATION_FILE

    calibrating = getattr(args, "calibrate", False)
    batch = getattr(args, "batch", None)
    if not calibrating and batch is None and not (args.question or "").strip():
        raise RetrievalError("问题为空：用法 python -m rag ask \"问题\"")
    pipeline = Pipeline.from_settings(settings, answerer=args.answerer)
    if calibrating:
        record = calibrate(pipeline, args.dataset)
        out = Path(args.save) if args.save else Path(settings.data_dir) / CALIBRATION_FILE
        out.write_text(json.dumps(record, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(json.dumps(record, ensure_ascii=False))
        print(f"拒答阈值已写入 {out}", file=sys.stderr)
        return 0
    if batch is not None:
        for row in read_batch(batch):
            t = time.perf_counter()
            try:
                history = _history(row)
                out = pipeline.ask(row["question"], history=history,
                                   chapter=args.chapter).to_json()
            except RetrievalError as exc:
                out = {"answer": "", "direct": None, "standalone": None, "refused": False,
                       "answerer": pipeline.answerer.name, "citations": [], "notice": None,
                       "error": str(exc)}
            out = {"id": row.get("id"), **out, "seconds": round(time.perf_counter() - t, 4)}
            print_json(out)
        return 0
    answer = pipeline.ask(args.question, chapter=args.chapter)
    if args.json:
        print_json(answer.to_json())
    else:
        _print_answer(answer)
    return 0
