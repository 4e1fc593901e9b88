"""The app's page: the gr.Blocks with its tabs (问答, 浏览规划, 出题, 目标一览), every event wired to an
App handler with an api_name for gradio_client, and the queue settings.

Each tab is built by its own function inside one gr.Tabs (add a tab: write ``x_tab(app)``
and call it in :func:`build_app`). Links inside answers and pages reach Python through two
hidden buttons (``goto-btn``, ``ask-btn``) whose events read the clicked value in JS.

Not handled here: what the handlers do (rag.ui.handlers), HTML (rag.ui.render), launching and
the bind rule (rag.ui.serve).
"""

from __future__ import annotations

from rag.config import Settings  # sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported
from rag.ui.backend import Backend
from rag.ui.handlers import ALL, EXPORT_FORMATS, App, new_session
from rag.ui.render import QUIZ_PLACEHOLDER, type_tag
from rag.ui.style import READ_CLICKED, SCROLL_TO_MARK
from rag.ui.targets_tab import build_targets_tab
from rag.ui.upload import build_upload_tab, upload_enabled

import gradio as gr  # noqa: E402  (after rag.config so the analytics switch is honoured)

# standalone questions only: a follow-up (那2035年呢？) pressed first has nothing to follow;
# follow-ups are offered under each answer instead
EXAMPLES = ("到2025年高新技术企业要达到多少家？", "汾河治理有哪些工程？", "“六新”指的是什么？")
SESSION_KEY = "guihua-chat-v1"
QUIZ_TYPES = [("填空", "cloze"), ("单选", "choice"), ("多选", "multi"), ("判断", "judge"),
              ("出自哪一节（限量）", "source")]
QUIZ_DEFAULT_TYPES = ["cloze", "choice", "multi", "judge"]
DIFFICULTIES = [("混合", "mixed"), ("简单", "easy"), ("中等", "medium"), ("困难", "hard")]


def build_app(settings: Settings, backend: Backend | None = None) -> tuple[gr.Blocks, App]:
    """Lay out the Blocks and wire every event (each with an api_name for gradio_client)."""
    app = App(settings, backend)
    with gr.Blocks(title="规划问答 · 山西省“十四五”规划纲要", delete_cache=(3600, 7200)) as demo:
        gr.Markdown("# 规划问答\n山西省国民经济和社会发展第十四个五年规划和2035年远景目标纲要"
                    " · 答案逐句标注「第X章 第Y节」出处", elem_id="app-title")
        status = gr.Markdown(app.backend.status(), elem_id="status")
        saved = gr.BrowserState(new_session(None), storage_key=SESSION_KEY)
        with gr.Tabs(selected="chat", elem_id="tabs") as tabs:  # only gr.Tab directly inside
            chapter, ask = chat_tab(app, demo, saved)
            browse = browse_tab(app)
            q_chapters = quiz_tab(app)
            build_targets_tab(app)  # 「目标一览」: rag.ui.targets_tab
            if upload_enabled(settings):  # 「添加规划」, only behind a password: rag.ui.upload
                build_upload_tab(app, ask["document"], status)
        # hidden, outside the tabs (an unopened tab is not in the page): links reach Python here
        hidden = dict(visible="hidden")
        ask_box, ask_btn = gr.Textbox(**hidden), gr.Button("ask", elem_id="ask-btn", **hidden)
        goto_box, goto_btn = gr.Textbox(**hidden), gr.Button("goto", elem_id="goto-btn", **hidden)
        ask_btn.click(lambda q: q, ask_box, ask["msg"], js=READ_CLICKED,
                      api_visibility="private").then(**ask["chat"], api_visibility="private").then(
            **ask["save"])
        goto_btn.click(app.goto, goto_box, [tabs, *browse], js=READ_CLICKED,
                       api_name="goto").then(None, js=SCROLL_TO_MARK)
        gr.api(app.ask, api_name="ask")
        gr.api(app.rate_answer, api_name="feedback")  # rate an /ask answer (deploy check)
        demo.load(app.startup, outputs=[status, chapter, browse[0], browse[1], q_chapters, browse[2],
                                        ask["document"]],
                  api_visibility="private", concurrency_limit=None, show_progress="minimal")
    # questions are CPU-bound and short (extractive ≈ tens of ms); a few in parallel keeps the
    # queue moving for 16–32 clients without oversubscribing two cores
    demo.queue(default_concurrency_limit=4, max_size=256)
    return demo, app


