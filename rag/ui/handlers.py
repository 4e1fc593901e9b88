"""The app's event handlers (chat, ask, browse, quiz, practice): plain values in, plain values
(or gr.update) out, so tests call them without a browser; plus the chapter filter parser.

Not handled here: the Blocks layout (rag.ui.layout), HTML (rag.ui.render), ranking, prompts,
follow-up rewriting, quiz generation and grading (rag.answering, rag.quiz).
"""

from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import time
import uuid
from pathlib import Path

from rag.config import Settings  # sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported
from rag.corpus import Section, chapter_label, cn_to_int
from rag.errors import RagError
from rag.ui.backend import STAGES, Backend
from rag.ui.render import (esc, practice_result_html, quiz_preview_html, render_answer,
                           section_page_html, streaming_html, warning_html)

import gradio as gr  # noqa: E402  (after rag.config so the analytics switch is honoured)

log = logging.getLogger("rag.app")

ALL = "all"
HISTORY_TURNS = 6  # user/assistant pairs passed to the pipeline; older turns are not needed
EXPORT_FORMATS = ("md", "csv", "json", "docx", "txt")


def chapters_of(sections: list[Section]) -> list[tuple[int, str]]:
    """``[(chapter number, chapter label)]`` in document order, each once."""
    seen: dict[int, str] = {}
    for s in sections:
        seen.setdefault(s.chapter, chapter_label(s.chapter, s.chapter_title))
    return list(seen.items())


def parse_document(value) -> str | None:
    """Document filter from the UI or API: None/''/'all'/'全部' → None (every document)."""
    text = "" if value is None else str(value).strip()
    return None if text in ("", ALL, "全部", "全部文档") else text


def documents_of(documents: list[dict]) -> list[tuple[str, str]]:
    """The document picker's choices: 「全部文档」 then each document of the index manifest."""
    return [("全部文档", ALL)] + [(d.get("title") or d["id"], d["id"]) for d in documents]


def parse_chapter(value) -> int | None:
    """Chapter filter from the UI or API: None/''/'all'/'全部' → None; '2', 2 or '第二章…' → 2."""
    if value is None or (isinstance(value, str) and value.strip() in ("", ALL, "全部")):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.isdigit():
        return int(text)
    if text.startswith("第") and "章" in text:
        try:
            return cn_to_int(text[1:text.index("章")])
        except (ValueError, KeyError):
            pass
    raise gr.Error(f"无法识别的章节筛选：{text[:40]}（应为“全部”或章号）")


