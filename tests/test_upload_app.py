"""The app's 添加规划 tab: only behind a password; a good file reaches the picker and the answers,
a bad one gives one Chinese line and leaves the live index and corpus.toml as they were."""

from __future__ import annotations

import os

import pytest

from rag.config import load_settings
from rag.store import build_index
from tests.plan_files import city_plan, write_docx


def _elem_ids(demo) -> set:
    return {getattr(b, "elem_id", None) for b in demo.blocks.values()}


@pytest.fixture
def settings(tiny_corpus, tmp_path):
    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data",
                             app_password="secret")
    build_index(settings, progress=False)
    return settings


def _live(settings):
    return os.path.realpath(settings.index_dir)


def test_upload_tab_only_with_a_password(settings):
    from rag.ui.layout import build_app

    demo, _ = build_app(settings)
    assert {"upload-file", "upload-btn"} <= _elem_ids(demo)
    open_settings = load_settings(corpus_dir=settings.corpus_dir, data_dir=settings.data_dir)
    demo, _ = build_app(open_settings)
    assert "upload-file" not in _elem_ids(demo)


def test_upload_adds_the_plan_to_picker_and_answers(settings, tmp_path):
    from rag.ui.layout import build_app
    from rag.ui.upload import Uploader

    _, app = build_app(settings)
    app.backend.wait()
    uploader = Uploader(app)
    before_build = app.backend.index.manifest.build_id
    frames = list(uploader.add(str(write_docx(city_plan(), tmp_path / "city.docx")), "city",
                               "示例市规划", poll=0.05))
    assert any(f[0].startswith("正在添加 city.docx") for f in frames[:-1])
    searchable = [f for f in frames[:-1] if "已可检索" in f[0]]  # phase 1, then phase 2 runs on
    assert searchable and ("示例市规划", "city") in searchable[0][2]["choices"]
    message, status, picker = frames[-1]
    assert message.startswith("已添加《示例市规划》（id：city，") and "节" in message
    assert ("示例市规划", "city") in picker["choices"] and picker["visible"] is True
    assert app.backend.index.manifest.build_id != before_build
    answer = app.ask("碳达峰行动示范项目有几个？")
    assert answer["citations"][0]["doc_id"] == "city"
    assert 'id = "city"' in (settings.corpus_dir / "corpus.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize("name, content, expected", [
    ("scan.pdf", b"%PDF-1.4\n%broken", "添加失败：scan.pdf"),
    ("plain.html", "<html><head></head></html>".encode(), "添加失败：plain.html"),
    ("plan.doc", b"\xd0\xcf\x11\xe0", "添加失败："),
])
def test_bad_upload_is_one_chinese_line_and_changes_nothing(settings, tmp_path, name, content,
                                                            expected):
    from rag.ui.layout import build_app
    from rag.ui.upload import Uploader

    _, app = build_app(settings)
    app.backend.wait()
    manifest = (settings.corpus_dir / "corpus.toml").read_bytes()
    live, build_id = _live(settings), app.backend.index.manifest.build_id
    src = tmp_path / name
    src.write_bytes(content)
    message, status, picker = list(Uploader(app).add(str(src), "", "", poll=0.05))[-1]
    assert message.startswith(expected) and "\n" not in message and str(tmp_path) not in message
    assert "Traceback" not in message and picker == {"__type__": "update"}
    assert (settings.corpus_dir / "corpus.toml").read_bytes() == manifest
    assert _live(settings) == live and app.backend.index.manifest.build_id == build_id
    assert not list(settings.corpus_dir.glob("added/*"))


def test_upload_without_a_file_asks_for_one(settings):
    from rag.ui.layout import build_app
    from rag.ui.upload import PICK_FILE, Uploader

    _, app = build_app(settings)
    assert list(Uploader(app).add(None, "", ""))[-1][0] == PICK_FILE


def test_upload_over_the_size_limit_is_refused(tiny_corpus, tmp_path):
    from rag.ui.layout import build_app
    from rag.ui.upload import Uploader

    settings = load_settings(corpus_dir=tiny_corpus, data_dir=tmp_path / "data",
                             app_password="secret", upload_max_mb=0.01)
    build_index(settings, progress=False)
    _, app = build_app(settings)
    app.backend.wait()
    src = tmp_path / "big.txt"
    src.write_text("第一章 总则\n" + "山西" * 20000, encoding="utf-8")
    message, _, picker = list(Uploader(app).add(str(src), "", "", poll=0.05))[-1]
    assert message.startswith("添加失败：big.txt 有 0.1 MB，超过上传上限 0.01 MB")
    assert picker == {"__type__": "update"} and not list(tiny_corpus.glob("added/*"))