def chat_tab(app: App, demo: gr.Blocks, saved: gr.BrowserState) -> tuple[gr.Dropdown, dict]:
    """问答: the chat, feedback, export, examples; returns the chapter filter and what a
    follow-up link needs (the question box, the chat event, the save step, the document picker).

    The session is a gr.State (so /chat keeps its API: question and chapter in, chat out) and
    is copied to ``saved`` (browser storage) after every turn and restored from it on load."""
    with gr.Tab("问答", id="chat"):
        session = gr.State(new_session(None))  # inside the Tab: gr.Tabs takes only tabs
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=320):
                chatbot = gr.Chatbot(label="问答", show_label=False, height=560, elem_id="chatbot",
                                     placeholder="请输入关于山西“十四五”规划的问题，"
                                                 "答案逐句附原文出处。",
                                     feedback_options=("Like", "Dislike"), buttons=["copy"])
                msg = gr.Textbox(placeholder="例如：到2025年高新技术企业要达到多少家？",
                                 show_label=False, max_lines=4, submit_btn="提问",
                                 elem_id="question")
                fb_id = gr.State(None)
                with gr.Row(visible=False, elem_id="feedback-row") as fb_row:
                    fb_text = gr.Textbox(label="补充说明（可选）", scale=4, elem_id="feedback-text",
                                         placeholder="哪里有用，或哪里不对？")
                    fb_send = gr.Button("提交说明", size="sm", scale=1, elem_id="feedback-send")
            with gr.Column(scale=1, min_width=240):
                chapter = gr.Dropdown([("全部章节", ALL)], value=ALL, label="章节范围",
                                      interactive=True)
                document = gr.Dropdown([("全部文档", ALL)], value=ALL, label="文档范围",
                                       interactive=True, visible=False)  # shown for >1 document
                gr.Markdown("**示例问题**（点击即问）")
                examples = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
                with gr.Row():
                    clear = gr.Button("新对话", size="sm", variant="secondary")
                    export = gr.Button("导出", size="sm", variant="secondary", elem_id="export-btn")
                files = gr.File(label="导出的问答记录（Markdown / Word）", file_count="multiple",
                                visible=False, interactive=False, elem_id="export-files")

    chat_io = dict(fn=app.chat, inputs=[msg, chapter, session, document],
                   outputs=[chatbot, session, msg])
    save = dict(fn=lambda s: s, inputs=session, outputs=saved, api_visibility="private")
    msg.submit(**chat_io, api_name="chat").then(**save)
    for b in examples:
        b.click(lambda q=b.value: q, outputs=msg, api_visibility="private").then(
            **chat_io, api_visibility="private").then(**save)
    new_chat = lambda: ([], new_session(None), gr.update(visible=False))  # noqa: E731
    clear.click(new_chat, outputs=[chatbot, session, files], api_name="new_chat").then(**save)
    chatbot.clear(new_chat, outputs=[chatbot, session, files], api_visibility="private").then(**save)
    fb_out = [fb_id, fb_row, fb_text]
    chatbot.like(app.rate, session, fb_out, api_visibility="private")
    fb_send.click(app.comment, [fb_id, fb_text], fb_out, api_visibility="private")
    fb_text.submit(app.comment, [fb_id, fb_text], fb_out, api_visibility="private")
    export.click(app.export_chat, session, files, api_visibility="private").then(
        lambda: gr.update(visible=True), outputs=files, api_visibility="private")
    demo.load(app.restore, saved, [chatbot, session], api_visibility="private")
    return chapter, {"msg": msg, "chat": chat_io, "save": save, "document": document}


