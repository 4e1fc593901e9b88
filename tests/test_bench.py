"""The benchmark: replication into distinct documents, growth fits, and a smoke run end to end.

The smoke run uses the tiny fixture plan so every step (child-process ingests, naive baseline,
retrieval, the app under gradio_client load) runs in about a minute; it checks that the
report files exist with the expected keys and sane numbers, never how fast anything was.
"""

from __future__ import annotations

import json
import math

import pytest

from rag import cli
from rag.bench import loglog_slope, replicate, stats_ms
from rag.corpus import load_corpus


def test_replicate_makes_distinct_documents(tiny_corpus):
    base = load_corpus(tiny_corpus)
    rep = replicate(base, 3)
    ids = [d.id for d in rep.documents]
    assert ids == ["tiny", "tiny-x2", "tiny-x3"]
    for d in rep.documents:
        assert {s.doc_id for s in d.sections} == {d.id}
        assert d.text == base.documents[0].text
    assert len(rep.sections) == 3 * len(base.sections)
    assert rep.content_hash != base.content_hash
    assert replicate(base, 1).content_hash == base.content_hash


def test_loglog_slope_and_stats():
    xs = [1, 4, 16]
    assert loglog_slope(xs, [2 * x for x in xs]) == pytest.approx(1.0)
    assert loglog_slope(xs, [3 * math.sqrt(x) for x in xs]) == pytest.approx(0.5)
    assert loglog_slope([1], [5.0]) is None
    assert loglog_slope(xs, [None, None, 1.0]) is None
    s = stats_ms([0.001 * i for i in range(1, 101)])
    assert s["n"] == 100 and s["p50_ms"] == pytest.approx(50.5)
    assert s["p50_ms"] <= s["p95_ms"] <= s["p99_ms"]
    assert stats_ms([]) == {"n": 0}


@pytest.mark.parametrize("flag", ["--scale=0", "--scale=a,b", "--clients=-1"])
def test_bad_flags_are_one_line_errors(flag, tmp_path, capsys):
    rc = cli.main(["bench", flag, "--out", str(tmp_path / "out"), "--work", str(tmp_path / "w")])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("错误：") and err.count("\n") == 1
    assert "Traceback" not in err


def test_nonempty_work_dir_refused(tmp_path, capsys):
    work = tmp_path / "w"
    work.mkdir()
    (work / "old").write_text("x")
    rc = cli.main(["bench", "--smoke", "--out", str(tmp_path / "out"), "--work", str(work)])
    assert rc == 1 and "非空" in capsys.readouterr().err


