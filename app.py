"""规划问答 web app (Gradio Blocks): chat with cited answers, browse the plan, build quizzes.

Thin, like the CLI of simonw/llm: build the pipeline from settings, call it, render. The
retrieval, answering and quiz logic live in ``rag/``; rag/render.py turns their records into
HTML (escaping everything from the corpus or a user) and this file wires Gradio events.

Not handled here: ranking, prompts, follow-up rewriting, quiz generation and grading.

Run: ``python app.py [--host H] [--port P] [--answerer NAME] [--data-dir DIR]``.
"""

from __future__ import annotations

import argparse
import atexit
import hmac
import html
import ipaddress
import logging
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from rag.config import Settings, load_settings  # sets GRADIO_ANALYTICS_ENABLED=False first
from rag.corpus import Section, int_to_cn
from rag.errors import ConfigError, RagError
from rag.quiz import TYPE_NAMES
from rag.render import (esc, practice_result_html, quiz_preview_html, render_answer,  # noqa: F401
                        section_html)

import gradio as gr  # noqa: E402  (after rag.config so the analytics switch is honoured)

log = logging.getLogger("rag.app")

EXAMPLES = ("到2025年高新技术企业要达到多少家？", "汾河治理有哪些工程？", "“六新”指的是什么？",
            "那2035年呢？")
ALL = "all"
HISTORY_TURNS = 6  # user/assistant pairs passed to the pipeline; older turns are not needed
STAGES = {"parse": "解析规划原文", "chunk": "切分句子与段落", "embed": "计算向量",
          "chroma": "写入向量库", "bm25": "建立关键词索引", "done": "索引完成",
          "load": "加载检索与回答模型", "warmup": "预热"}
QUIZ_TYPES = [("填空", "cloze"), ("单选", "choice"), ("判断", "judge")]
DIFFICULTIES = [("简单", "easy"), ("中等", "medium"), ("困难", "hard")]
EXPORT_FORMATS = ("md", "csv", "json", "docx")
CSS = """.gradio-container {max-width: 1200px !important; margin: auto;} #app-title h1 {margin-bottom: 0;}
#app-title p {color: var(--body-text-color-subdued); margin-top: 2px;} .sources details {margin: .25em 0;}
.sources {margin-top: .6em; border-top: 1px solid var(--border-color-primary); padding-top: .4em; font-size: .93em;}
.sources summary {cursor: pointer; font-weight: 600;}
.section-text {max-height: 22em; overflow-y: auto; padding: .5em .8em; margin-top: .3em; line-height: 1.7;
  background: var(--background-fill-secondary); border-left: 3px solid var(--color-accent);
  border-radius: 4px; white-space: normal;}
.section-text mark {background: #fde68a; color: #111; padding: 0 1px; border-radius: 2px;}
.notice {color: #b45309;} .answerer-line {font-size: .9em; color: var(--body-text-color-subdued);}
.quiz-item {margin: .8em 0; padding: .6em .9em; border: 1px solid var(--border-color-primary); border-radius: 8px;}
.quiz-ok {color: #15803d; font-weight: 600;} .quiz-bad {color: #b91c1c; font-weight: 600;}
"""


# ------------------------------------------------------------------ backend


