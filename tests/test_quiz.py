"""Quiz builder: grounding against the real plan text, distractors, perturbations, determinism,
selection, errors, exports and grading."""

from __future__ import annotations

import csv
import json
import math

import pytest

from rag.cli import main as cli_main
from rag.corpus import load_corpus
from rag.quiz import (CHOICE_BLANK, CLOZE_BLANK, JUDGE_OPTIONS, NUMBER, QuizError, QuizItem,
                      analyse_sections, check_item, export_quiz, generate_quiz, grade, render,
                      token_boundaries)

from tests.conftest import REAL_CORPUS


@pytest.fixture(scope="module")
def plan():
    """The real plan: (sections, {doc_id: file text}, all section text joined)."""
    corpus = load_corpus(REAL_CORPUS)
    return (corpus.sections, {d.id: d.text for d in corpus.documents},
            "\n".join(s.text for s in corpus.sections))


@pytest.fixture(scope="module")
def quiz200(plan):
    """200 items over all chapters, all types."""
    return generate_quiz(plan[0], n=200, seed=11)


@pytest.fixture(scope="module")
def pools(plan):
    """kind -> set of fact texts found anywhere in the plan."""
    out: dict[str, set[str]] = {}
    for s in analyse_sections(tuple(plan[0])):
        for f in s.facts:
            out.setdefault(f.kind, set()).add(f.text)
    return out


def test_every_item_is_grounded_in_the_real_text(plan, quiz200):
    sections, texts, _ = plan
    assert len(quiz200) == 200
    for it in quiz200:
        assert check_item(it, texts, sections) == [], it
        source = texts[it.doc_id][it.span[0]:it.span[1]]
        assert source == it.explanation
        sec = next(s for s in sections if (s.chapter, s.section) == (it.chapter, it.section))
        assert any(a <= it.span[0] and it.span[1] <= b for a, b in sec.parts)
        assert it.citation == f"「{sec.label}」"
        if it.kind == "section":
            assert it.answer == sec.section_title
        elif it.type != "judge":
            assert it.answer in source
        else:
            assert it.fact in source


def test_items_spread_over_chapters_types_and_unique_stems(quiz200):
    assert len({it.stem for it in quiz200}) == len(quiz200)
    assert len({it.id for it in quiz200}) == len(quiz200)
    assert {it.type for it in quiz200} == {"cloze", "choice", "judge"}
    assert len({it.chapter for it in quiz200}) >= 14
    kinds = {it.kind.split(":")[0] for it in quiz200}
    assert {"num", "year", "quote", "place", "section"} <= kinds


def test_blanks_cover_whole_tokens_and_numbers(quiz200):
    for it in quiz200:
        if it.type not in ("cloze", "choice") or it.kind == "section":
            continue
        mark = CLOZE_BLANK if it.type == "cloze" else CHOICE_BLANK
        start = it.stem.index(mark)
        end = start + len(it.answer)
        sentence = it.explanation
        assert sentence[start:end] == it.answer
        assert {start, end} <= token_boundaries(sentence)
        if it.kind.startswith(("num", "year", "range")):
            assert not (start and (sentence[start - 1].isdigit() or sentence[start - 1] == "."))
            assert not (end < len(sentence) and sentence[end].isdigit())
        assert it.stem.count(mark) == 1 and it.answer not in it.stem.replace(mark, "")


def test_choice_distractors_are_same_kind_unique_and_wrong(plan, quiz200, pools):
    sections = plan[0]
    titles = {s.section_title for s in sections if s.section > 0}
    choices = [it for it in quiz200 if it.type == "choice"]
    assert len(choices) >= 60
    for it in choices:
        assert len(it.options) == 4 and len(set(it.options)) == 4
        assert it.options.count(it.answer) == 1
        for opt in it.options:
            if opt == it.answer:
                continue
            if it.kind == "section":
                assert opt in titles and opt != it.answer
            elif it.kind.startswith(("num", "year", "range")):
                m, a = NUMBER.fullmatch(opt), NUMBER.fullmatch(it.answer)
                assert m and m.group(4) == a.group(4), (opt, it.answer)  # same unit
                assert float(m.group(1)) != float(a.group(1))
            else:
                assert opt in pools[it.kind], (opt, it.kind)
            # a wrong option never reproduces the source sentence
            if it.kind != "section":
                assert it.stem.replace(CHOICE_BLANK, opt) != it.explanation


