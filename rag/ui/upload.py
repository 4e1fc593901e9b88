"""The 添加规划 tab: upload a plan (.docx, .pdf, .html, .txt) with an optional id and title.

The file is added by rag.documents.add_document, the code behind ``python -m rag add``, in a
worker thread while the tab shows the build stage, in its two phases: as soon as phase 1 has
switched (sentences and headings embedded) the app's pipeline is reopened on that build, so the
document picker lists the new plan and questions can be asked about it; phase 2 (real chunk
vectors, bridge terms: rag.documents.complete_documents) runs on and the pipeline is reopened
again when it is done. A file larger than ``upload_max_mb`` (RAG_UPLOAD_MAX_MB) is refused
before anything starts. A bad file (unsupported format, encrypted or image-only PDF, no headings, GBK text), a
taken id or a busy writer shows one Chinese line; add_document leaves corpus.toml and the live
index as they were, and the app keeps answering from the previous build. The tab is built only
when a password is set (RAG_APP_PASSWORD): adding a plan changes what every user sees.

Not handled here: reading and parsing (rag.readers, rag.corpus), the build (rag.store), the
picker's choices (rag.ui.handlers.documents_of). The size check runs once Gradio has received
the file (Gradio's own max_file_size, set at launch, would answer in English).
"""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

from rag.config import Settings  # sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported
from rag.errors import RagError
from rag.readers import file_format
from rag.ui.backend import STAGES
from rag.ui.handlers import ALL, App, documents_of

import gradio as gr  # noqa: E402  (after rag.config so the analytics switch is honoured)

log = logging.getLogger("rag.app")
FORMATS = [".docx", ".pdf", ".html", ".htm", ".txt"]
PICK_FILE = "请先选择要添加的规划文件（.docx / .pdf / .html / .txt）。"
MB = 1024 * 1024


def _named(message: str, path: Path) -> str:
    """The message naming the upload by its own name, not by Gradio's temporary folder."""
    return message.replace(str(path), path.name)


def upload_enabled(settings: Settings) -> bool:
    """Whether the app offers uploads: only behind a password."""
    return bool(settings.app_password)