@pytest.mark.slow
def test_smoke_run_writes_reports(tiny_corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_CORPUS_DIR", str(tiny_corpus))
    out = tmp_path / "out"
    rc = cli.main(["bench", "--smoke", "--scale", "1,2", "--queries", "3", "--clients", "2",
                   "--per-client", "2", "--uncached", "--quiet", "--out", str(out),
                   "--work", str(tmp_path / "work")])
    assert rc == 0
    assert "results.md" in capsys.readouterr().out
    res = json.loads((out / "results.json").read_text(encoding="utf-8"))
    md = (out / "results.md").read_text(encoding="utf-8")
    assert (out / "scale.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    assert set(res["scales"]) == {"1", "2"}
    for n in (1, 2):
        ing = res["scales"][str(n)]["ingest"]
        assert set(ing["timings"]) >= {"parse", "chunk", "embed", "chroma", "bm25", "total"}
        assert all(v >= 0 for v in ing["timings"].values())
        assert ing["timings"]["total"] >= ing["timings"]["embed"] > 0
        assert ing["counts"]["documents"] == n
        assert ing["warm_skipped"] is True and ing["warm_s"] < ing["timings"]["total"]
        assert ing["index_bytes"]["total"] > ing["index_bytes"]["bm25"] > 0
        assert 50 < ing["peak_rss_mb"] < 8192
        q = res["scales"][str(n)]["query"]
        for mode in ("bm25", "dense", "hybrid"):
            r = q["retrieval"][mode]
            assert r["n"] == 3 and 0 < r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"]
        assert set(q["hybrid_profile"]) >= {"embed", "chroma_sentences", "chroma_chunks",
                                            "jieba", "bm25", "feature_matrix", "hits", "other"}
        assert set(q["hybrid_profile_cpu"]) == set(q["hybrid_profile"])
    # copies are distinct documents: twice the sections, chunks and vectors
    s1, s2 = (res["scales"][k]["ingest"] for k in ("1", "2"))
    for key in ("sections", "sentences", "chunks"):
        assert s2["counts"][key] == 2 * s1["counts"][key]
    assert s2["embedded"] + s2["cached"] == 2 * (s1["embedded"] + s1["cached"])
    assert res["uncached_ingest"]["shipped_cache"] is False
    assert res["warm_cli"]["returncode"] == 0 and res["warm_cli"]["skipped"] is True
    assert res["naive_ingest"]["nodes"] >= 1
    assert res["scales"]["1"]["query"]["naive_query"]["n"] == 3
    ans = res["scales"]["1"]["query"]["answer"]
    assert ans["n"] == 3 and 0 < ans["p50_ms"] <= ans["p95_ms"] and ans["answerer"] == "extractive"
    assert "answer" not in res["scales"]["2"]["query"]  # answer latency is a ×1 figure
    assert isinstance(res["growth"]["hybrid_p50_ms"]["slope"], float)
    assert isinstance(res["growth"]["ingest_chroma_s"]["slope"], float)

    sv = res["serving"]
    assert "error" not in sv, sv
    (level,) = sv["levels"]
    assert level["clients"] == 2 and level["requests"] == 4
    assert level["ok"] == 4 and level["errors"] == 0, level["error_samples"]
    assert level["throughput_qps"] > 0 and level["p50_ms"] <= level["p95_ms"]
    assert sv["VmHWM"] >= sv["VmRSS"] > 50

    names = {t["name"] for t in res["targets"]}
    assert {"冷启动摄取（含随附嵌入缓存）", "抽取式回答 p95", "16 个并发客户端无错误"} <= names
    assert next(t for t in res["targets"] if t["name"] == "16 个并发客户端无错误")["met"] is None
    assert "## 目标对照" in md and "≤ 30.0 s" in md and "斜率" in md


def _growth(scales):
    from rag.bench.runner import growth

    res = {"scales": {}}
    for n in scales:
        res["scales"][str(n)] = {
            "ingest": {"timings": {"total": 5.0 * n, "embed": 1.0, "chroma": 2.0 * n, "bm25": 0.5 * n,
                                   "chunk": 0.3}, "index_bytes": {"total": n * 2**20}, "peak_rss_mb": 300.0},
            "query": {"retrieval": {m: {"p50_ms": 30.0, "p95_ms": 40.0} for m in ("bm25", "dense", "hybrid")}}}
    return {"growth": growth(res)}


def test_console_line_names_every_missed_target():
    from rag.bench.report import _row, console_summary

    res = {"targets": [_row("冷启动摄取（不用随附缓存）", 112.4, "s", 30.0), _row("检索 p50（bm25）", 0.7, "ms", 50.0),
                       _row("服务进程峰值 RSS（VmHWM）", None, "MB", 1536.0)]}
    line = console_summary(res, "out/results.md")
    assert line.splitlines()[0] == "基准测试完成：1/2 项达标 → out/results.md"
    assert line.splitlines()[1] == "  未达标：冷启动摄取（不用随附缓存） 112.4 s（目标 ≤ 30.0 s）"
    assert "RSS" not in line  # not measured: neither met nor missed


@pytest.mark.parametrize("scales", [[1], [1, 4]])
def test_scale_plot_renders_one_or_several_scales(scales, tmp_path):
    from rag.bench.report import _series_name, plot

    path = plot(_growth(scales), tmp_path / "scale.png")
    assert path.read_bytes()[:4] == b"\x89PNG"
    assert _series_name("hybrid_p95_ms", True) == "hybrid p95"
    assert _series_name("ingest_chroma_s", True) == "Chroma 写入"
