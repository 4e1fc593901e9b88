"""Quiz builder: grounded 填空 (cloze), 单选 (choice) and 判断 (judge) items from the plan's sections.

Modules: facts (testable facts in sentences), distractors (wrong options from the plan),
generate (QuizItem, select_sections, generate_quiz), grading (check_item, is_correct, grade),
export (md/csv/json/docx). This package re-exports their public names.

Not handled here: the ``quiz`` CLI (rag/cli/quiz.py), the app tab (rag/ui), and LLM-written
questions (not implemented).
"""

from rag.quiz.export import (FORMATS, LETTERS, TITLE, answer_text, export_quiz, render,
                             to_csv, to_json, to_markdown)
from rag.quiz.facts import (NUMBER, Fact, Sentence, analyse_sections, find_facts,
                            section_sentences, token_boundaries)
from rag.quiz.generate import (CHOICE_BLANK, CLOZE_BLANK, DIFFICULTIES, JUDGE_OPTIONS, MAX_ITEMS,
                               QUIZ_TYPES, TYPE_NAMES, QuizError, QuizItem, generate_quiz,
                               select_sections)
from rag.quiz.grading import check_item, grade, is_correct

__all__ = [
    "CHOICE_BLANK", "CLOZE_BLANK", "DIFFICULTIES", "FORMATS", "JUDGE_OPTIONS", "LETTERS",
    "MAX_ITEMS", "NUMBER", "QUIZ_TYPES", "TITLE", "TYPE_NAMES", "Fact", "QuizError", "QuizItem",
    "Sentence", "analyse_sections", "answer_text", "check_item", "export_quiz", "find_facts",
    "generate_quiz", "grade", "is_correct", "render", "section_sentences", "select_sections",
    "to_csv", "to_json", "to_markdown", "token_boundaries",
]