class App:
    """Event handlers; each takes plain values and returns plain values (tests call them)."""

    def __init__(self, settings: Settings, backend: Backend | None = None):
        self.settings = settings
        self.backend = (backend or Backend(settings)).start()
        self.export_root = Path(tempfile.mkdtemp(prefix="guihua-app-", dir=tempfile.gettempdir()))
        atexit.register(shutil.rmtree, self.export_root, True)

    # ---- chat

    def _log(self, what: str, question: str, t0: float, **extra) -> None:
        q = f" q={question!r}" if self.settings.log_questions else ""
        info = " ".join(f"{k}={v}" for k, v in extra.items())
        log.info("%s chars=%d ms=%.0f %s%s", what, len(question), (time.perf_counter() - t0) * 1000,
                 info, q)

    def chat(self, message: str, chapter, session: dict, document=ALL):
        """Streaming chat turn: yields (chat messages, session, textbox value)."""
        question = (message or "").strip()
        if not question:
            raise gr.Error("请输入问题。")
        pipeline = self.backend.wait()
        session = session or {"history": [], "display": []}
        history = list(session["history"])[-2 * HISTORY_TURNS:]
        display = [*session["display"], {"role": "user", "content": esc(question)},
                   {"role": "assistant", "content": "……"}]
        yield display, session, ""
        t0, text, answer, failure = time.perf_counter(), "", None, None
        try:
            for part in pipeline.stream(question, history=history or None,
                                        chapter=parse_chapter(chapter),
                                        doc_id=parse_document(document)):
                if isinstance(part, str):
                    text += part
                    display[-1] = {"role": "assistant", "content": streaming_html(text)}
                    yield display, session, ""
                else:
                    answer = part
        except gr.Error:
            raise
        except RagError as exc:
            failure = str(exc)
        except Exception as exc:  # never a traceback in the chat
            log.exception("chat failed (%s)", type(exc).__name__)
            failure = "处理问题时出错，请稍后重试或换个问法。"
        if failure or answer is None:
            display[-1] = {"role": "assistant",
                           "content": warning_html(failure or "没有得到回答，请重试。")}
            yield display, session, ""
            return
        self._log("chat", question, t0, refused=answer.refused, citations=len(answer.citations))
        display[-1] = {"role": "assistant", "content": render_answer(answer, self.backend.index)}
        session = {"history": [*session["history"], {"role": "user", "content": question},
                               {"role": "assistant", "content": answer.text}],
                   "display": display}
        yield display, session, ""

    def ask(self, question: str, chapter: str = "全部", history: list | None = None,
            document: str = "全部") -> dict:
        """Answer one question (JSON): answer, refused, answerer, citations, notice, standalone, history."""
        question = (question or "").strip()
        if not question:
            raise gr.Error("请输入问题。")
        pipeline = self.backend.wait()
        hist = [m for m in (history or []) if isinstance(m, dict)
                and m.get("role") in ("user", "assistant") and isinstance(m.get("content"), str)]
        t0 = time.perf_counter()
        try:
            answer = pipeline.ask(question, history=hist[-2 * HISTORY_TURNS:] or None,
                                  chapter=parse_chapter(chapter), doc_id=parse_document(document))
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        self._log("ask", question, t0, refused=answer.refused)
        out = answer.to_json()
        out["standalone"] = answer.standalone
        out["history"] = [*hist, {"role": "user", "content": question},
                          {"role": "assistant", "content": answer.text}]
        return out

    # ---- startup and browsing

    def startup(self, progress=gr.Progress()):
        """Page load: report build progress until ready, then fill the chapter pickers."""
        while not self.backend.ready:
            progress(self.backend.fraction, desc=STAGES.get(self.backend.stage, ""))
            yield (self.backend.status(),) + (gr.update(),) * 5
            time.sleep(0.5)
        if self.backend.error:
            yield (self.backend.status(),) + (gr.update(),) * 5
            return
        chapters = chapters_of(self.backend.index.sections)
        filt = [("全部章节", ALL)] + [(label, str(ch)) for ch, label in chapters]
        pick = [(label, str(ch)) for ch, label in chapters]
        first = pick[0][1] if pick else None
        sec_update, text = self.browse_chapter(first)
        docs = self.backend.index.manifest.documents
        yield (self.backend.status(), gr.update(choices=filt, value=ALL),
               gr.update(choices=pick, value=first), sec_update,
               gr.update(choices=pick, value=[]),
               gr.update(choices=documents_of(docs), value=ALL, visible=len(docs) > 1))

    def _sections(self, chapter: int | None = None) -> list[Section]:
        self.backend.wait()
        return [s for s in self.backend.index.sections if chapter is None or s.chapter == chapter]

    def browse_chapter(self, chapter):
        """Chapter picked: list its sections and select the first."""
        ch = parse_chapter(chapter)
        secs = self._sections(ch) if ch is not None else []
        choices = [(s.label if s.section or not s.chapter else "章首（本章导语）",
                    f"{s.chapter}.{s.section}")
                   for s in secs]
        first = choices[0][1] if choices else None
        return gr.update(choices=choices, value=first), self.browse_section(first)

    def browse_section(self, key) -> str:
        """Section picked ('章.节'): its heading and full text, escaped."""
        if not key:
            return ""
        try:
            ch, sec = (int(x) for x in str(key).split("."))
        except ValueError:
            raise gr.Error("无效的章节编号") from None
        for s in self._sections(ch):
            if s.section == sec:
                return section_page_html(s)
        raise gr.Error("该章节不存在")

    # ---- quiz

    def quiz_sections(self, chapters) -> dict:
        """Chapters ticked: offer their numbered sections for a finer selection."""
        chs = {int(c) for c in chapters or [] if str(c).isdigit()}
        choices = [(s.label, f"{s.chapter}.{s.section}") for s in self._sections()
                   if s.chapter in chs and s.section > 0]
        return gr.update(choices=choices, value=[])

    def make_quiz(self, chapters, sections, n, types, difficulty, seed):
        """Generate a quiz; returns (items, preview HTML, one download path per export format)."""
        from datetime import date

        from rag.quiz import QuizMeta, export_quiz, generate_quiz, scope_text

        if not types:
            raise gr.Error("请至少选择一种题型。")
        try:
            n, seed = int(n), int(seed or 0)
            chapters = [int(c) for c in chapters] if chapters else None
        except (TypeError, ValueError):
            raise gr.Error("题数、随机种子和章号须为整数。") from None
        try:
            items = generate_quiz(self._sections(), n=n, types=tuple(types), seed=seed,
                                  difficulty=difficulty or "mixed", chapters=chapters,
                                  section_keys=list(sections) if sections else None)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        out = self.export_root / uuid.uuid4().hex  # one folder per request: no cross-session clash
        out.mkdir()
        meta = QuizMeta(scope=scope_text(chapters, sections), seed=seed,
                        date=date.today().isoformat(), difficulty=difficulty or "mixed")
        paths = [str(export_quiz(items, fmt, out / f"quiz-seed{seed}.{fmt}", meta))
                 for fmt in EXPORT_FORMATS]
        return (items, quiz_preview_html(items),
                *[gr.update(value=p, interactive=True) for p in paths])

    def grade_practice(self, items, *answers, partial: bool = False) -> str:
        """Practice mode: grade the trainee's answers; score plus explanation and source per item."""
        from rag.quiz import grade

        if not items:
            raise gr.Error("请先生成题目。")
        given = {it.id: (list(a) if isinstance(a, (list, tuple)) else (a or "").strip())
                 for it, a in zip(items, answers)}
        score, results = grade(items, given, partial=partial)
        shown = {k: "、".join(v) if isinstance(v, list) else v for k, v in given.items()}
        return practice_result_html(items, shown, score, results)

    def submit_practice(self, items, pending, partial, *answers):
        """交卷: warn once about unanswered items, grade on the next click; (HTML, pending state)."""
        from rag.quiz import unanswered

        if not items:
            raise gr.Error("请先生成题目。")
        blank = unanswered(items, {it.id: a for it, a in zip(items, answers)})
        mark = ",".join(map(str, blank))
        if blank and mark != pending:
            nums = "、".join(map(str, blank[:20])) + ("…" if len(blank) > 20 else "")
            return (warning_html(f"还有 {len(blank)} 题未作答（第 {nums} 题）。"
                                 "未作答的题按错误计分；确认交卷请再次点击「交卷评分」。"), mark)
        return self.grade_practice(items, *answers, partial=bool(partial)), ""
