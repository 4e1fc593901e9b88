"""The app's 出题 and 练习 handlers with the new item types: 多选 in the preview and in practice,
the survey-text download, the warning before grading unanswered items, and partial credit."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.ui.layout import build_app


@pytest.fixture(scope="module")
def app(real_index_settings):
    _, app = build_app(real_index_settings)
    app.backend.wait()
    return app


def test_make_quiz_with_all_types_and_downloads(app):
    items, preview, *downloads = app.make_quiz(["2", "3"], [], 12,
                                               ["cloze", "choice", "multi", "judge"], "mixed", 5)
    assert len(items) == 12 and {it.type for it in items} == {"cloze", "choice", "multi", "judge"}
    multi = next(it for it in items if it.type == "multi")
    assert all(f". {o}</div>" in preview for o in multi.options)  # 多选 options are shown
    assert f"{multi.letters}. " in preview
    files = {Path(d["value"]).suffix: Path(d["value"]) for d in downloads}
    assert set(files) == {".md", ".csv", ".json", ".docx", ".txt"}
    assert "[多选题]" in files[".txt"].read_text(encoding="utf-8")
    assert "随机种子：5" in files[".md"].read_text(encoding="utf-8")


def test_practice_warns_before_grading_unanswered_then_grades(app):
    items, *_ = app.make_quiz(["2"], [], 6, ["cloze", "multi", "judge"], "mixed", 9)
    answers = [list(it.correct) if it.type == "multi" else it.answer for it in items]
    answers[1] = None if items[1].type == "multi" else ""
    html, pending = app.submit_practice(items, "", False, *answers)
    assert "还有 1 题未作答（第 2 题）" in html and pending == "2"
    html, pending = app.submit_practice(items, pending, False, *answers)  # confirmed: graded
    assert "（5/6 题正确）" in html and pending == ""
    full = [list(it.correct) if it.type == "multi" else it.answer for it in items]
    html, _ = app.submit_practice(items, "", False, *full)
    assert "100 分（6/6" in html


def test_practice_partial_credit_for_multi(app):
    items, *_ = app.make_quiz(["2", "3"], [], 4, ["multi"], "mixed", 2)
    some = [list(it.correct)[:1] for it in items]  # one correct option each, nothing wrong
    strict, _ = app.submit_practice(items, "", False, *some)
    assert "（0/4 题正确）" in strict
    lenient, _ = app.submit_practice(items, "", True, *some)
    assert "0 分（0/4" not in lenient
