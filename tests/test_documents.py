"""``rag add`` / ``documents`` / ``remove`` on the tiny plan: corpus.toml, the index, the
labels of a second document, and files that must leave everything untouched."""

from __future__ import annotations

import os

import pytest

from rag.cli import main
from rag.config import load_settings
from rag.documents import add_document, list_documents, remove_document
from rag.errors import CorpusError
from rag.retrieval import Retriever
from rag.store import Index, build_index
from tests.conftest import indexed_tiny
from tests.plan_files import city_plan, special_plan, write_docx, write_html


@pytest.fixture
def indexed(tiny_corpus, tmp_path):
    """Settings over an indexed copy of the tiny plan, and the report of that first build."""
    s = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data")
    return s, build_index(s, progress=False)


@pytest.fixture
def settings(indexed):
    return indexed[0]


@pytest.fixture(scope="module")
def shared(tmp_path_factory):
    """An indexed tiny corpus for the tests that must leave it unchanged (built once)."""
    return indexed_tiny(tmp_path_factory.mktemp("docs"))[0]


def _live(settings) -> str:
    return os.path.realpath(settings.index_dir)


def test_add_search_and_remove(indexed, tmp_path):
    settings, first = indexed
    src = write_docx(city_plan(), tmp_path / "city.docx")
    done = add_document(settings, src, doc_id="city", title="示例市规划")
    assert done.sections == 16 and done.info.format == "docx"
    assert done.report.cached >= first.embedded + first.cached  # the tiny plan's vectors: reused
    assert 0 < done.report.embedded <= done.report.counts["sentences"] + done.report.counts[
        "chunks"] + done.report.counts["headings"] - (first.embedded + first.cached)
    rows = list_documents(settings)
    assert [(r["id"], r["format"], r["sections"]) for r in rows] == [("tiny", "txt", 7),
                                                                   ("city", "docx", 16)]
    assert (settings.corpus_dir / "added" / "city.docx").exists()

    retriever = Retriever.from_settings(settings)
    hit = retriever.search("碳达峰行动示范项目有几个", mode="bm25")[0]
    assert hit.doc_id == "city"
    assert hit.label == "《示例市规划》第三篇 第五章 第二节 碳达峰行动"
    tiny = retriever.search("全市战略意图", mode="bm25")[0]
    assert tiny.doc_id == "tiny" and tiny.label.startswith("《示例市国民经济和社会发展")

    remove_document(settings, "city")
    assert [r["id"] for r in list_documents(settings)] == ["tiny"]
    assert not (settings.corpus_dir / "added" / "city.docx").exists()
    assert {s.doc_id for s in Index(settings).sections} == {"tiny"}
    assert "city" not in (settings.corpus_dir / "corpus.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name, content", [
    ("scan.pdf", b"%PDF-1.4\n%broken"),
    ("plain.html", "<html><head></head></html>".encode()),
    ("gbk.txt", "第一章 总体\n正文。\n".encode("gbk")),
    ("plan.doc", b"\xd0\xcf\x11\xe0"),
])
def test_bad_file_leaves_everything_untouched(shared, tmp_path, name, content):
    settings = shared
    manifest = (settings.corpus_dir / "corpus.toml").read_bytes()
    live = _live(settings)
    src = tmp_path / name
    src.write_bytes(content)
    with pytest.raises(CorpusError):
        add_document(settings, src)
    assert (settings.corpus_dir / "corpus.toml").read_bytes() == manifest
    assert _live(settings) == live
    assert not list(settings.corpus_dir.glob("added/*"))


def test_docx_without_headings_is_refused(shared, tmp_path):
    settings, live = shared, _live(shared)
    with pytest.raises(CorpusError, match="没有找到任何章标题"):
        add_document(settings, write_docx("一段文字。\n", tmp_path / "plain.docx"))
    assert _live(settings) == live


def test_id_taken_and_last_document(shared, tmp_path):
    settings = shared
    with pytest.raises(CorpusError, match="已存在"):
        add_document(settings, write_html(special_plan(), tmp_path / "eco.html"), doc_id="tiny")
    with pytest.raises(CorpusError, match="唯一的文档"):
        remove_document(settings, "tiny")
    with pytest.raises(CorpusError, match="没有 id"):
        remove_document(settings, "nope")


def test_cli_add_documents_remove(settings, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_CORPUS_DIR", str(settings.corpus_dir))
    data = ["--data-dir", str(settings.data_dir)]
    src = write_html(special_plan(), tmp_path / "eco.html")
    assert main(data + ["add", str(src), "--id", "eco", "--title", "生态规划", "--quiet"]) == 0
    err = capsys.readouterr().err
    assert "已可检索「生态规划」" in err and "html" in err and "嵌入" in err
    assert err.index("已可检索") < err.index("已完成「生态规划」的索引")  # add waits for phase 2
    assert main(data + ["documents"]) == 0
    out = capsys.readouterr().out
    assert "eco\thtml\t9\t" in out and "\t完成\t生态规划" in out
    assert "tiny\ttxt\t7\t（随附）\t完成" in out
    assert main(data + ["ask", "蓝天保卫战的目标是什么"]) == 0
    assert "《生态规划》二、（一）深入打好蓝天保卫战" in capsys.readouterr().out
    assert main(data + ["remove", "eco", "--quiet"]) == 0
    assert main(data + ["add", str(tmp_path / "missing.pdf")]) == 1
    assert "错误：" in capsys.readouterr().err