class Backend:
    """The process-wide, read-only pipeline; builds the index on first start, in a thread."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stage, self.fraction = "load", 0.0
        self.error: str | None = None
        self.pipeline = None
        self.index = None
        self._ready = threading.Event()
        self._started = False
        self._lock = threading.Lock()

    def start(self) -> "Backend":
        """Start loading (and, without an index, building) in the background; idempotent."""
        with self._lock:
            if not self._started:
                self._started = True
                threading.Thread(target=self._load, name="rag-backend", daemon=True).start()
        return self

    def _on_stage(self, name: str, fraction: float) -> None:
        self.stage, self.fraction = name, fraction

    def _load(self) -> None:
        from rag.store import build_index, current_manifest

        try:
            if current_manifest(self.settings) is None:
                log.info("no index in %s: building it", self.settings.data_dir)
                build_index(self.settings, progress=False, on_stage=self._on_stage)
            self._on_stage("load", 0.96)
            from rag.answering import Pipeline

            pipeline = Pipeline.from_settings(self.settings)
            self._on_stage("warmup", 0.99)
            pipeline.retriever.search("规划", k=1)  # loads the embedder's weights before users wait
            self.pipeline, self.index = pipeline, pipeline.index
        except RagError as exc:
            self.error = str(exc)
        except Exception as exc:  # an unexpected failure still must not leave users waiting
            log.exception("backend failed to load")
            self.error = f"启动失败（{type(exc).__name__}）：请查看服务日志"
        finally:
            self._ready.set()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def status(self) -> str:
        """One Markdown line: build progress, the error, or what is loaded."""
        if not self.ready:
            what = "正在加载" if self.stage in ("load", "warmup") else "首次启动，正在建立索引"
            return (f"【准备中】{what}：{STAGES.get(self.stage, self.stage)}"
                    f"（{self.fraction:.0%}）……完成后即可提问。")
        if self.error:
            return f"⚠ {html.escape(self.error)}"
        m = self.index.manifest
        return (f"<span class='answerer-line'>回答方式：**{html.escape(self.display_name)}**"
                f" · 索引 {m.counts.get('sections', '?')} 节 · 构建于 {html.escape(m.created)}</span>")

    @property
    def display_name(self) -> str:
        return self.pipeline.answerer.display_name if self.pipeline else ""

    def wait(self, timeout: float | None = 900):
        """The loaded pipeline; raises gr.Error while building failed or took too long."""
        self.start()
        if not self._ready.wait(timeout):
            raise gr.Error("索引仍在构建中，请稍后再试。")
        if self.error:
            raise gr.Error(self.error)
        return self.pipeline


# ------------------------------------------------------------------ rendering helpers


def chapters_of(sections: list[Section]) -> list[tuple[int, str]]:
    """``[(chapter number, chapter label)]`` in document order, each once."""
    seen: dict[int, str] = {}
    for s in sections:
        seen.setdefault(s.chapter, s.chapter_title if s.chapter == 0
                        else f"第{int_to_cn(s.chapter)}章 {s.chapter_title}")
    return list(seen.items())


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
        from rag.corpus import cn_to_int

        try:
            return cn_to_int(text[1:text.index("章")])
        except (ValueError, KeyError):
            pass
    raise gr.Error(f"无法识别的章节筛选：{text[:40]}（应为“全部”或章号）")


# ------------------------------------------------------------------ the app


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

    def chat(self, message: str, chapter, session: dict):
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
                                        chapter=parse_chapter(chapter)):
                if isinstance(part, str):
                    text += part
                    display[-1] = {"role": "assistant", "content": esc(text) + " ▌"}
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
            display[-1] = {"role": "assistant", "content": f"⚠ {esc(failure or '没有得到回答，请重试。')}"}
            yield display, session, ""
            return
        self._log("chat", question, t0, refused=answer.refused, citations=len(answer.citations))
        display[-1] = {"role": "assistant", "content": render_answer(answer, self.backend.index)}
        session = {"history": [*session["history"], {"role": "user", "content": question},
                               {"role": "assistant", "content": answer.text}],
                   "display": display}
        yield display, session, ""

    def ask(self, question: str, chapter: str = "全部", history: list | None = None) -> dict:
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
                                  chapter=parse_chapter(chapter))
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
            yield (self.backend.status(),) + (gr.update(),) * 4
            time.sleep(0.5)
        if self.backend.error:
            yield (self.backend.status(),) + (gr.update(),) * 4
            return
        chapters = chapters_of(self.backend.index.sections)
        filt = [("全部章节", ALL)] + [(label, str(ch)) for ch, label in chapters]
        pick = [(label, str(ch)) for ch, label in chapters]
        first = pick[0][1] if pick else None
        sec_update, text = self.browse_chapter(first)
        yield (self.backend.status(), gr.update(choices=filt, value=ALL),
               gr.update(choices=pick, value=first), sec_update,
               gr.update(choices=pick, value=[]))

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
                heading = esc(s.heading_path).replace(" &gt; ", " › ")
                return (f"<h3>{heading}</h3><p class='answerer-line'>引用格式：「{esc(s.label)}」"
                        f"（原文第 {s.line} 行）</p><div class='section-text' style='max-height:none'>"
                        f"{section_html(s)}</div>")
        raise gr.Error("该章节不存在")

    # ---- quiz

    def quiz_sections(self, chapters) -> dict:
        """Chapters ticked: offer their numbered sections for a finer selection."""
        chs = {int(c) for c in chapters or [] if str(c).isdigit()}
        choices = [(s.label, f"{s.chapter}.{s.section}") for s in self._sections()
                   if s.chapter in chs and s.section > 0]
        return gr.update(choices=choices, value=[])

    def make_quiz(self, chapters, sections, n, types, difficulty, seed):
        """Generate a quiz; returns (items, preview HTML, 4 download paths)."""
        from rag.quiz import generate_quiz
        from rag.quiz_export import export_quiz

        if not types:
            raise gr.Error("请至少选择一种题型。")
        try:
            n, seed = int(n), int(seed or 0)
            chapters = [int(c) for c in chapters] if chapters else None
        except (TypeError, ValueError):
            raise gr.Error("题数、随机种子和章号须为整数。") from None
        try:
            items = generate_quiz(self._sections(), n=n, types=tuple(types), seed=seed,
                                  difficulty=difficulty or "medium", chapters=chapters,
                                  section_keys=list(sections) if sections else None)
        except RagError as exc:
            raise gr.Error(str(exc)) from None
        out = self.export_root / uuid.uuid4().hex  # one folder per request: no cross-session clash
        out.mkdir()
        paths = [str(export_quiz(items, fmt, out / f"quiz-seed{seed}.{fmt}"))
                 for fmt in EXPORT_FORMATS]
        return (items, quiz_preview_html(items),
                *[gr.update(value=p, interactive=True) for p in paths])

    def grade_practice(self, items, *answers) -> str:
        """Practice mode: grade the trainee's answers; score plus explanation and source per item."""
        from rag.quiz_export import grade

        if not items:
            raise gr.Error("请先生成题目。")
        given = {it.id: (a or "").strip() for it, a in zip(items, answers)}
        score, results = grade(items, given)
        return practice_result_html(items, given, score, results)


