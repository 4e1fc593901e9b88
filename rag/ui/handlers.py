"""The app's event handlers (chat, ask, feedback, export, browse and 在规划中查看, quiz,
practice): plain values in, plain values (or gr.update) out, so tests call them without a
browser; plus the chapter filter parser.

The chat session (a gr.State, copied to browser storage after each turn) holds ``history`` (plain text for the
pipeline), ``display`` (the chat's HTML) and ``turns`` (one record per answer: question,
standalone question, answer, citations, answerer, build id, the chat message index). A rating
sends that record to rag.feedback; nothing about a question is stored server-side otherwise.

Not handled here: the Blocks layout (rag.ui.layout), HTML (rag.ui.render, rag.ui.answer_view),
ranking, prompts, follow-up rewriting, quiz generation and grading (rag.answering, rag.quiz).
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
from rag.feedback import FeedbackStore
from rag.ui.answer_view import action_href, body_text, goto_value, render_answer
from rag.ui.backend import STAGES, Backend, user_error
from rag.ui.export import to_markdown, write_docx
from rag.ui.render import (esc, practice_result_html, quiz_preview_html, section_page_html,
                           streaming_html, toc_html, warning_html)
from rag.ui.suggest import suggest_followups

import gradio as gr  # noqa: E402  (after rag.config so the analytics switch is honoured)

log = logging.getLogger("rag.app")

ALL = "all"
TOC = "toc"
EMPTY_HINT = "请先输入问题，例如：到2025年高新技术企业要达到多少家？"
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
    raise user_error(f"无法识别的章节筛选：{text[:40]}（应为“全部”或章号）")


def _session_hash(request) -> str | None:
    """Gradio's per-page session id, when the call came through Gradio (tests call directly)."""
    return getattr(request, "session_hash", None) if request is not None else None


def new_session(session) -> dict:
    """The browser-kept session with every key present (older or empty values tolerated)."""
    session = session if isinstance(session, dict) else {}
    return {k: list(session.get(k) or []) for k in ("history", "display", "turns")}


