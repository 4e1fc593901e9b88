"""Quiz builder: grounded 填空, 单选, 多选, 判断 (and optional 出自哪一节) items from the plan.

Modules: facts (testable facts in sentences), text (stems: clauses, full-width punctuation,
enumerations), rules (what may be asked, levels, 判断 swaps), distractors (wrong options from
the plan), items (QuizItem and builders), generate (selection: generate_quiz, select_sections),
bank (excluding items handed out, coverage report), grading (check_item, is_correct, grade),
export (md/csv/json/txt) and docx (Word). This package re-exports their public names.

Not handled here: the ``quiz`` CLI (rag/cli/quiz.py), the app tab (rag/ui), and LLM-written
questions (not implemented).
"""

from rag.quiz.bank import coverage_report, load_bank
from rag.quiz.export import (FORMATS, LETTERS, TITLE, QuizMeta, answer_text, export_quiz, render,
                             scope_text, to_csv, to_json, to_markdown, to_survey_text)
from rag.quiz.facts import (NUMBER, Fact, Sentence, analyse_sections, find_facts,
                            section_sentences, token_boundaries)
from rag.quiz.generate import (CHOICE_BLANK, CLOZE_BLANK, DEFAULT_TYPES, DIFFICULTIES,
                               JUDGE_OPTIONS, MAX_ITEMS, QUIZ_TYPES, TYPE_NAMES, QuizError,
                               QuizItem, generate_quiz, parse_types, select_sections)
from rag.quiz.grading import check_item, grade, is_correct, unanswered

__all__ = [
    "CHOICE_BLANK", "CLOZE_BLANK", "DEFAULT_TYPES", "DIFFICULTIES", "FORMATS", "JUDGE_OPTIONS",
    "LETTERS", "MAX_ITEMS", "NUMBER", "QUIZ_TYPES", "TITLE", "TYPE_NAMES", "Fact", "QuizError",
    "QuizItem", "QuizMeta", "Sentence", "analyse_sections", "answer_text", "check_item",
    "coverage_report", "export_quiz", "find_facts", "generate_quiz", "grade", "is_correct",
    "load_bank", "parse_types", "render", "scope_text", "section_sentences", "select_sections",
    "to_csv", "to_json", "to_markdown", "to_survey_text", "token_boundaries", "unanswered",
]