class Uploader:
    """Runs one add at a time for the app and reopens its pipeline afterwards."""

    def __init__(self, app: App):
        self.app = app
        self._lock = threading.Lock()

    def add(self, file, doc_id: str = "", title: str = "", poll: float = 0.5):
        """Add the uploaded file; yields (tab message, page status, document picker update)."""
        keep = gr.update()
        path = Path(file if isinstance(file, str) else getattr(file, "name", "") or "") \
            if file else None
        if path is None or not path.is_file():
            yield PICK_FILE, keep, keep
            return
        try:
            file_format(path)  # an unsupported format is refused before anything starts
        except RagError as exc:
            yield "添加失败：" + _named(str(exc), path), keep, keep
            return
        limit = self.app.settings.upload_max_mb
        if path.stat().st_size > limit * MB:
            yield (f"添加失败：{path.name} 有 {path.stat().st_size / MB:.1f} MB，超过上传上限 "
                   f"{limit:g} MB（管理员可用 RAG_UPLOAD_MAX_MB 调整）"), keep, keep
            return
        self.app.backend.wait()
        state = {"stage": "parse", "fraction": 0.0, "done": None, "error": None,
                 "searchable": None}

        def on_stage(name: str, fraction: float) -> None:
            state["stage"], state["fraction"] = name, fraction

        worker = threading.Thread(target=self._run, name="rag-upload", daemon=True,
                                  args=(path, doc_id, title, on_stage, state))
        worker.start()
        announced = False
        while worker.is_alive():
            stage = f"{STAGES.get(state['stage'], state['stage'])}（{state['fraction']:.0%}）"
            ready = state["searchable"]
            if ready is not None and not announced:
                announced = True
                yield (f"《{ready.info.title}》已可检索（用时 {ready.timings['searchable']:.0f} 秒），"
                       f"正在补全段落向量与桥接词：{stage}……", *self._picked())
            elif ready is not None:
                yield f"《{ready.info.title}》已可检索，正在补全段落向量与桥接词：{stage}……", keep, keep
            else:
                yield f"正在添加 {path.name}：{stage}……", keep, keep
            worker.join(poll)
        if state["error"]:
            picked = self._picked() if state["searchable"] is not None else (keep, keep)
            yield ("" if state["done"] else "添加失败：") + _named(state["error"], path), *picked
            return
        added = state["done"]
        yield (f"已添加《{added.info.title}》（id：{added.info.id}，{added.sections} 节，"
               f"{added.timings['searchable']:.0f} 秒后可检索，用时 {state['seconds']:.0f} 秒），"
               "可在「文档范围」中选择。", *self._picked())

    def _picked(self) -> tuple:
        """The page status and the document picker, from the pipeline's live build."""
        docs = self.app.backend.index.manifest.documents
        return (self.app.backend.status(),
                gr.update(choices=documents_of(docs), value=ALL, visible=len(docs) > 1))

    def _reopen(self, name: str, state: dict) -> bool:
        """Reopen the pipeline on the live build, as the index watcher does (it may have)."""
        backend = self.app.backend
        backend.check_switch()
        if backend.index is None or backend.index.root.name != backend.live_build():
            log.error("reopening the index after adding %s failed", name)
            state["error"] = "已添加，但应用未能重新加载索引：请查看服务日志或重启应用"
            return False
        return True

    def _run(self, path: Path, doc_id: str, title: str, on_stage, state: dict) -> None:
        from rag.documents import add_document, complete_documents

        t = time.perf_counter()
        settings = self.app.settings
        if self._lock.locked():
            on_stage("wait", 0.0)
        with self._lock:
            try:
                added = add_document(settings, path, doc_id=(doc_id or "").strip() or None,
                                     title=(title or "").strip() or None, on_stage=on_stage,
                                     wait=False)
            except RagError as exc:
                state["error"] = str(exc)
            except Exception as exc:  # the user gets one line; the log keeps the traceback
                log.exception("upload of %s failed", path.name)
                state["error"] = f"出现意外错误（{type(exc).__name__}），请查看服务日志；索引未改变"
            else:
                state["done"] = added
                on_stage("load", 0.96)
                if self._reopen(path.name, state):
                    state["searchable"] = added
                    try:
                        complete_documents(settings, on_stage=on_stage)
                        added.timings["complete"] = time.perf_counter() - t
                        self._reopen(path.name, state)
                    except Exception as exc:  # phase 1 stays live; the next ingest completes it
                        log.exception("phase 2 of adding %s failed", path.name)
                        state["error"] = (f"已可检索，但补全段落向量与桥接词失败（{type(exc).__name__}）："
                                          "请查看服务日志；运行 python -m rag ingest 可补全")
        state["seconds"] = time.perf_counter() - t


def build_upload_tab(app: App, document: gr.Dropdown, status: gr.Markdown) -> Uploader:
    """The 添加规划 tab (call only when :func:`upload_enabled`); updates the picker and status."""
    uploader = Uploader(app)
    with gr.Tab("添加规划", id="upload"):
        gr.Markdown("上传一份规划（.docx / .pdf / .html / .txt，按 篇/章/节 或 一、/（一） 分级），"
                    "与 `python -m rag add` 相同：只为新文档计算向量，完成后即可在「文档范围」中选择。")
        with gr.Row():
            file = gr.File(label="规划文件", file_types=FORMATS, type="filepath",
                           elem_id="upload-file")
            with gr.Column():
                doc_id = gr.Textbox(label="文档 id（可选：字母、数字、_ . -）", elem_id="upload-id")
                title = gr.Textbox(label="标题（可选：默认取文件第一行）", elem_id="upload-title")
                go = gr.Button("添加规划", variant="primary", elem_id="upload-btn")
        message = gr.Markdown(elem_id="upload-status")
    go.click(uploader.add, [file, doc_id, title], [message, status, document],
             api_name="add_document", concurrency_limit=1)
    return uploader