class App:
    """Event handlers; each takes plain values and returns plain values (tests call them)."""

    def __init__(self, settings: Settings, backend: Backend | None = None):
        self.settings = settings
        self.backend = (backend or Backend(settings)).start()
        self.export_root = Path(tempfile.mkdtemp(prefix="guihua-app-", dir=tempfile.gettempdir()))
        atexit.register(shutil.rmtree, self.export_root, True)
        self.feedback = FeedbackStore(settings)

    # ---- chat

    def chat(self, message: str, chapter, session: dict, document=ALL,
             request: gr.Request = None):
        """Streaming chat turn: yields (chat messages, session, textbox value)."""
        question = (message or "").strip()
        session = new_session(session)
        if not question:  # a hint in the input, not an error badge over the chat
            yield session["display"], session, gr.update(value="", placeholder=EMPTY_HINT)
            return
        with self.backend.metrics.request("chat", question, _session_hash(request)) as req:
            yield from self._chat(question, chapter, session, document, req)

    def _chat(self, question: str, chapter, session: dict, document, req):
        pipeline = self.backend.wait()  # this request stays on this build, even across a switch
        history = list(session["history"])[-2 * HISTORY_TURNS:]
        display = [*session["display"], {"role": "user", "content": esc(question)},
                   {"role": "assistant", "content": "……"}]
        yield display, session, ""
        text, answer, failure = "", None, None
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
            req.failed()
            display[-1] = {"role": "assistant",
                           "content": warning_html(failure or "没有得到回答，请重试。")}
            yield display, session, ""
            return
        index = pipeline.index
        req.answered(answer, index.manifest.build_id)
        display[-1] = {"role": "assistant",
                       "content": render_answer(answer, index, suggest_followups(answer, index))}
        session = {"history": [*session["history"], {"role": "user", "content": question},
                               {"role": "assistant", "content": answer.text}],
                   "display": display,
                   "turns": [*session["turns"],
                             self._turn(answer, question, len(display) - 1, index)]}
        yield display, session, ""

    def _turn(self, answer, question: str, msg: int, index=None) -> dict:
        """The record of one answer kept in the browser (for rating and export)."""
        return {"question": question, "standalone": answer.standalone,
                "answer": body_text(answer.text, getattr(answer, "direct", None)),
                "direct": getattr(answer, "direct", None),
                "refused": answer.refused, "answerer": answer.answerer,
                "citations": [{**c.to_json(), "label": c.label} for c in answer.citations],
                "build_id": (index or self.backend.index).manifest.build_id, "msg": msg}

    # ---- keeping the conversation: restore, rate, comment, export

    def restore(self, saved):
        """Page load: the conversation kept in the browser; returns (chat, session)."""
        session = new_session(saved)
        return session["display"], session

    def rate(self, session, like: gr.LikeData):
        """👍/👎 on an answer: store its record; returns (feedback id, comment row, comment)."""
        index = like.index[0] if isinstance(like.index, (list, tuple)) else like.index
        turn = next((t for t in new_session(session)["turns"] if t.get("msg") == index), None)
        if turn is None or like.liked not in (True, False):
            return None, gr.update(visible=False), ""
        verdict = "up" if like.liked else "down"
        try:
            row = self.feedback.add(verdict=verdict, question=turn["question"],
                                    standalone=turn.get("standalone") or "",
                                    answer="\n".join(x for x in (turn.get("direct"), turn["answer"]) if x),
                                    citations=turn.get("citations") or [],
                                    refused=bool(turn.get("refused")),
                                    answerer=turn.get("answerer") or "",
                                    build_id=turn.get("build_id") or "")
        except RagError as exc:
            raise user_error(str(exc)) from None
        log.info("feedback verdict=%s id=%s", verdict, row)
        gr.Info("已记录评价，谢谢！可以在下方补充说明。", title="提示")
        return row, gr.update(visible=True), ""

    def comment(self, row_id, text: str):
        """The optional comment on the last rating; returns (feedback id, comment row, comment)."""
        if row_id is not None and (text or "").strip():
            try:
                self.feedback.set_comment(row_id, text)
            except RagError as exc:
                raise user_error(str(exc)) from None
            gr.Info("说明已记录，谢谢！", title="提示")
        return None, gr.update(visible=False), ""

    def rate_answer(self, question: str, answer: dict, verdict: str, comment: str = "") -> dict:
        """API rating (/feedback): ``answer`` is what /ask returned for ``question``; verdict
        up|down, optional comment; returns {"id": the stored row's id}."""
        answer = answer if isinstance(answer, dict) else {}
        try:
            row = self.feedback.add(verdict=verdict, question=question or "",
                                    standalone=str(answer.get("standalone") or ""),
                                    answer=str(answer.get("answer") or ""),
                                    citations=[c for c in answer.get("citations") or [] if isinstance(c, dict)],
                                    refused=bool(answer.get("refused")),
                                    answerer=str(answer.get("answerer") or ""),
                                    build_id=self.backend.index.manifest.build_id,
                                    comment=(comment or "").strip()[:2000])
        except RagError as exc:
            raise user_error(str(exc)) from None
        log.info("feedback verdict=%s id=%s (api)", verdict, row)
        return {"id": row}

    def export_chat(self, session) -> list[str]:
        """「导出」: the conversation as Markdown and Word; returns the two file paths."""
        turns = new_session(session)["turns"]
        if not turns:
            raise user_error("还没有可导出的问答：请先提问。")
        out = self.export_root / uuid.uuid4().hex  # one folder per request: no cross-session clash
        out.mkdir()
        md = out / "规划问答记录.md"
        md.write_text(to_markdown(turns), encoding="utf-8")
        return [str(md), str(write_docx(turns, out / "规划问答记录.docx"))]

    def ask(self, question: str, chapter: str = "全部", history: list | None = None,
            document: str = "全部", request: gr.Request = None) -> dict:
        """Answer one question (JSON): answer, refused, answerer, citations, notice, standalone, history."""
        question = (question or "").strip()
        if not question:
            raise user_error("请输入问题。")
        with self.backend.metrics.request("ask", question, _session_hash(request)) as req:
            pipeline = self.backend.wait()
            hist = [m for m in (history or []) if isinstance(m, dict) and m.get("role") in (
                "user", "assistant") and isinstance(m.get("content"), str)]
            try:
                answer = pipeline.ask(question, history=hist[-2 * HISTORY_TURNS:] or None,
                                      chapter=parse_chapter(chapter),
                                      doc_id=parse_document(document))
            except RagError as exc:
                raise user_error(str(exc)) from None
            req.answered(answer, pipeline.index.manifest.build_id)
        out = answer.to_json()
        out["standalone"] = answer.standalone
        out["history"] = [*hist, {"role": "user", "content": question},
                          {"role": "assistant", "content": answer.text}]
        return out

    # ---- startup and browsing

    def startup(self, progress=gr.Progress()):
        """Page load: report build progress until ready, then fill the pickers and show the
        table of contents in 浏览规划."""
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
        sec_update, text = self.browse_chapter(TOC)
        docs = self.backend.index.manifest.documents
        yield (self.backend.status(), gr.update(choices=filt, value=ALL),
               gr.update(choices=[("目录", TOC)] + pick, value=TOC), sec_update,
               gr.update(choices=pick, value=[]), text,
               gr.update(choices=documents_of(docs), value=ALL, visible=len(docs) > 1))

    def _sections(self, chapter: int | None = None) -> list[Section]:
        self.backend.wait()
        return [s for s in self.backend.index.sections if chapter is None or s.chapter == chapter]

    def _doc(self, doc_id: str) -> dict | None:
        return next((d for d in self.backend.index.manifest.documents if d.get("id") == doc_id),
                    None)

    def browse_chapter(self, chapter):
        """Chapter picked: list its sections and show the first ('toc': the table of contents)."""
        if chapter == TOC:
            href = lambda s: action_href("goto", goto_value(s.doc_id, s.chapter, s.section))  # noqa: E731
            return gr.update(choices=[], value=None), toc_html(self._sections(), href)
        ch = parse_chapter(chapter)
        secs = self._sections(ch) if ch is not None else []
        choices = [(s.label if s.section or not s.chapter else "章首（本章导语）",
                    f"{s.chapter}.{s.section}")
                   for s in secs]
        first = choices[0][1] if choices else None
        return gr.update(choices=choices, value=first), self.browse_section(first)

    def browse_section(self, key, span=None) -> str:
        """Section picked ('章.节'): its heading and full text, escaped; ``span`` highlighted."""
        if not key:
            return ""
        try:
            ch, sec = (int(x) for x in str(key).split("."))
        except ValueError:
            raise user_error("无效的章节编号") from None
        for s in self._sections(ch):
            if s.section == sec:
                marks = [(span, s.slice(*span))] if span else []
                return section_page_html(s, marks, self._doc(s.doc_id))
        raise user_error("该章节不存在")

    def goto(self, value: str):
        """「在规划中查看」 / a TOC link ('doc|章|节|start|end'): open 浏览规划 at that section
        with the quote highlighted; returns (tabs, chapter picker, section picker, page)."""
        try:
            _doc, ch, sec, a, b = str(value).split("|")
            ch, sec = int(ch), int(sec)
            span = (int(a), int(b)) if a and b else None
        except ValueError:
            raise user_error("无效的章节链接") from None
        sec_update, _ = self.browse_chapter(str(ch))
        key = f"{ch}.{sec}"
        return (gr.Tabs(selected="browse"), gr.update(value=str(ch)),
                gr.update(choices=sec_update["choices"], value=key), self.browse_section(key, span))

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
            raise user_error("请至少选择一种题型。")
        try:
            n, seed = int(n), int(seed or 0)
            chapters = [int(c) for c in chapters] if chapters else None
        except (TypeError, ValueError):
            raise user_error("题数、随机种子和章号须为整数。") from None
        try:
            items = generate_quiz(self._sections(), n=n, types=tuple(types), seed=seed,
                                  difficulty=difficulty or "mixed", chapters=chapters,
                                  section_keys=list(sections) if sections else None)
        except RagError as exc:
            raise user_error(str(exc)) from None
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
            raise user_error("请先生成题目。")
        given = {it.id: (list(a) if isinstance(a, (list, tuple)) else (a or "").strip())
                 for it, a in zip(items, answers)}
        score, results = grade(items, given, partial=partial)
        shown = {k: "、".join(v) if isinstance(v, list) else v for k, v in given.items()}
        return practice_result_html(items, shown, score, results)

    def submit_practice(self, items, pending, partial, *answers):
        """交卷: warn once about unanswered items, grade on the next click; (HTML, pending state)."""
        from rag.quiz import unanswered

        if not items:
            raise user_error("请先生成题目。")
        blank = unanswered(items, {it.id: a for it, a in zip(items, answers)})
        mark = ",".join(map(str, blank))
        if blank and mark != pending:
            nums = "、".join(map(str, blank[:20])) + ("…" if len(blank) > 20 else "")
            return (warning_html(f"还有 {len(blank)} 题未作答（第 {nums} 题）。"
                                 "未作答的题按错误计分；确认交卷请再次点击「交卷评分」。"), mark)
        return self.grade_practice(items, *answers, partial=bool(partial)), ""
