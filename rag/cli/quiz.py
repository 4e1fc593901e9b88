"""``python -m rag quiz``: generate a quiz, print it (md/json) or write it to --out."""

from __future__ import annotations

import sys

from rag.corpus import load_corpus
from rag.quiz import (FORMATS, QUIZ_TYPES, TYPE_NAMES, QuizError, export_quiz, generate_quiz,
                      render)


def _int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(x) for x in text.replace("，", ",").split(",") if x.strip()]
    except ValueError:
        raise QuizError(f"{what} 应为逗号分隔的整数，如 2,3；收到「{text}」") from None


def run_cli(args, settings) -> int:
    """``python -m rag quiz``: generate, then print (md/json) or write --out."""
    if args.format not in FORMATS:
        raise QuizError(f"未知格式：{args.format}；可选 {', '.join(FORMATS)}")
    if args.format in ("csv", "docx") and not args.out:
        raise QuizError(f"{args.format} 格式需要用 --out 指定输出文件")
    corpus = load_corpus(settings.corpus_dir)
    sections_arg = None
    if args.sections:
        sections_arg = [k for k in args.sections.replace("，", ",").split(",") if k.strip()]
    items = generate_quiz(corpus.sections, n=args.n, types=args.types, seed=args.seed,
                          difficulty=args.difficulty, chapters=_int_list(args.chapters, "--chapters"),
                          section_keys=sections_arg)
    if args.out:
        path = export_quiz(items, args.format, args.out)
        counts = {TYPE_NAMES[t]: sum(i.type == t for i in items) for t in QUIZ_TYPES}
        print(f"已生成 {len(items)} 道题（" + "，".join(f"{k} {v}" for k, v in counts.items() if v)
              + f"）：{path}", file=sys.stderr)
    else:
        sys.stdout.write(render(items, args.format))
    return 0
