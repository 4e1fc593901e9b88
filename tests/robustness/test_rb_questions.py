"""≥1,000 generated bad questions through the Python API, the CLI (in-process and subprocess)
and the app API: each gets an answer or a clear message, never a traceback; long input is
cut to ``max_question_chars`` with a notice. Every input is counted in the summary table.

Cost on a shared 2-core machine decides the split: the whole set goes through every path that
does not embed the question (BM25 retrieval, the CLI batch), and a per-category sample goes
through the paths that embed it (hybrid retrieval, answering, the app).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.cli import main as cli_main
from rag.config import PROJECT_ROOT
from rag.errors import RagError
from rag.retrieval import clean_question
from tests.robustness import tally
from tests.robustness.inputs import LONG_CHARS, sample

SECTION = "questions"
MAX = 500  # Settings.max_question_chars default


def _err_line_ok(stderr: str) -> bool:
    """A clear CLI message: one non-empty line starting with 错误：, no traceback."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    return len(lines) == 1 and lines[0].startswith("错误：") and "Traceback" not in stderr


def _search_outcome(retriever, text: str, mode: str) -> tuple[bool, str]:
    """(handled?, detail) for one Retriever.search call."""
    try:
        hits = retriever.search(text, mode=mode)
    except RagError as exc:
        return bool(str(exc).strip()), f"empty RagError message for {text[:40]!r}"
    except Exception as exc:  # anything else is the bug this suite hunts
        return False, f"{type(exc).__name__}: {exc} for {text[:60]!r}"
    ok = isinstance(hits, list) and all(h.label for h in hits)
    return ok, f"bad hits {hits!r}"[:200]


# ------------------------------------------------------------------ the cleaning rule


def test_clean_question_rule():
    assert clean_question("  高新\x00技术\u200b企业\ud800 \t\n 多少家  ", MAX) == ("高新技术企业 多少家", False)
    assert clean_question("\u200b\ufeff\u202e", MAX) == ("", False)
    assert clean_question("🇨🇳👨‍👩‍👧 汾河", MAX)[0] == "🇨🇳👨👩👧 汾河"  # ZWJ dropped, emoji kept
    text, cut = clean_question("汾" * LONG_CHARS, MAX)
    assert text == "汾" * MAX and cut
    assert clean_question("汾" * MAX, MAX) == ("汾" * MAX, False)
    # 100,000 spaces or zero-width characters, then the question: the question survives
    assert clean_question(" " * LONG_CHARS + "汾河", MAX) == ("汾河", False)
    assert clean_question("\u200b" * LONG_CHARS + "汾河", MAX) == ("汾河", False)


# ------------------------------------------------------------------ Python API


def test_every_input_through_retriever_bm25(real_retriever, bad):
    """All inputs through Retriever.search (BM25: validation, cleaning, jieba, scoring)."""
    for cat, text in bad:
        ok, detail = _search_outcome(real_retriever, text, "bm25")
        tally.record(SECTION, f"{cat} · Retriever.search(bm25)", ok, detail)
    assert not tally.failures(SECTION), tally.failures(SECTION)[:5]


@pytest.mark.slow
def test_sample_through_retriever_hybrid(real_retriever, bad):
    """Two per category through the embedder too (surrogates once broke its tokenizer)."""
    fails = []
    for cat, text in sample(bad, 2):
        ok, detail = _search_outcome(real_retriever, text, "hybrid")
        if not tally.record(SECTION, f"{cat} · Retriever.search(hybrid)", ok, detail):
            fails.append(detail)
    assert not fails, fails[:5]


# ------------------------------------------------------------------ CLI


def _batch_file(tmp_path, items) -> str:
    path = tmp_path / "bad.jsonl"
    with path.open("w", encoding="utf-8") as fh:  # json.dumps escapes NUL and lone surrogates
        for i, (cat, text) in enumerate(items):
            fh.write(json.dumps({"id": f"{cat}-{i}", "question": text}) + "\n")
    return str(path)


def _check_batch_output(stdout: str, items, row: str) -> list[str]:
    """One JSON line per input with hits or a clear error; records each input."""
    lines = stdout.split("\n")  # not splitlines(): U+2028 and \x1c… are data inside JSON strings
    fails = []
    for i, (cat, text) in enumerate(items):
        ok, detail = False, "missing output line"
        if i < len(lines):
            try:
                out = json.loads(lines[i])
                # no hits is a valid result (BM25 finds no term of an emoji-only question)
                ok = out["id"] == f"{cat}-{i}" and isinstance(out["hits"], list) and (
                    "error" not in out or bool(out["error"].strip()))
                detail = f"line {i}: {lines[i][:120]}"
            except (ValueError, KeyError) as exc:
                detail = f"line {i} not JSON ({exc}): {lines[i][:120]}"
        if not tally.record(SECTION, f"{cat} · {row}", ok, detail):
            fails.append(detail)
    return fails


def test_every_input_through_cli_batch_in_process(real_index_settings, bad, tmp_path, capsys):
    """`python -m rag search --batch` in-process: all inputs, one JSON line each."""
    path = _batch_file(tmp_path, bad)
    rc = cli_main(["--data-dir", str(real_index_settings.data_dir), "search", "--batch", path,
                   "--mode", "bm25", "-k", "2"])
    out = capsys.readouterr()
    assert rc == 0 and "Traceback" not in out.err, out.err[-2000:]
    fails = _check_batch_output(out.out, bad, "cli search --batch (in-process)")
    assert not fails, fails[:5]


