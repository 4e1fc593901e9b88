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
from rag.refusal import pick_threshold


def calibrate(pipeline: Pipeline, dataset, max_false: float = 0.03, folds: int = 5) -> dict:
    """Pick the refusal threshold on a gold JSONL set and report it out-of-fold.

    Each row's support score is computed once (follow-ups with their "history"); rows with no
    gold sections must be refused. The threshold maximises the share of those refused while
    refusing at most ``max_false`` of the answerable ones (refusal.pick_threshold). With
    ``folds`` ≥ 2 it is also chosen on k−1 folds and applied to the held-out fold, k times
    (stratified), and those out-of-fold rates are what the record reports as measured; the
    stored threshold is the one chosen on all rows.
    """
    rows = [json.loads(line) for line in Path(dataset).read_text(encoding="utf-8").splitlines()
            if line.strip()]
    support, unanswerable = [], []
    for row in rows:
        q = pipeline.answerer.prepare(row["question"], history=_history(row))
        support.append(q.support)
        unanswerable.append(not row.get("gold"))
    ans = [x for x, u in zip(support, unanswerable) if not u]
    una = [x for x, u in zip(support, unanswerable) if u]
    threshold, refused, false = pick_threshold(ans, una, max_false)
    record = {"threshold": round(threshold, 6), "dataset": str(dataset),
              "answerable": len(ans), "unanswerable": len(una),
              "in_sample": {"refused_unanswerable": round(refused, 4),
                            "false_refusal": round(false, 4)},
              "max_false_refusal": max_false, "embedder": pipeline.settings.embedder,
              "created": time.strftime("%Y-%m-%dT%H:%M:%S")}
    if folds >= 2:
        record["out_of_fold"] = _out_of_fold(support, unanswerable, max_false, folds)
    return record


def _out_of_fold(support: list[float], unanswerable: list[bool], max_false: float,
                 folds: int) -> dict:
    """Refusal rates when the threshold is chosen without the rows it is applied to."""
    import numpy as np
    from sklearn.model_selection import StratifiedKFold

    x, y = np.asarray(support), np.asarray(unanswerable)
    refused = np.zeros(len(x), dtype=bool)
    thresholds = []
    for train, test in StratifiedKFold(folds, shuffle=True, random_state=0).split(x, y):
        t, _, _ = pick_threshold(list(x[train][~y[train]]), list(x[train][y[train]]), max_false)
        thresholds.append(round(float(t), 6))
        refused[test] = x[test] < t
    return {"folds": folds, "thresholds": thresholds,
            "refused_unanswerable": round(float(refused[y].mean()), 4),
            "false_refusal": round(float(refused[~y].mean()), 4)}


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
        record = calibrate(pipeline, args.dataset, max_false=args.max_false, folds=args.folds)
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