def test_judge_perturbations_really_change_the_statement(plan, quiz200):
    plan_text = plan[2]
    judges = [it for it in quiz200 if it.type == "judge"]
    assert {it.answer for it in judges} == {"正确", "错误"}
    for it in judges:
        assert it.options == JUDGE_OPTIONS
        if it.answer == "正确":
            assert it.stem == it.explanation
            continue
        assert it.stem != it.explanation and it.stem not in plan_text
        # exactly one contiguous replacement of the fact
        i = it.explanation.index(it.fact)
        head, tail = it.explanation[:i], it.explanation[i + len(it.fact):]
        assert it.stem.startswith(head) and it.stem.endswith(tail)
        swapped = it.stem[len(head):len(it.stem) - len(tail)]
        assert swapped and swapped != it.fact


def test_same_seed_same_quiz_other_seed_other_quiz(plan):
    sections = plan[0]
    a = generate_quiz(sections, n=30, seed=5, chapters=[2, 3], difficulty="hard")
    b = generate_quiz(list(sections), n=30, seed=5, chapters=[3, 2], difficulty="hard")
    c = generate_quiz(sections, n=30, seed=6, chapters=[2, 3], difficulty="hard")
    assert a == b
    assert [i.stem for i in a] != [i.stem for i in c]


def test_selection_by_chapter_and_section(plan):
    sections = plan[0]
    only2 = generate_quiz(sections, n=20, seed=1, chapters=[2])
    assert {it.chapter for it in only2} == {2}
    assert len({it.section for it in only2}) >= 4  # spread across the chapter's sections
    narrowed = generate_quiz(sections, n=12, seed=1, section_keys=["2.1", (2, 3)])
    assert {(it.chapter, it.section) for it in narrowed} == {(2, 1), (2, 3)}
    # a section key narrows its own chapter; other chosen chapters stay whole
    mixed = generate_quiz(sections, n=20, seed=1, chapters=[2, 3], section_keys=["2.1"])
    assert {it.section for it in mixed if it.chapter == 2} == {1}
    assert any(it.chapter == 3 for it in mixed)
    one = generate_quiz(sections, n=10, seed=2, types=["cloze"])
    assert {it.type for it in one} == {"cloze"} and all(it.options == () for it in one)


def test_difficulty_moves_number_distractors(plan):
    sections = plan[0]

    def spread(difficulty: str) -> float:
        items = generate_quiz(sections, n=150, seed=3, types=["choice"], difficulty=difficulty)
        d = []
        for it in items:
            if it.kind.startswith(("num", "year")):
                a = float(NUMBER.fullmatch(it.answer).group(1))
                d += [abs(math.log10(float(NUMBER.fullmatch(o).group(1)) / a))
                      for o in it.options if o != it.answer]
        assert len(d) >= 15
        return sum(d) / len(d)

    assert spread("hard") < spread("easy")


@pytest.mark.parametrize("kwargs, message", [
    ({"n": 5, "chapters": [99]}, "没有第 99 章"),
    ({"n": 5, "section_keys": ["2.99"]}, "没有第 2 章第 99 节"),
    ({"n": 5, "section_keys": ["二.1"]}, "章.节"),
    ({"n": 5, "chapters": [3], "section_keys": ["2.1"]}, "不在所选的章"),
    ({"n": 5, "types": []}, "题型为空"),
    ({"n": 5, "types": "cloze,essay"}, "未知题型：essay"),
    ({"n": 5, "difficulty": "extreme"}, "未知难度"),
    ({"n": 0}, "题目数量"),
    ({"n": 400, "section_keys": ["2.1"]}, "只能出"),
])
def test_bad_requests_raise_clear_errors(plan, kwargs, message):
    with pytest.raises(QuizError, match=message):
        generate_quiz(plan[0], **kwargs)


