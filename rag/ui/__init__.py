"""The Gradio web app (started by ``python app.py``): chat with cited answers, browse the plan,
build and practise quizzes.

Modules: backend (the pipeline, loaded or built in a thread), handlers (App: one method per
event), layout (build_app: the gr.Blocks and its tabs), answer_view (the answer card), suggest
(follow-up questions), export (a conversation as Markdown/docx), render (page and quiz HTML),
style (CSS and the page script), serve (bind rule, launch). Feedback storage: rag.feedback.
Not handled here: ranking, prompts, follow-up rewriting, quiz generation and grading (rag.*),
and command-line arguments (app.py).
"""

from rag.ui.backend import Backend
from rag.ui.handlers import App, parse_chapter
from rag.ui.layout import build_app
from rag.ui.serve import check_bind, is_loopback, launch

__all__ = ["App", "Backend", "build_app", "check_bind", "is_loopback", "launch", "parse_chapter"]
