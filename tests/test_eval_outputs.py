"""Evaluation outputs: plots in a CJK font (also after a stale font cache), the BEIR export,
and the dev-set regression check against the committed baseline (tests/data/dev-baseline.json).

The baseline is every 4th question of eval/datasets/dev.jsonl, retrieval only (bm25, hybrid).
Regenerate it after an intended retrieval change::

    ids = [r["id"] for n, r in enumerate(rows_of_dev) if n % 4 == 0]
    res = evaluate(DEV, settings, modes=("bm25", "hybrid"), only_ids=ids, progress=False)
    Path("tests/data/dev-baseline.json").write_text(json.dumps(slim(res), ensure_ascii=False))
"""

from __future__ import annotations

import copy
import csv
import json
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT
from rag.corpus import load_corpus
from rag.evaluation import GoldQuestion, question_metrics, summarize

DEV = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"
BASELINE = Path(__file__).parent / "data" / "dev-baseline.json"
D = "shanxi-14th-fyp"


def _small_results():
    qs = [GoldQuestion(f"q{i}", "问", ((D, c, 1),), "", "x", t, i)
          for i, (c, t) in enumerate([(1, "fact"), (2, "fact"), (2, "paraphrase"), (3, "concept")])]
    per_q = []
    for q in qs:
        ranked = [(D, 1, 1), (D, 2, 1), (D, 3, 1)]
        per_q.append({"modes": {m: {"seconds": 0.01 * (j + 1), "metrics":
                                    question_metrics(ranked[j:] + ranked[:j], q.gold, range(1, 11))}
                                for j, m in enumerate(("bm25", "hybrid"))}})
    return {"modes": ["bm25", "hybrid"], "curve_ks": list(range(1, 11)), "breakdown": "hit@5",
            "retrieval": summarize(qs, per_q, ["bm25", "hybrid"])}, per_q


def test_plots_use_a_cjk_font_even_after_a_stale_font_cache(tmp_path, monkeypatch):
    from matplotlib import font_manager

    from rag.evaluation import plots

    if not any("NotoSansCJK" in p or "wqy" in p.lower() for p in font_manager.findSystemFonts()):
        pytest.skip("no CJK font file installed (make system-deps installs fonts-noto-cjk)")
    # a cache written before fonts-noto-cjk was installed: the manager knows no CJK font
    stale = copy.copy(font_manager.fontManager)
    stale.ttflist = [f for f in stale.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager, "fontManager", stale)
    monkeypatch.setattr(font_manager, "findfont", stale.findfont)
    results, per_q = _small_results()
    paths, font = plots.write_plots(results, per_q, tmp_path)
    assert font and "CJK" in font
    assert "CJK" in Path(plots.font_file(font)).name  # the file the labels were drawn from
    assert {p.name for p in paths} == {"hit_at_k.png", "per_chapter.png", "per_type.png",
                                       "latency.png"}
    assert all(p.read_bytes()[:4] == b"\x89PNG" for p in paths)


def test_no_cjk_font_warns_visibly(monkeypatch, capsys):
    from matplotlib import font_manager

    from rag.evaluation import plots

    stale = copy.copy(font_manager.fontManager)
    stale.ttflist = [f for f in stale.ttflist if "CJK" not in f.name]
    monkeypatch.setattr(font_manager, "fontManager", stale)
    monkeypatch.setattr(font_manager, "findSystemFonts", lambda *a, **k: [])  # none installed
    monkeypatch.setattr(plots, "_warned", False)
    assert plots.cjk_font() is None
    assert "找不到中文字体" in capsys.readouterr().err


def test_beir_export_writes_corpus_queries_and_qrels(tmp_path, capsys):
    from rag.cli import main

    out = tmp_path / "beir"
    assert main(["eval", "--export-beir", str(out), "--dataset",
                 str(PROJECT_ROOT / "eval" / "datasets" / "tiny.jsonl")]) == 0
    assert "6 个查询" in capsys.readouterr().out
    corpus = [json.loads(x) for x in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    sections = load_corpus(PROJECT_ROOT / "corpus").sections
    assert len(corpus) == len(sections)
    assert corpus[0]["text"] == sections[0].text
    queries = [json.loads(x) for x in (out / "queries.jsonl").read_text(encoding="utf-8").splitlines()]
    with (out / "qrels" / "test.tsv").open(encoding="utf-8") as fh:
        qrels = list(csv.DictReader(fh, delimiter="\t"))
    ids = {c["_id"] for c in corpus}
    assert {r["query-id"] for r in qrels} == {q["_id"] for q in queries}
    assert all(r["corpus-id"] in ids and r["score"] == "1" for r in qrels)
    hit = next(r for r in qrels if r["query-id"] == "dev-032")
    assert hit["corpus-id"] == f"{D}:2:3"


@pytest.mark.slow
def test_dev_retrieval_has_not_regressed_against_the_baseline(real_index_settings):
    from rag.evaluation import evaluate
    from rag.evaluation.compare import compare_runs, load_results, regressions

    base = load_results(BASELINE)
    ids = [q["id"] for q in base["questions"]]
    new = evaluate(DEV, real_index_settings, modes=("bm25", "hybrid"), progress=False,
                   only_ids=ids)
    cmp = compare_runs(base, new)
    assert cmp["paired_questions"] == len(ids) >= 50
    # one flipped question of ~58 moves hit@k by 0.017: allow one, fail on two
    assert regressions(cmp, 0.02) == [], [(r["mode"], r["metric"], r["old"], r["new"])
                                         for r in regressions(cmp, 0.02)]
    broken = cmp["flips"]["hybrid"]["broken"]
    assert len(broken) <= 1, broken
