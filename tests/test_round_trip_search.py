"""The bundled plan converted to .docx/.html/.pdf and indexed: every dev question's top
section is the one the original text gives (BM25 and hybrid).

The .docx keeps every line, so its vectors all come from the shipped cache (fast); .html and
.pdf drop indentation and blank lines, so their chunks are re-embedded (slow on 2 cores).

BM25 is deterministic and must agree on every question for the .docx (the same text); the
.html/.pdf text loses indentation, so BM25 is held to the hybrid tolerance there. Hybrid goes
through Chroma's HNSW
graph, which several threads build, so two builds of the very same vectors can swap
near-tied sections: measured on the .docx (vectors identical to the original's), 2 of 230
top sections swapped, each for a section in the original's top 5. Hybrid is held to that:
at most 2 % of the questions may differ, and where the original's top section is gold, only
to a section of the original's top 5."""

from __future__ import annotations

import json

import pytest

from rag.config import load_settings
from rag.retrieval import Retriever
from rag.store import build_index
from tests.conftest import PROJECT_ROOT, REAL_CORPUS
from tests.plan_files import write_docx, write_html, write_pdf

# the standalone questions that have a gold section (follow-ups and refusals test other things)
ROWS = [row for row in (json.loads(line) for line in
        (PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
        if line.strip()) if row["gold"] and not row.get("history")]
QUESTIONS = [row["question"] for row in ROWS]
GOLD = {row["question"]: {(g["chapter"], g["section"]) for g in row["gold"]} for row in ROWS}
WRITERS = {"docx": write_docx, "html": write_html, "pdf": write_pdf}


def _tops(retriever: Retriever, mode: str) -> list[list[tuple[int, int]]]:
    """Each question's top five sections."""
    return [[(h.chapter, h.section) for h in retriever.search(q, k=5, mode=mode)]
            for q in QUESTIONS]


@pytest.fixture(scope="module")
def original(real_index_settings):
    r = Retriever.from_settings(real_index_settings)
    return {mode: _tops(r, mode) for mode in ("bm25", "hybrid")}


def _converted(tmp_path, fmt: str) -> Retriever:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    text = (REAL_CORPUS / "shanxi-14th-five-year-plan.txt").read_text(encoding="utf-8")
    WRITERS[fmt](text, corpus / f"plan.{fmt}")
    (corpus / "corpus.toml").write_text(
        (REAL_CORPUS / "corpus.toml").read_text(encoding="utf-8").replace(
            "shanxi-14th-five-year-plan.txt", f"plan.{fmt}"), encoding="utf-8")
    settings = load_settings(corpus_dir=corpus, data_dir=tmp_path / "data")
    build_index(settings, progress=False)
    return Retriever.from_settings(settings)


PDF_GAP = pytest.mark.xfail(
    strict=False, reason="known gap (left after issue 16): the PDF reader re-joins wrapped lines "
    "heuristically, chunks are re-embedded, and 7 of 328 hybrid top sections differed, some far "
    "from the original's")


@pytest.mark.parametrize("fmt", ["docx", pytest.param("html", marks=pytest.mark.slow),
                                 pytest.param("pdf", marks=[pytest.mark.slow, PDF_GAP])])
def test_same_top_section_for_dev_questions(original, tmp_path, fmt):
    retriever = _converted(tmp_path, fmt)
    assert len(retriever.index.sections) == 82
    for mode in ("bm25", "hybrid"):
        tops = _tops(retriever, mode)
        differ = [(q, a[0], b[0]) for q, a, b in zip(QUESTIONS, original[mode], tops)
                  if a[0] != b[0]]
        if mode == "bm25" and fmt == "docx":  # same text, same chunks: BM25 agrees exactly
            assert not differ, f"{fmt}: {len(differ)} of {len(QUESTIONS)} differ: {differ[:3]}"
            continue
        # hybrid (HNSW build jitter), and BM25 on .html/.pdf, whose extracted text loses the
        # file's indentation, so chunk boundaries and term counts shift a little: measured, 1–2
        # of 328 top sections differ there
        assert len(differ) <= len(QUESTIONS) // 50, f"{fmt} {mode}: {len(differ)} differ: {differ[:5]}"
        # a question the original answers right (top section gold) may move only within the
        # original's top 5; one the original gets wrong is a near-tie among wrong sections,
        # and it may land anywhere (measured: 1 of 328 on .html, 手机信号塔… 14.5 → 1.1)
        far = [(q, a, b) for q, a, b in differ
               if a in GOLD[q] and b not in original[mode][QUESTIONS.index(q)]]
        assert not far, f"{fmt} {mode}: a right top section moved outside the top 5: {far}"
