"""Bad corpora and damaged indexes: a clear message that says what to do, never a traceback,
and a bad corpus never touches the live index.

Each fault is tried through the Python API and through the CLI in-process (one 错误： line,
exit status 1) and counted in the summary table.
"""

from __future__ import annotations

import os
import random
import shutil
from pathlib import Path

import pytest

from rag.cli import main as cli_main
from rag.config import load_settings
from rag.errors import CorpusError, IndexError_, IndexMismatchError
from rag.retrieval import Retriever
from rag.store import Index, build_index
from tests.conftest import DATA
from tests.robustness import tally

TINY_TOML = (DATA / "tiny_corpus" / "corpus.toml").read_text(encoding="utf-8")
TINY_TEXT = (DATA / "tiny_corpus" / "tiny-plan.txt").read_text(encoding="utf-8")
TINY_FILE = "tiny-plan.txt"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A data folder whose live index is the tiny plan (the 'previous index' of every test)."""
    root = tmp_path_factory.mktemp("rb-live")
    corpus = root / "corpus"
    shutil.copytree(DATA / "tiny_corpus", corpus)
    settings = load_settings(corpus_dir=corpus, data_dir=root / "data")
    build_index(settings, progress=False)
    return settings


def _snapshot(data_dir: Path) -> tuple[str, list[str], str]:
    """What must not change: the live build, the builds on disk, the live manifest."""
    current = Path(data_dir) / "current"
    return (os.path.realpath(current), sorted(p.name for p in (Path(data_dir) / "builds").iterdir()),
            (current / "manifest.json").read_text(encoding="utf-8"))


def _still_answers(settings) -> bool:
    hits = Retriever(Index(settings)).search("高新技术企业要达到多少家", k=1, mode="bm25")
    return hits[0].key == ("tiny", 2, 2)


def _cli(argv, capsys, monkeypatch, env: dict) -> tuple[int, str]:
    for k, v in env.items():
        monkeypatch.setenv(k, str(v))
    rc = cli_main(argv)
    out = capsys.readouterr()
    return rc, out.err


def _one_clear_line(err: str, *needles: str) -> bool:
    lines = [line for line in err.splitlines() if line.strip()]
    return (len(lines) == 1 and lines[0].startswith("错误：") and "Traceback" not in err
            and all(n in lines[0] for n in needles))


# ------------------------------------------------------------------ corpus


def _gbk(d: Path):
    (d / TINY_FILE).write_bytes(TINY_TEXT.encode("gbk", errors="replace"))


def _utf16(d: Path):
    (d / TINY_FILE).write_bytes(TINY_TEXT.encode("utf-16"))


def _binary(d: Path):
    (d / TINY_FILE).write_bytes(random.Random(7).randbytes(65536))


def _binary_png(d: Path):
    (d / TINY_FILE).write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 64)


def _empty(d: Path):
    (d / TINY_FILE).write_bytes(b"")


def _whitespace(d: Path):
    (d / TINY_FILE).write_text(" \n\u3000\n\t\n" * 100, encoding="utf-8")


def _no_headings(d: Path):
    body = "".join(line for line in TINY_TEXT.splitlines(keepends=True)
                   if not line.lstrip(" \u3000").startswith("第"))
    (d / TINY_FILE).write_text(body, encoding="utf-8")


def _dup_chapter(d: Path):
    first = next(line for line in TINY_TEXT.splitlines() if line.strip().startswith("第一章"))
    (d / TINY_FILE).write_text(TINY_TEXT + "\n" + first + "\n重复的一章。\n", encoding="utf-8")


def _dup_section(d: Path):
    lines = TINY_TEXT.splitlines(keepends=True)
    i = max(i for i, line in enumerate(lines) if line.strip().startswith("第一节"))
    (d / TINY_FILE).write_text("".join(lines[: i + 2] + [lines[i]] + lines[i + 2:]),
                               encoding="utf-8")


def _huge(d: Path):
    chunk = (TINY_TEXT * 64).encode("utf-8")
    with (d / TINY_FILE).open("wb") as fh:
        while fh.tell() < 50 * 1024 * 1024:
            fh.write(chunk)


def _missing_file(d: Path):
    (d / TINY_FILE).unlink()


def _file_is_dir(d: Path):
    (d / TINY_FILE).unlink()
    (d / TINY_FILE).mkdir()


def _no_toml(d: Path):
    (d / "corpus.toml").unlink()


def _bad_toml(d: Path):
    (d / "corpus.toml").write_text(TINY_TOML + "\n[[documents]\nid = ", encoding="utf-8")


def _toml_escapes(d: Path):
    (d / "corpus.toml").write_text(TINY_TOML.replace(TINY_FILE, "../../../../etc/passwd"),
                                   encoding="utf-8")


CORPUS_FAULTS = {"empty file": _empty, "whitespace only": _whitespace, "binary (random bytes)": _binary,
                 "binary (PNG header)": _binary_png, "GBK encoding": _gbk, "UTF-16 encoding": _utf16,
                 "no headings": _no_headings, "duplicate chapter heading": _dup_chapter,
                 "duplicate section heading": _dup_section, "50 MB file": _huge,
                 "file missing": _missing_file, "file is a folder": _file_is_dir,
                 "corpus.toml missing": _no_toml, "corpus.toml malformed": _bad_toml,
                 "corpus.toml points outside (../etc/passwd)": _toml_escapes}


@pytest.mark.parametrize("fault", list(CORPUS_FAULTS))
def test_bad_corpus_is_a_corpus_error_and_index_untouched(fault, live, tmp_path, capsys,
                                                         monkeypatch):
    corpus = tmp_path / "corpus"
    shutil.copytree(DATA / "tiny_corpus", corpus)
    CORPUS_FAULTS[fault](corpus)
    before = _snapshot(live.data_dir)
    settings = load_settings(corpus_dir=corpus, data_dir=live.data_dir)
    problems = []
    try:
        build_index(settings, rebuild=True, progress=False)
        problems.append("no error raised")
    except CorpusError as exc:
        if not str(exc).strip():
            problems.append("empty message")
    except Exception as exc:  # anything but CorpusError is a finding
        problems.append(f"{type(exc).__name__}: {exc}")
    try:
        rc, err = _cli(["ingest", "--quiet", "--rebuild"], capsys, monkeypatch,
                       {"RAG_CORPUS_DIR": corpus, "RAG_DATA_DIR": live.data_dir})
        if rc != 1 or not _one_clear_line(err):
            problems.append(f"cli rc={rc} err={err[-300:]!r}")
        if _snapshot(live.data_dir) != before:
            problems.append("live index changed")
        if not _still_answers(live):
            problems.append("previous index no longer answers")
    except Exception as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    tally.record("corpus", fault, not problems, "; ".join(problems))
    assert not problems


# ------------------------------------------------------------------ index


def _copy(live, tmp_path) -> Path:
    dst = tmp_path / "data"
    shutil.copytree(live.data_dir, dst, symlinks=True)
    return dst


def _chroma_sqlite(data: Path) -> Path:
    return data / "current" / "chroma" / "chroma.sqlite3"


def _truncate_half(p: Path):
    size = p.stat().st_size
    with p.open("r+b") as fh:
        fh.truncate(size // 2)


INDEX_FAULTS = {
    "data folder missing": lambda d: shutil.rmtree(d),
    "current link dangling (build deleted)": lambda d: shutil.rmtree(d / "builds"),
    "manifest.json corrupt": lambda d: (d / "current" / "manifest.json").write_text("{", "utf-8"),
    "units.jsonl truncated": lambda d: _truncate_half(d / "current" / "units.jsonl"),
    "sections.jsonl deleted": lambda d: (d / "current" / "sections.jsonl").unlink(),
    "BM25 folder deleted": lambda d: shutil.rmtree(d / "current" / "bm25"),
    "BM25 file deleted": lambda d: [p.unlink() for p in (d / "current" / "bm25").iterdir()
                                    if p.name.startswith("params")],
    "Chroma sqlite truncated": lambda d: _truncate_half(_chroma_sqlite(d)),
    "Chroma sqlite emptied": lambda d: _chroma_sqlite(d).write_bytes(b""),
    "Chroma sqlite garbage": lambda d: _chroma_sqlite(d).write_bytes(b"not a database" * 999),
    "Chroma folder deleted": lambda d: shutil.rmtree(d / "current" / "chroma"),
}


@pytest.mark.parametrize("fault", list(INDEX_FAULTS))
def test_damaged_index_says_how_to_recover(fault, live, tmp_path, capsys, monkeypatch):
    data = _copy(live, tmp_path)
    INDEX_FAULTS[fault](data)
    settings = load_settings(corpus_dir=live.corpus_dir, data_dir=data)
    problems = []
    try:
        Retriever(Index(settings)).search("高新技术企业", k=1)
        problems.append("opened a damaged index without an error")
    except IndexError_ as exc:
        if "ingest" not in str(exc):
            problems.append(f"message does not say how to recover: {exc}")
    except Exception as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    try:
        rc, err = _cli(["search", "高新技术企业"], capsys, monkeypatch, {"RAG_DATA_DIR": data})
        if rc != 1 or not _one_clear_line(err, "ingest"):
            problems.append(f"cli search rc={rc} err={err[-300:]!r}")
        # the advertised recovery works, in the same process too: a rebuild answers again
        build_index(settings, rebuild=True, progress=False)
        if not _still_answers(settings):
            problems.append("rebuild did not recover")
    except Exception as exc:
        problems.append(f"{type(exc).__name__}: {exc}")
    tally.record("index", fault, not problems, "; ".join(problems))
    assert not problems


def test_embedder_mismatch(live, capsys, monkeypatch):
    other = load_settings(corpus_dir=live.corpus_dir, data_dir=live.data_dir,
                          embedder="sentence-transformers:/models/bge-m3")
    with pytest.raises(IndexMismatchError) as exc:
        Index(other)
    msg = str(exc.value)
    rc, err = _cli(["--embedder", "sentence-transformers:/models/bge-m3", "search", "企业"],
                   capsys, monkeypatch, {"RAG_DATA_DIR": live.data_dir})
    ok = ("e5-small-q4" in msg and "bge-m3" in msg and "ingest" in msg and rc == 1
          and _one_clear_line(err, "ingest"))
    assert tally.record("index", "embedder mismatch", ok, f"{msg} / {err}")


def _unwritable_data_dirs(tmp_path: Path) -> dict[str, Path]:
    """Data folders that cannot be written even by root: paths below a regular file."""
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    return {"data folder below a regular file": blocker / "data"}


def test_unwritable_data_folder(live, tmp_path, capsys, monkeypatch):
    """Tested as: the data folder is a path below a regular file (root ignores chmod).

    A genuinely read-only mount is not tried here (it needs privileges this suite does not
    assume); the code path is the same OSError → IndexError_ at the build folder's mkdir.
    """
    for name, data in _unwritable_data_dirs(tmp_path).items():
        settings = load_settings(corpus_dir=live.corpus_dir, data_dir=data)
        problems = []
        try:
            build_index(settings, progress=False)
            problems.append("built into an unwritable folder")
        except IndexError_ as exc:
            if "RAG_DATA_DIR" not in str(exc):
                problems.append(f"message does not say what to do: {exc}")
        except Exception as exc:
            problems.append(f"{type(exc).__name__}: {exc}")
        rc, err = _cli(["ingest", "--quiet"], capsys, monkeypatch,
                       {"RAG_CORPUS_DIR": live.corpus_dir, "RAG_DATA_DIR": data})
        if rc != 1 or not _one_clear_line(err, "RAG_DATA_DIR"):
            problems.append(f"cli rc={rc} err={err[-300:]!r}")
        tally.record("index", name, not problems, "; ".join(problems))
        assert not problems


def test_unwritable_embedding_cache_folder(live, tmp_path, capsys, monkeypatch):
    """Part of the data folder unwritable (embed-cache is a file): the cache is skipped with a
    warning (it only saves re-embedding), the build itself completes and switches."""
    data = _copy(live, tmp_path)
    shutil.rmtree(data / "embed-cache", ignore_errors=True)
    (data / "embed-cache").write_text("not a folder")
    corpus = tmp_path / "corpus"
    shutil.copytree(DATA / "tiny_corpus", corpus)
    p = corpus / TINY_FILE
    p.write_text(p.read_text(encoding="utf-8").replace("800家", "900家"), encoding="utf-8")
    rc, err = _cli(["ingest", "--quiet"], capsys, monkeypatch,
                   {"RAG_CORPUS_DIR": corpus, "RAG_DATA_DIR": data})
    ok = rc == 0 and "Traceback" not in err
    if ok:
        settings = load_settings(corpus_dir=corpus, data_dir=data)
        hits = Retriever(Index(settings)).search("高新技术企业达到多少家", k=1, mode="bm25")
        ok = "900家" in hits[0].text
    assert tally.record("index", "embed-cache folder unwritable", ok, f"rc={rc} {err[-300:]!r}"), err
