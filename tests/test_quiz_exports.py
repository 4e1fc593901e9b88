"""Quiz exports (CSV letters and columns, survey-tool text, A4 docx with page numbers read back
with python-docx, Markdown, JSON), byte-identical output across processes, the bank/coverage
options of the CLI, and practice grading (alternative forms, 多选 partial credit, unanswered)."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys

import pytest

from rag.cli import main as cli_main
from rag.corpus import load_corpus
from rag.quiz import (QuizError, QuizItem, QuizMeta, coverage_report, export_quiz,
                      generate_quiz, grade, is_correct, load_bank, render, unanswered)
from rag.quiz.grading import credit

from tests.conftest import PROJECT_ROOT, REAL_CORPUS

META = QuizMeta(scope="第2章", seed=4, date="2026-12-01")


@pytest.fixture(scope="module")
def sections():
    return load_corpus(REAL_CORPUS).sections


@pytest.fixture(scope="module")
def items(sections):
    return generate_quiz(sections, n=16, seed=4, chapters=[2, 3, 5],
                         types="cloze,choice,multi,judge")


def _item(**kw) -> QuizItem:
    base = dict(id="x", type="cloze", stem="推动5G基站达到____。", options=(), answer="12万座",
                explanation="推动5G基站达到12万座。", citation="「第三章」", doc_id="d", chapter=3,
                section=1, span=(0, 1), fact="12万座", kind="num:万座")
    return QuizItem(**{**base, **kw})


def test_csv_has_letters_points_level_chapter_section(tmp_path, items):
    raw = export_quiz(items, "csv", tmp_path / "q.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.DictReader(raw.decode("utf-8-sig").splitlines()))
    assert len(rows) == len(items)
    for row, it in zip(rows, items):
        assert row["题干"] == it.stem and row["章"] == str(it.chapter) and row["节"] == str(it.section)
        assert row["分值"] == str(it.points) and row["难度"] in ("易", "中", "难")
        if it.type == "choice":
            assert re.fullmatch("[ABCD]", row["答案"]) and row["选项" + row["答案"]] == it.answer
        elif it.type == "multi":
            assert re.fullmatch("[ABCD]{2,3}", row["答案"])
            assert {row["选项" + x] for x in row["答案"]} == set(it.correct)
        elif it.type == "judge":
            assert row["答案"] in ("正确", "错误")
            if it.answer == "错误":
                assert row["解析"].startswith("原文为“")
        else:
            assert row["答案"] == it.answer
    assert {"choice", "multi", "judge", "cloze"} <= {it.type for it in items}


def test_survey_text_import_format(items):
    text = render(items, "txt")
    blocks = text.strip().split("\n\n")
    assert len(blocks) == len(items)
    tags = {"cloze": "[填空题]", "choice": "[单选题]", "multi": "[多选题]", "judge": "[判断题]"}
    for no, (block, it) in enumerate(zip(blocks, items), 1):
        lines = block.split("\n")
        assert lines[0] == f"{no}.{it.stem}{tags[it.type]}"
        options = [ln for ln in lines if re.match("[A-D]\\.", ln)]
        assert options == ([f"{x}.{o}" for x, o in zip("ABCD", it.options)]
                           if it.type in ("choice", "multi") else [])
        assert lines[-2] == "答案：" + (it.letters if it.type in ("choice", "multi") else it.answer)
        assert lines[-1].startswith("解析：") and it.citation in lines[-1]


def test_docx_is_a4_with_page_numbers_title_meta_and_change_key(tmp_path, items):
    from docx import Document
    from docx.shared import Mm

    path = export_quiz(items, "docx", tmp_path / "q.docx", META)
    doc = Document(str(path))
    sec = doc.sections[0]
    assert abs(sec.page_width - Mm(210)) < Mm(1) and abs(sec.page_height - Mm(297)) < Mm(1)
    footer_xml = sec.footer._element.xml
    assert "fldChar" in footer_xml and re.search(r"<w:instrText[^>]*> PAGE </w:instrText>", footer_xml)
    body = "\n".join(p.text for p in doc.paragraphs)
    assert "山西省“十四五”规划纲要学习测验" in body
    assert "范围：第2章" in body and "随机种子：4" in body and "日期：2026-12-01" in body
    assert items[0].stem in body
    cells = "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
    false = [it for it in items if it.type == "judge" and it.answer == "错误"]
    assert false and all(it.change in cells for it in false)
    assert items[0].citation in cells
    again = export_quiz(items, "docx", tmp_path / "q2.docx", META)
    assert again.read_bytes() == path.read_bytes()  # fixed zip timestamps


def test_markdown_and_json(tmp_path, items):
    md = render(items, "md", META)
    assert md.index("## 答案与解析") > md.index(items[-1].stem) and META.line() in md
    for it in items:
        assert it.citation in md and it.explanation in md and (it.change in md)
    js = export_quiz(items, "json", tmp_path / "q.json")
    assert [QuizItem.from_json(d) for d in json.loads(js.read_text(encoding="utf-8"))] == items
    with pytest.raises(QuizError, match="未知导出格式"):
        export_quiz(items, "pdf", tmp_path / "q.pdf")


def _run(args, cwd):
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RAG_CORPUS_DIR": str(REAL_CORPUS)}
    return subprocess.run([sys.executable, "-m", "rag", "quiz", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=300)


def test_same_seed_gives_byte_identical_files_across_processes(tmp_path):
    outs = []
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        for fmt in ("json", "csv", "txt", "docx"):
            proc = _run(["--n", "12", "--seed", "31", "--format", fmt, "--date", "2026-12-01",
                         "--out", f"q.{fmt}"], tmp_path / run)
            assert proc.returncode == 0, proc.stderr.decode()
        outs.append({f: (tmp_path / run / f"q.{f}").read_bytes() for f in ("json", "csv", "txt", "docx")})
    assert outs[0] == outs[1]


def test_cli_bank_exclusion_and_coverage(tmp_path, capsys, monkeypatch, sections):
    monkeypatch.setenv("RAG_CORPUS_DIR", str(REAL_CORPUS))
    bank = tmp_path / "bank"
    bank.mkdir()
    assert cli_main(["quiz", "--n", "20", "--seed", "1", "--format", "json",
                     "--out", str(bank / "day1.json")]) == 0
    cov = tmp_path / "coverage.md"
    assert cli_main(["quiz", "--n", "20", "--seed", "2", "--format", "json", "--exclude", str(bank),
                     "--coverage", str(cov), "--types", "cloze,choice,multi,judge",
                     "--out", str(tmp_path / "day2.json")]) == 0
    day1 = load_bank([bank])
    day2 = load_bank([tmp_path / "day2.json"])
    assert len(day1) == len(day2) == 20
    assert not {tuple(d["span"]) for d in day1} & {tuple(d["span"]) for d in day2}
    report = cov.read_text(encoding="utf-8")
    assert "| 章 | 节 | 本卷题数 | 题库已有 | 未出过的句子 |" in report
    assert sum(int(r.split("|")[2]) for r in report.splitlines() if r.startswith("| 第")) == 20
    assert report == coverage_report([QuizItem.from_json(d) for d in day2], sections, day1)
    for argv in (["quiz", "--exclude", str(tmp_path / "missing.json")],
                 ["quiz", "--exclude", str(cov)], ["quiz", "--date", "12/01"]):
        capsys.readouterr()
        assert cli_main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("错误：") and err.count("\n") == 1, (argv, err)


def test_grading_accepts_alternative_forms():
    year = _item(answer="2025年", fact="2025年", kind="year")
    for given in ("2025年", "2025", "二〇二五年", "二〇二五", " ２０２５ "):
        assert is_correct(year, given), given
    assert not is_correct(year, "2024") and not is_correct(year, "2025个")
    count = _item(answer="3个", fact="3个", kind="num:个")
    assert all(is_correct(count, g) for g in ("3", "3个", "三个", "三"))
    assert not is_correct(count, "4个")
    big = _item(answer="12万座")
    assert is_correct(big, "12万座") and is_correct(big, "十二万座") and not is_correct(big, "12座")
    rng = _item(answer="1-2家", fact="1-2家", kind="range:家")
    assert is_correct(rng, "1—2家") and is_correct(rng, "1～2") and not is_correct(rng, "1-3家")
    word = _item(answer="智慧商圈", fact="智慧商圈", kind="quote:term")
    assert is_correct(word, "“智慧商圈”") and not is_correct(word, "智慧")


def test_multi_grading_all_or_nothing_and_partial():
    it = _item(type="multi", options=("太原", "大同", "临汾", "运城"), answer="太原、大同、临汾",
               correct=("太原", "大同", "临汾"), fact="太原、大同、临汾", kind="place:city")
    assert it.letters == "ABC"
    for given in ("ABC", "cab", "A,B,C", "A、B、C", ["太原", "大同", "临汾"]):
        assert credit(it, given) == 1.0, given
    assert credit(it, "AB") == 0.0 and credit(it, "AB", partial=True) == pytest.approx(2 / 3)
    assert credit(it, "ABD", partial=True) == 0.0  # a wrong pick earns nothing
    score, results = grade([it], {"x": "AB"}, partial=True)
    assert score == pytest.approx(0.67) and results[0]["credit"] == pytest.approx(2 / 3)


def test_grade_and_unanswered(items):
    perfect = {it.id: it.letters or it.answer for it in items}
    assert grade(items, perfect)[0] == len(items)
    texts = {it.id: it.answer for it in items if it.type != "multi"}
    assert grade(items, texts)[0] == len(texts)
    partial = dict(perfect)
    blank = [it.id for it in items[:3]]
    for k in blank:
        partial[k] = "  "
    assert unanswered(items, partial) == [1, 2, 3]
    score, results = grade(items, partial)
    assert score == len(items) - 3 and [r["given"] for r in results[:3]] == ["  "] * 3
    judge = next(it for it in items if it.type == "judge")
    assert is_correct(judge, "对" if judge.answer == "正确" else "错")
