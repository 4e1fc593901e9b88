"""The app's process-wide pipeline: loaded in a background thread, building the index on the
first start and reporting the build stage and progress meanwhile; then a watcher thread reads
the ``current`` link every ``settings.index_poll`` seconds (a readlink, nothing more) and, when
a new build went live, opens and warms it up beside the old one and switches. A request takes
the pipeline once (:meth:`Backend.wait`) and finishes on that build (its Index lease keeps the
build on disk); the next request gets the new one. A new build that fails to open is logged
and skipped; the old one keeps serving. Once the last request on an old build is over, its
Index is collected (releasing the lease, so the next ingest may remove the folder) and, with
embedded Chroma, chromadb's cached client for that folder is stopped.

Not handled here: the event handlers (rag.ui.handlers), HTML (rag.ui.render), the build itself
(rag.store) and answering (rag.answering).
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import weakref
from pathlib import Path

from rag.config import Settings  # sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported
from rag.errors import RagError
from rag.locking import WAITING
from rag.ui.metrics import Metrics
from rag.ui.render import index_status_html, warning_html

import gradio as gr  # noqa: E402  (after rag.config so the analytics switch is honoured)

log = logging.getLogger("rag.app")

STAGES = {"wait": WAITING, "parse": "解析规划原文", "chunk": "切分句子与段落",
          "embed": "计算向量", "chroma": "写入向量库", "bm25": "建立关键词索引", "done": "索引完成",
          "load": "加载检索与回答模型", "warmup": "预热"}


def user_error(message: str) -> gr.Error:
    """A message for the user in a toast titled 提示 (Gradio's default title is English)."""
    return gr.Error(message, title="提示", print_exception=False)


class Backend:
    """The process-wide, read-only pipeline; builds the index on first start, in a thread."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.stage, self.fraction = "load", 0.0
        self.error: str | None = None
        self.pipeline = None  # one attribute: a switch replaces pipeline and index at once
        self.metrics = Metrics(settings)
        self._ready = threading.Event()
        self._started = False
        self._lock = threading.Lock()
        self._skipped: str | None = None  # a build that failed to open: not retried
        self._switching = threading.Lock()  # one check at a time (the watcher, tests)
        self._retired: list[tuple[weakref.ref, object, str]] = []  # (old Index, its client, build)
        self._last_gc = 0.0

    @property
    def index(self):
        """The served build's Index (None until loaded)."""
        return self.pipeline.index if self.pipeline is not None else None

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
                # takes the writer lock: waits (stage "wait") while e.g. `make run`'s ingest builds,
                # then skips if that build is the one it wanted
                build_index(self.settings, progress=False, on_stage=self._on_stage,
                            on_wait=log.info)
            self._on_stage("load", 0.96)
            self.pipeline = self._open(warmup=lambda: self._on_stage("warmup", 0.99))
            self.metrics.build(self.index.manifest.build_id)
        except RagError as exc:
            self.error = str(exc)
        except Exception as exc:  # an unexpected failure still must not leave users waiting
            log.exception("backend failed to load")
            self.error = f"启动失败（{type(exc).__name__}）：请查看服务日志"
        finally:
            self._ready.set()
        if self.settings.index_poll > 0:
            threading.Thread(target=self._watch, name="rag-index-watch", daemon=True).start()

    def _open(self, warmup=None):
        from rag.answering import Pipeline

        pipeline = Pipeline.from_settings(self.settings)
        if warmup:
            warmup()
        pipeline.retriever.search("规划", k=1)  # loads the embedder's weights before users wait
        return pipeline

    def _watch(self) -> None:
        while True:
            time.sleep(self.settings.index_poll)
            try:
                self.check_switch()
            except Exception:  # the watcher must survive anything; the old build keeps serving
                log.exception("index switch check failed")

    def live_build(self) -> str | None:
        """The build id ``current`` points at (a readlink), or None without a link."""
        try:
            return Path(os.readlink(self.settings.index_dir)).name
        except OSError:
            return None

    def check_switch(self) -> bool:
        """Open the live build if it is not the one served and switch to it; True if switched."""
        with self._switching:
            return self._check_switch()

    def _release_retired(self) -> None:
        """Stop chromadb's cached client of each old build no request uses any more (embedded
        mode; an Index sits in a reference cycle, so a full collection runs every 10 s or less
        often while old builds are pending)."""
        if time.monotonic() - self._last_gc > 10:
            self._last_gc = time.monotonic()
            gc.collect()
        for ref, client, build in [r for r in self._retired if r[0]() is None]:
            self._retired.remove((ref, client, build))
            client.close()  # the last client of that path: chromadb stops its system
            log.info("released the Chroma client of retired build %s", build)

    def _check_switch(self) -> bool:
        if self._retired:
            self._release_retired()
        live = self.live_build()
        served = self.index.root.name if self.index is not None else None
        if live is None or live in (served, self._skipped):
            return False
        try:
            pipeline = self._open()
        except Exception as exc:  # a damaged or half-removed build: keep serving the old one
            self._skipped = live
            log.warning("new index build %s not opened, still serving %s: %s: %s", live, served,
                        type(exc).__name__, exc)
            return False
        if pipeline.index.root.name == served:
            return False
        old = self.index
        self.pipeline, self.error = pipeline, None
        if old is not None and not self.settings.chroma_host:
            self._retired.append((weakref.ref(old), old.client, old.root.name))
        del old
        self.metrics.build(pipeline.index.manifest.build_id, switched=True)
        log.info("switched to index build %s (was %s)", pipeline.index.manifest.build_id, served)
        return True

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def status(self) -> str:
        """One Markdown line: build progress, the error, or what is loaded."""
        if not self.ready and self.stage == "wait":
            return f"【准备中】{WAITING}完成后即可提问。"
        if not self.ready:
            what = "正在加载" if self.stage in ("load", "warmup") else "首次启动，正在建立索引"
            return (f"【准备中】{what}：{STAGES.get(self.stage, self.stage)}"
                    f"（{self.fraction:.0%}）……完成后即可提问。")
        if self.error:
            return warning_html(self.error)
        return index_status_html(self.display_name, self.index.manifest)

    @property
    def display_name(self) -> str:
        return self.pipeline.answerer.display_name if self.pipeline else ""

    def wait(self, timeout: float | None = 900):
        """The loaded pipeline; raises gr.Error while building failed or took too long."""
        self.start()
        if not self._ready.wait(timeout):
            raise user_error("索引仍在构建中，请稍后再试。")
        if self.error:
            raise user_error(self.error)
        return self.pipeline
