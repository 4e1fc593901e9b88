"""Quiz builder: grounding against the real plan text, item quality rules, distractors, 判断
swaps, 多选, difficulty, bank exclusion, determinism, selection and errors (exports and grading:
test_quiz_exports.py)."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from rag.cli import main as cli_main
from rag.corpus import load_corpus
from rag.quiz import (CHOICE_BLANK, CLOZE_BLANK, JUDGE_OPTIONS, NUMBER, QuizError,
                      analyse_sections, check_item, generate_quiz, token_boundaries)
from rag.quiz.distractors import shape
from rag.quiz.facts import _PLACES
from rag.quiz.text import fullwidth, in_sentence

from tests.conftest import REAL_CORPUS


@pytest.fixture(scope="module")
def plan():
    """The real plan: (sections, {doc_id: file text}, all section text joined)."""
    corpus = load_corpus(REAL_CORPUS)
    return (corpus.sections, {d.id: d.text for d in corpus.documents},
            "\n".join(s.text for s in corpus.sections))


@pytest.fixture(scope="module")
def quiz200(plan):
    """200 items over all chapters, all types (出自哪一节 included)."""
    return generate_quiz(plan[0], n=200, seed=11, types="cloze,choice,multi,judge,source")


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
        source = fullwidth(texts[it.doc_id][it.span[0]:it.span[1]])
        assert source == it.explanation
        sec = next(s for s in sections if (s.chapter, s.section) == (it.chapter, it.section))
        assert any(a <= it.span[0] and it.span[1] <= b for a, b in sec.parts)
        assert it.citation == f"「{sec.label}」"
        if it.kind == "section":
            assert it.answer == sec.section_title
        elif it.type == "multi":
            assert all(c in source for c in it.correct)
        else:
            assert fullwidth(it.fact) in source


def test_items_spread_over_chapters_types_and_unique_stems(quiz200):
    assert len({it.stem for it in quiz200}) == len(quiz200)
    assert len({it.id for it in quiz200}) == len(quiz200)
    assert {it.type for it in quiz200} == {"cloze", "choice", "multi", "judge", "source"}
    assert len({it.chapter for it in quiz200}) >= 14
    assert 0 not in {it.chapter for it in quiz200}  # never the issuing notice
    kinds = {it.kind.split(":")[0] for it in quiz200}
    assert {"num", "quote", "place", "suffix", "section"} <= kinds
    per_section = Counter((it.chapter, it.section) for it in quiz200)
    assert max(per_section.values()) <= 6


def test_stems_are_short_full_width_clauses_and_answers_recallable(quiz200):
    for it in quiz200:
        assert len(it.stem) <= 100 and it.stem.endswith(("。", "？"))
        assert not re.search(r"[,;:]", it.stem.replace("（　　）", "")), it.stem
        if it.type == "cloze":
            assert len(it.answer) <= 8 or NUMBER.fullmatch(it.answer), it.answer
            assert it.answer not in {"十四五", "2025年", "2035年"}
        if it.type in ("cloze", "choice") and it.kind != "section":
            mark = CLOZE_BLANK if it.type == "cloze" else CHOICE_BLANK
            assert it.stem.count(mark) == 1
            assert it.answer not in it.stem.replace(mark, "")
    clozes = [it for it in quiz200 if it.type == "cloze"]
    assert sum(len(it.stem) <= 60 for it in clozes) >= 0.8 * len(clozes)


def test_blanks_cover_whole_tokens_and_numbers(quiz200):
    for it in quiz200:
        if it.type not in ("cloze", "choice") or it.kind == "section":
            continue
        mark = CLOZE_BLANK if it.type == "cloze" else CHOICE_BLANK
        i = it.stem.index(mark)
        before, after = it.stem[:i], it.stem[i + len(mark):].rstrip("。")
        sentence = it.explanation
        ans = it.answer if it.answer + after[:4] in sentence else f"（{it.answer}）"
        pos = sentence.index(ans + after[:4]) if not before or before[-6:] + ans not in sentence \
            else sentence.index(before[-6:] + ans + after[:4]) + len(before[-6:])
        pos += ans.index(it.answer)
        assert {pos, pos + len(it.answer)} <= token_boundaries(sentence)
        if it.kind.startswith(("num", "year", "range")):
            assert not (pos and (sentence[pos - 1].isdigit() or sentence[pos - 1] == "."))
            end = pos + len(it.answer)
            assert not (end < len(sentence) and sentence[end].isdigit())


def test_choice_distractors_are_same_kind_unique_and_wrong(plan, quiz200, pools):
    sections = plan[0]
    choices = [it for it in quiz200 if it.type in ("choice", "source")]
    assert len(choices) >= 50
    for it in choices:
        assert len(it.options) == 4 and len(set(it.options)) == 4
        assert it.options.count(it.answer) == 1
        for opt in it.options:
            if opt == it.answer:
                continue
            if it.kind == "section":  # neighbouring sections of the same chapter
                assert opt in {s.section_title for s in sections if s.chapter == it.chapter}
            elif it.kind.startswith(("num", "year", "range")):
                m, a = NUMBER.fullmatch(opt), NUMBER.fullmatch(it.answer)
                assert m and m.group(4) == a.group(4), (opt, it.answer)  # same unit
                assert float(m.group(1)) != float(a.group(1))
            elif it.kind.startswith("quote"):
                assert shape(opt) == shape(it.answer), (opt, it.answer)
                assert opt in pools[it.kind] or opt not in plan[2]  # plan term or a numeral variant
            else:
                assert opt in pools[it.kind], (opt, it.kind)
            if it.kind != "section":
                assert not in_sentence(it.stem.replace(CHOICE_BLANK, opt), it.explanation)


def test_multi_items_come_from_lists_with_same_kind_distractors(plan, quiz200):
    multis = [it for it in quiz200 if it.type == "multi"]
    assert len(multis) >= 25
    for it in multis:
        members = it.fact.split("、")
        assert 2 <= len(it.correct) <= 3 and set(it.correct) <= set(members)
        assert set(it.letters) <= set("ABCD") and len(it.letters) == len(it.correct)
        wrong = [o for o in it.options if o not in it.correct]
        assert len(wrong) == 4 - len(it.correct)
        sec = next(s for s in plan[0] if (s.chapter, s.section) == (it.chapter, it.section))
        for w in wrong:
            assert w not in sec.text  # never something the section itself lists
            if it.kind.startswith("suffix"):
                tail = it.kind.split(":")[1]
                assert w.endswith(tail) and len(w) == len(members[0])
            else:
                assert w in _PLACES and _PLACES[w] == it.kind


def test_judge_items_are_balanced_and_false_ones_say_what_changed(plan, quiz200):
    plan_text = plan[2]
    judges = [it for it in quiz200 if it.type == "judge"]
    true = sum(it.answer == "正确" for it in judges)
    assert 0.4 <= true / len(judges) <= 0.6
    for it in judges:
        assert it.options == JUDGE_OPTIONS
        if it.answer == "正确":
            assert in_sentence(it.stem, it.explanation) and not it.change
            continue
        m = re.fullmatch(r"原文为“(.+)”，题干改为“(.+)”", it.change)
        assert m and m.group(1) == it.fact and m.group(2) in it.stem and m.group(1) != m.group(2)
        assert not in_sentence(it.stem, it.explanation)
        assert in_sentence(it.stem.replace(m.group(2), m.group(1), 1), it.explanation)
        old, new = m.groups()
        if it.kind.startswith(("num", "range")):  # same unit, same precision, plausible scale
            a, b = NUMBER.fullmatch(old), NUMBER.fullmatch(new)
            assert a.group(4) == b.group(4) and ("." in a.group(1)) == ("." in b.group(1))
            assert 1 / 3.5 <= float(b.group(1)) / float(a.group(1)) <= 3.5
        elif it.kind.startswith(("place", "org")):
            assert _PLACES[new] == _PLACES[old]
        else:  # a numeral variant the plan never uses, or a slogan of the same section
            sec = next(s for s in plan[0] if (s.chapter, s.section) == (it.chapter, it.section))
            assert len(new) == len(old) and (new not in plan_text or f"“{new}”" in sec.text)


def test_difficulty_chooses_items_and_mixed_blends(plan):
    sections = plan[0]
    easy = generate_quiz(sections, n=40, seed=3, difficulty="easy")
    hard = generate_quiz(sections, n=40, seed=3, difficulty="hard")
    assert sum(it.difficulty == "easy" for it in easy) >= 30
    assert sum(it.difficulty == "hard" for it in hard) >= 30
    assert len({it.span for it in easy} & {it.span for it in hard}) <= 8
    mixed = Counter(it.difficulty for it in generate_quiz(sections, n=40, seed=3))
    assert all(mixed[lv] >= 8 for lv in ("easy", "medium", "hard")), mixed


def test_source_items_are_optional_and_capped(plan):
    default = generate_quiz(plan[0], n=40, seed=8)
    assert "source" not in {it.type for it in default}
    asked = generate_quiz(plan[0], n=40, seed=8, types="choice,source")
    assert 1 <= sum(it.type == "source" for it in asked) <= 4


def test_series_of_daily_quizzes_do_not_repeat_sentences(plan):
    seen: Counter = Counter()
    for seed in range(10):
        seen.update({it.span for it in generate_quiz(plan[0], n=20, seed=100 + seed)})
    assert max(seen.values()) <= 5  # no sentence in more than half of the days (was 18 of 20)


def test_exclude_and_stable_ids(plan):
    a = generate_quiz(plan[0], n=30, seed=21)
    b = generate_quiz(plan[0], n=30, seed=22, exclude=[it.to_json() for it in a])
    assert not {it.span for it in a} & {it.span for it in b}
    again = generate_quiz(plan[0], n=30, seed=21)
    assert [it.id for it in again] == [it.id for it in a]
    other = generate_quiz(plan[0], n=60, seed=21)
    same = {it.stem: it.id for it in other}
    assert all(same[it.stem] == it.id for it in a if it.stem in same)  # id = content, not position


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
    narrowed = generate_quiz(sections, n=10, seed=1, section_keys=["2.1", (2, 3)])
    assert {(it.chapter, it.section) for it in narrowed} == {(2, 1), (2, 3)}
    # a section key narrows its own chapter; other chosen chapters stay whole
    mixed = generate_quiz(sections, n=20, seed=1, chapters=[2, 3], section_keys=["2.1"])
    assert {it.section for it in mixed if it.chapter == 2} == {1}
    assert any(it.chapter == 3 for it in mixed)
    one = generate_quiz(sections, n=10, seed=2, types=["cloze"])
    assert {it.type for it in one} == {"cloze"} and all(it.options == () for it in one)


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