def test_single_questions_through_cli_in_process(real_index_settings, bad, capsys):
    """`python -m rag search "…"` in-process, two per category: JSON hits or one 错误： line."""
    fails = []
    for cat, text in sample(bad, 2):
        rc = cli_main(["--data-dir", str(real_index_settings.data_dir), "search", text,
                       "--mode", "bm25", "--json", "-k", "2"])
        out = capsys.readouterr()
        if rc == 0:
            try:
                ok = isinstance(json.loads(out.out), list) and "Traceback" not in out.err
            except ValueError:
                ok = False
        else:
            ok = rc == 1 and _err_line_ok(out.err) and not out.out
        if not tally.record(SECTION, f"{cat} · cli search (in-process)", ok,
                            f"rc={rc} err={out.err[-200:]!r} for {text[:40]!r}"):
            fails.append((cat, text[:40], rc, out.err[-300:]))
    assert not fails, fails[:5]


def _subprocess_env(settings) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env["RAG_DATA_DIR"] = str(settings.data_dir)
    return env


@pytest.mark.slow
def test_every_input_through_cli_batch_subprocess(real_index_settings, bad, tmp_path):
    """The real `python -m rag search --batch` process: all inputs, exit 0, no traceback."""
    path = _batch_file(tmp_path, bad)
    proc = subprocess.run([sys.executable, "-m", "rag", "search", "--batch", path, "--mode", "bm25",
                           "-k", "2"], cwd=PROJECT_ROOT, env=_subprocess_env(real_index_settings),
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    fails = _check_batch_output(proc.stdout, bad, "cli search --batch (subprocess)")
    assert not fails, fails[:5]


def _argv_safe(text: str) -> bool:
    """What an OS argv can carry at all: no NUL, no lone surrogate, under Linux's 128 KiB per arg."""
    try:
        return "\x00" not in text and len(text.encode("utf-8")) < 128 * 1024
    except UnicodeEncodeError:
        return False


@pytest.mark.slow
def test_single_questions_through_cli_subprocess(real_index_settings, bad):
    """Two dozen real `python -m rag search "…"` processes (argv-representable inputs only)."""
    picked = [(c, t) for c, t in sample([x for x in bad if _argv_safe(x[1])], 2)][:24]
    env = _subprocess_env(real_index_settings)

    def run(item):
        cat, text = item
        proc = subprocess.run([sys.executable, "-m", "rag", "search", text, "--mode", "bm25",
                               "--json", "-k", "2"], cwd=PROJECT_ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        if proc.returncode == 0:
            ok = "Traceback" not in proc.stderr and isinstance(json.loads(proc.stdout), list)
        else:
            ok = proc.returncode == 1 and _err_line_ok(proc.stderr)
        return cat, text, ok, f"rc={proc.returncode} err={proc.stderr[-200:]!r}"

    with ThreadPoolExecutor(3) as pool:
        results = list(pool.map(run, picked))
    fails = [r for r in results
             if not tally.record(SECTION, f"{r[0]} · cli search (subprocess)", r[2], r[3])]
    assert len(results) == 24 and not fails, fails[:5]


# ------------------------------------------------------------------ answering


@pytest.fixture(scope="module")
def pipeline(real_index_settings):
    from rag.answering import Pipeline

    return Pipeline.from_settings(real_index_settings)


@pytest.mark.slow
def test_sample_through_pipeline_ask(pipeline, bad):
    """Three per category through Pipeline.ask: an answer (long input: a truncation notice)
    or a RagError with a message; the answer's JSON is printable as UTF-8."""
    fails = []
    for cat, text in sample(bad, 3):
        try:
            answer = pipeline.ask(text)
            long_input = len(clean_question(text, 10 * MAX)[0]) > MAX
            ok = bool(answer.text.strip()) and (not long_input or "过长" in (answer.notice or ""))
            json.dumps(answer.to_json(), ensure_ascii=False).encode("utf-8")
            detail = f"{text[:40]!r}: notice={answer.notice!r} text={answer.text[:60]!r}"
        except RagError as exc:
            ok, detail = bool(str(exc).strip()), str(exc)
        except Exception as exc:
            ok, detail = False, f"{type(exc).__name__}: {exc} for {text[:40]!r}"
        if not tally.record(SECTION, f"{cat} · Pipeline.ask", ok, detail):
            fails.append(detail)
    assert not fails, fails[:5]


@pytest.mark.slow
def test_sample_through_cli_ask_batch_in_process(real_index_settings, bad, tmp_path, capsys):
    """`python -m rag ask --batch` in-process, two per category: one JSON line each."""
    items = sample(bad, 2)
    rc = cli_main(["--data-dir", str(real_index_settings.data_dir), "ask", "--batch",
                   _batch_file(tmp_path, items), "--json"])
    out = capsys.readouterr()
    assert rc == 0 and "Traceback" not in out.err, out.err[-2000:]
    lines = out.out.split("\n")
    fails = []
    for i, (cat, text) in enumerate(items):
        try:
            row = json.loads(lines[i])
            ok = row["id"] == f"{cat}-{i}" and (bool(row["answer"]) or bool(row.get("error")))
        except (ValueError, KeyError, IndexError) as exc:
            ok, row = False, f"{type(exc).__name__}"
        if not tally.record(SECTION, f"{cat} · cli ask --batch (in-process)", ok, str(row)[:200]):
            fails.append(row)
    assert not fails, fails[:5]
