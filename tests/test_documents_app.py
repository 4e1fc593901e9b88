"""The app's document picker over two documents: choices, scoping of chat and ask."""

from __future__ import annotations

import pytest

from rag.config import load_settings
from rag.documents import add_document
from rag.store import build_index
from tests.plan_files import city_plan, write_docx


@pytest.fixture
def app(tiny_corpus, tmp_path):
    from rag.ui.layout import build_app

    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data")
    build_index(settings, progress=False)
    add_document(settings, write_docx(city_plan(), tmp_path / "city.docx"), doc_id="city",
                 title="示例市规划")
    _, app = build_app(settings)
    app.backend.wait()
    return app


def test_document_picker_scopes_answers(app):
    last = list(app.startup())[-1]
    picker = last[-1]  # the document picker is the last output of startup
    assert picker["visible"] is True
    assert picker["choices"][0] == ("全部文档", "all") and ("示例市规划", "city") in picker["choices"]

    question = "碳达峰行动示范项目有几个？"
    everywhere = app.ask(question)
    assert everywhere["citations"] and everywhere["citations"][0]["doc_id"] == "city"
    assert everywhere["citations"][0]["document"] == "示例市规划"
    scoped = app.ask(question, document="tiny")
    assert all(c["doc_id"] == "tiny" for c in scoped["citations"])

    frames = list(app.chat(question, "all", None, "city"))
    display = frames[-1][0]
    assert "《示例市规划》第三篇 第五章 第二节 碳达峰行动" in display[-1]["content"]
