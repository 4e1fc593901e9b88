"""The app's page: the gr.Blocks with its tabs (问答, 浏览规划, 出题), every event wired to an
App handler with an api_name for gradio_client, and the queue settings.

Not handled here: what the handlers do (rag.ui.handlers), HTML (rag.ui.render), launching and
the bind rule (rag.ui.serve).
"""

from __future__ import annotations

from rag.config import Settings  # sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported
from rag.ui.backend import Backend
from rag.ui.handlers import ALL, EXPORT_FORMATS, App
from rag.ui.render import QUIZ_PLACEHOLDER, type_tag
from rag.ui.targets_tab import build_targets_tab

import gradio as gr  # noqa: E402  (after rag.config so the analytics switch is honoured)

EXAMPLES = ("到2025年高新技术企业要达到多少家？", "汾河治理有哪些工程？", "“六新”指的是什么？",
            "那2035年呢？")
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
                    document = gr.Dropdown([("全部文档", ALL)], value=ALL, label="文档范围",
                                           interactive=True, visible=False)  # >1 document
                    gr.Markdown("**示例问题**（点击即问；“那2035年呢？”是追问）")
                    examples = [gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES]
                    clear = gr.Button("新对话", size="sm", variant="stop")

            chat_io = dict(fn=app.chat, inputs=[msg, chapter, session, document],
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

        build_targets_tab(app)  # 「目标一览」: rag.ui.targets_tab

        gr.api(app.ask, api_name="ask")
        demo.load(app.startup, outputs=[status, chapter, b_chapter, b_section, q_chapters, document],
                  api_visibility="private", concurrency_limit=None, show_progress="minimal")
    # questions are CPU-bound and short (extractive ≈ tens of ms); a few in parallel keeps the
    # queue moving for 16–32 clients without oversubscribing two cores
    demo.queue(default_concurrency_limit=4, max_size=256)
    return demo, app
