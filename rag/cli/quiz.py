"""``python -m rag quiz``: generate a quiz, print it (md/json/txt) or write it to --out, skipping
items of a question bank (--exclude) and writing a coverage report (--coverage)."""

from __future__ import annotations

import sys
from datetime import date

from rag.corpus import load_corpus
from rag.quiz import (FORMATS, QUIZ_TYPES, TYPE_NAMES, QuizError, QuizMeta, coverage_report,
                      export_quiz, generate_quiz, load_bank, render, scope_text)


def _int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.replace("，", ",").split(",") if x.strip()]
    except ValueError:
        raise QuizError(f"{what} 应为逗号分隔的整数，如 2,3；收到「{text}」") from None


def run_cli(args, settings) -> int:
    """``python -m rag quiz``: generate, then print (md/json/txt) or write --out."""
    if args.format not in FORMATS:
        raise QuizError(f"未知格式：{args.format}；可选 {', '.join(FORMATS)}")
    if args.format in ("csv", "docx") and not args.out:
        raise QuizError(f"{args.format} 格式需要用 --out 指定输出文件")
    day = args.date or date.today().isoformat()
    try:
        date.fromisoformat(day)
    except ValueError:
        raise QuizError(f"--date 应为 YYYY-MM-DD，收到「{day}」") from None
    corpus = load_corpus(settings.corpus_dir)
    sections_arg = None
    if args.sections:
        sections_arg = [k for k in args.sections.replace("，", ",").split(",") if k.strip()]
    chapters = _int_list(args.chapters, "--chapters")
    bank = load_bank(args.exclude or [])
    items = generate_quiz(corpus.sections, n=args.n, types=args.types, seed=args.seed,
                          difficulty=args.difficulty, chapters=chapters,
                          section_keys=sections_arg, exclude=bank)
    meta = QuizMeta(scope=scope_text(chapters, sections_arg), seed=args.seed, date=day,
                    difficulty=args.difficulty)
    if args.coverage:
        try:
            with open(args.coverage, "w", encoding="utf-8") as fh:
                fh.write(coverage_report(items, corpus.sections, bank))
        except OSError as exc:
            raise QuizError(f"无法写入 {args.coverage}：{exc.strerror}") from None
    if args.out:
        path = export_quiz(items, args.format, args.out, meta)
        counts = {TYPE_NAMES[t]: sum(i.type == t for i in items) for t in QUIZ_TYPES}
        print(f"已生成 {len(items)} 道题（" + "，".join(f"{k} {v}" for k, v in counts.items() if v)
              + f"）：{path}", file=sys.stderr)
    else:
        sys.stdout.write(render(items, args.format, meta))
    return 0