def test_tiny_plan_has_limited_material(tiny_corpus):
    sections = load_corpus(tiny_corpus).sections
    items = generate_quiz(sections, n=6, seed=0, types=["cloze"])
    assert all(it.answer in it.explanation for it in items)
    with pytest.raises(QuizError, match="只能出 .* 道不重复的题"):
        generate_quiz(sections, n=200, seed=0)


def test_grade_accepts_text_letters_and_unitless_numbers(quiz200):
    items = quiz200[:]
    perfect = {it.id: it.answer for it in items}
    score, results = grade(items, perfect)
    assert score == len(items) and all(r["correct"] for r in results)
    letters = {it.id: "ABCD"[it.options.index(it.answer)] for it in items if it.type == "choice"}
    assert grade(items, letters)[0] == len(letters)
    wrong = {it.id: next(o for o in it.options if o != it.answer) for it in items if it.options}
    score, results = grade(items, wrong)
    assert score == 0 and results[0]["given"] == ""  # cloze items first, left unanswered
    num = next(it for it in items if it.type == "cloze" and it.kind.startswith("num"))
    bare = num.answer[:NUMBER.fullmatch(num.answer).start(4)]
    assert grade([num], {num.id: f" {bare} "})[0] == 1
    judge = next(it for it in items if it.type == "judge")
    assert grade([judge], {judge.id: "对" if judge.answer == "正确" else "错"})[0] == 1


def test_exports_round_trip(tmp_path, plan):
    items = generate_quiz(plan[0], n=12, seed=4, chapters=[2])
    js = export_quiz(items, "json", tmp_path / "q.json")
    assert [QuizItem.from_json(d) for d in json.loads(js.read_text(encoding="utf-8"))] == items
    path = export_quiz(items, "csv", tmp_path / "q.csv")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    assert rows[0][0] == "编号" and len(rows) == len(items) + 1
    assert [r[2] for r in rows[1:]] == [it.stem for it in items]
    md = render(items, "md")
    assert md.index("## 答案与解析") > md.index(items[-1].stem)
    for it in items:
        assert it.citation in md and it.explanation in md
    from docx import Document

    doc = Document(str(export_quiz(items, "docx", tmp_path / "q.docx")))
    body = "\n".join(p.text for p in doc.paragraphs)
    cells = "\n".join(c.text for t in doc.tables for r in t.rows for c in r.cells)
    assert items[0].stem in body and items[0].citation in cells
    with pytest.raises(QuizError, match="未知导出格式"):
        export_quiz(items, "pdf", tmp_path / "q.pdf")


def test_cli_prints_writes_and_fails_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_CORPUS_DIR", str(REAL_CORPUS))
    assert cli_main(["quiz", "--chapters", "2", "--n", "5", "--seed", "7", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out) == 5 and {d["chapter"] for d in out} == {2}
    target = tmp_path / "quiz.docx"
    assert cli_main(["quiz", "--sections", "2.1,2.3", "--n", "6", "--types", "cloze,judge",
                     "--format", "docx", "--out", str(target)]) == 0
    assert target.stat().st_size > 0 and "已生成 6 道题" in capsys.readouterr().err
    for argv in (["quiz", "--chapters", "42"], ["quiz", "--types", ""], ["quiz", "--types", "essay"],
                 ["quiz", "--n", "5000"], ["quiz", "--format", "csv"], ["quiz", "--chapters", "a"]):
        assert cli_main(argv) == 1
        err = capsys.readouterr().err
        assert err.startswith("错误：") and err.count("\n") == 1, (argv, err)