# ------------------------------------------------------------------ layout


def build_app(settings: Settings, backend: Backend | None = None) -> tuple[gr.Blocks, App]:
    """Lay out the Blocks and wire every event (each with an api_name for gradio_client)."""
    app = App(settings, backend)
    with gr.Blocks(title="规划问答 · 山西省“十四五”规划纲要", delete_cache=(3600, 7200)) as demo:
        gr.Markdown("# 规划问答\n山西省国民经济和社会发展第十四个五年规划和2035年远景目标纲要"
                    " · 答案逐句标注「第X章 第Y节」出处", elem_id="app-title")
        status = gr.Markdown(app.backend.status(), elem_id="status")
        session = gr.State({"history": [], "display": []})
        quiz_items = gr.State([])

        with gr.Tab("问答", id="chat"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=4):
                    chatbot = gr.Chatbot(label="问答", show_label=False, height=600, elem_id="chatbot",
                                         placeholder="请输入关于山西“十四五”规划的问题，"
                                                     "答案逐句附原文出处。",
                                         feedback_options=None, buttons=["copy"])
                    msg = gr.Textbox(placeholder="例如：到2025年高新技术企业要达到多少家？",
                                     show_label=False, max_lines=4, submit_btn="提问",
                                     elem_id="question")
                with gr.Column(scale=1, min_width=240):
                    chapter = gr.Dropdown([("全部章节", ALL)], value=ALL, label="章节范围",
                                          interactive=True)
                    gr.Markdown("**示例问题**（点击即问；“那2035年呢？”是追问）")
                    examples = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
                    clear = gr.Button("新对话", size="sm", variant="stop")

            chat_io = dict(fn=app.chat, inputs=[msg, chapter, session],
                           outputs=[chatbot, session, msg])
            msg.submit(**chat_io, api_name="chat")
            for b in examples:
                b.click(lambda q=b.value: q, outputs=msg, api_visibility="private").then(
                    **chat_io, api_visibility="private")
            new_chat = lambda: ([], {"history": [], "display": []})  # noqa: E731  (this session only)
            clear.click(new_chat, outputs=[chatbot, session], api_name="new_chat")
            chatbot.clear(new_chat, outputs=[chatbot, session], api_visibility="private")

        with gr.Tab("浏览规划", id="browse"):
            with gr.Row():
                with gr.Column(scale=2):
                    b_chapter = gr.Dropdown([], label="章", interactive=True)
                    b_section = gr.Radio([], label="节", interactive=True)
                with gr.Column(scale=5):
                    b_text = gr.HTML()
            b_chapter.change(app.browse_chapter, b_chapter, [b_section, b_text],
                             api_name="browse_chapter")
            b_section.change(app.browse_section, b_section, b_text, api_name="browse_section")

        with gr.Tab("出题", id="quiz"):
            with gr.Row():
                with gr.Column(scale=2):
                    q_chapters = gr.Dropdown([], multiselect=True, label="章（不选 = 全部）")
                    q_sections = gr.Dropdown([], multiselect=True, label="节（可选，进一步限定）")
                    q_n = gr.Slider(1, 50, value=10, step=1, label="题数")
                    q_types = gr.CheckboxGroup(QUIZ_TYPES, value=[v for _, v in QUIZ_TYPES],
                                               label="题型")
                    q_diff = gr.Radio(DIFFICULTIES, value="medium", label="难度")
                    q_seed = gr.Number(value=0, precision=0, label="随机种子（相同设置与种子 → 相同试卷）")
                    q_make = gr.Button("生成题目", variant="primary")
                    with gr.Row():
                        downloads = [gr.DownloadButton(f"下载 {fmt.upper()}", size="sm",
                                                       interactive=False) for fmt in EXPORT_FORMATS]
                with gr.Column(scale=5):
                    with gr.Tab("预览（含答案）"):
                        q_preview = gr.HTML("<p>选择范围与题型后点击“生成题目”。</p>")
                    with gr.Tab("练习"):
                        @gr.render(inputs=quiz_items)
                        def practice(items):
                            if not items:
                                gr.Markdown("先在左侧生成题目，再在这里作答。")
                                return
                            boxes = []
                            for i, it in enumerate(items, 1):
                                label = f"{i}. 【{TYPE_NAMES.get(it.type, it.type)}】{it.stem}"
                                if it.options:
                                    boxes.append(gr.Radio(list(it.options), label=label,
                                                          key=f"p-{it.id}"))
                                else:
                                    boxes.append(gr.Textbox(label=label, key=f"p-{it.id}",
                                                            placeholder="填写空白处的内容"))
                            submit = gr.Button("交卷评分", variant="primary")
                            result = gr.HTML()
                            submit.click(app.grade_practice, [quiz_items, *boxes], result,
                                         api_visibility="private")
            q_chapters.change(app.quiz_sections, q_chapters, q_sections, api_name="quiz_sections")
            q_make.click(app.make_quiz, [q_chapters, q_sections, q_n, q_types, q_diff, q_seed],
                         [quiz_items, q_preview, *downloads], api_name="make_quiz")

        gr.api(app.ask, api_name="ask")
        demo.load(app.startup, outputs=[status, chapter, b_chapter, b_section, q_chapters],
                  api_visibility="private", concurrency_limit=None, show_progress="minimal")
    # questions are CPU-bound and short (extractive ≈ tens of ms); a few in parallel keeps the
    # queue moving for 16–32 clients without oversubscribing two cores
    demo.queue(default_concurrency_limit=4, max_size=256)
    return demo, app


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; any other name counts as exposed."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """Refuse to listen beyond loopback without a password (raises ConfigError)."""
    if not is_loopback(settings.app_host) and not settings.app_password:
        raise ConfigError(f"拒绝启动：监听 {settings.app_host} 会把应用暴露到网络，"
                          "请设置访问密码 RAG_APP_PASSWORD，或改用 --host 127.0.0.1")


def launch(demo: gr.Blocks, settings: Settings, **kwargs):
    """Launch with the app's theme, CSS, bind check and optional password."""
    check_bind(settings)
    fonts = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "sans-serif"]
    theme = gr.themes.Soft(primary_hue="red", neutral_hue="slate", font=fonts,  # local fonts only
                           font_mono=["Noto Sans Mono CJK SC", "monospace"])
    auth = None
    if settings.app_password:
        password = settings.app_password
        auth = lambda _user, pw: hmac.compare_digest(pw.encode(), password.encode())  # noqa: E731
    return demo.launch(server_name=settings.app_host, server_port=settings.app_port, auth=auth,
                       auth_message="请输入访问密码（用户名任意）", share=False, ssr_mode=False,
                       footer_links=["api"], theme=theme, css=CSS, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python app.py",
                                description="规划问答网页应用（默认仅本机访问 http://127.0.0.1:7860）。")
    p.add_argument("--host", help="监听地址（默认 127.0.0.1，环境变量 RAG_APP_HOST；非本机地址须设置 RAG_APP_PASSWORD）")
    p.add_argument("--port", type=int, help="端口（默认 7860，环境变量 RAG_APP_PORT）")
    p.add_argument("--answerer", help="回答方式：extractive（默认）、openai-compatible 或 llama-cpp")
    p.add_argument("--data-dir", help="索引目录（默认 ./storage，环境变量 RAG_DATA_DIR）")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio polls itself at startup
    try:
        settings = load_settings(app_host=args.host, app_port=args.port, answerer=args.answerer,
                                 data_dir=args.data_dir)
        check_bind(settings)
    except RagError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    demo, _ = build_app(settings)
    try:
        launch(demo, settings)
    except OSError as exc:
        print(f"错误：无法在 {settings.app_host}:{settings.app_port} 启动（{exc}）", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