def browse_tab(app: App) -> tuple:
    """浏览规划: table of contents, a chapter's sections, one section with highlighted quotes;
    returns (chapter picker, section picker, page) for the startup event."""
    with gr.Tab("浏览规划", id="browse"):
        with gr.Row():
            b_chapter = gr.Dropdown([], label="章", interactive=True, scale=3, min_width=330,
                                    elem_id="browse-chapter")  # wide: chapter titles are long
            b_section = gr.Dropdown([], label="节", interactive=True, scale=2, min_width=300,
                                    elem_id="browse-section")
        b_text = gr.HTML(elem_id="browse-text")
    b_chapter.input(app.browse_chapter, b_chapter, [b_section, b_text], api_name="browse_chapter")
    b_section.input(app.browse_section, b_section, b_text, api_name="browse_section")
    return b_chapter, b_section, b_text


def quiz_tab(app: App) -> gr.Dropdown:
    """出题: settings, preview with answers, downloads, practice; returns the chapter picker."""
    with gr.Tab("出题", id="quiz"):
        quiz_items = gr.State([])
        with gr.Row(elem_id="quiz-row"):
            with gr.Column(scale=2):
                q_chapters = gr.Dropdown([], multiselect=True, label="章（不选 = 全部）")
                q_sections = gr.Dropdown([], multiselect=True, label="节（可选，进一步限定）")
                q_n = gr.Slider(1, 50, value=10, step=1, label="题数")
                q_types = gr.CheckboxGroup(QUIZ_TYPES, value=QUIZ_DEFAULT_TYPES, label="题型")
                q_diff = gr.Radio(DIFFICULTIES, value="mixed", label="难度（决定选哪些题）")
                q_seed = gr.Number(value=0, precision=0, label="随机种子（相同设置与种子 → 相同试卷）")
                q_make = gr.Button("生成题目", variant="primary")
                with gr.Row():
                    downloads = [gr.DownloadButton(f"下载 {fmt.upper()}", size="sm",
                                                   interactive=False) for fmt in EXPORT_FORMATS]
            with gr.Column(scale=5):
                with gr.Tab("预览（含答案）"):
                    q_preview = gr.HTML(QUIZ_PLACEHOLDER)
                with gr.Tab("练习"):
                    @gr.render(inputs=quiz_items)
                    def practice(items):
                        if not items:
                            gr.Markdown("先在左侧生成题目，再在这里作答。")
                            return
                        boxes = []
                        for i, it in enumerate(items, 1):
                            label = f"{i}. {type_tag(it)}{it.stem}"
                            if it.type == "multi":
                                boxes.append(gr.CheckboxGroup(list(it.options), label=label,
                                                              key=f"p-{it.id}"))
                            elif it.options:
                                boxes.append(gr.Radio(list(it.options), label=label,
                                                      key=f"p-{it.id}"))
                            else:
                                boxes.append(gr.Textbox(label=label, key=f"p-{it.id}",
                                                        placeholder="填写空白处的内容"))
                        partial = gr.Checkbox(False, label="多选题少选按比例得分（选错不得分）")
                        pending = gr.State("")  # unanswered items already warned about
                        submit = gr.Button("交卷评分", variant="primary")
                        result = gr.HTML()
                        submit.click(app.submit_practice, [quiz_items, pending, partial, *boxes],
                                     [result, pending], api_visibility="private")
        q_chapters.change(app.quiz_sections, q_chapters, q_sections, api_name="quiz_sections")
        q_make.click(app.make_quiz, [q_chapters, q_sections, q_n, q_types, q_diff, q_seed],
                     [quiz_items, q_preview, *downloads], api_name="make_quiz")

    return q_chapters
