"""Per-request accounting for the app: Prometheus metrics (one registry per app, served at
``GET /metrics`` by rag.ui.ops), one JSON log line per request on the ``rag.app`` logger, and a
``usage`` row in the feedback database (rag.feedback.UsageRecorder).

The question text goes into neither the log line nor the usage row unless
``RAG_LOG_QUESTIONS=1``; the session appears only as a hash prefix. A request is counted once,
when it ends: ``answered``, ``refused`` or ``error`` (an exception, or a failure shown in the
chat); a chat stream the browser abandoned (GeneratorExit) is not counted.

Not handled here: answering (rag.answering), the routes (rag.ui.ops), the index switch
(rag.ui.backend, which calls :meth:`Metrics.build`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import datetime, timezone

from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                               disable_created_metrics, generate_latest)

from rag.config import Settings
from rag.feedback import UsageRecorder

log = logging.getLogger("rag.app.requests")  # one JSON object a line (app.py: message only)
OUTCOMES = ("answered", "refused", "error")
disable_created_metrics()  # no *_created series: scrapes stay short (process-wide switch)
BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 10, 20, 30, 60)


def session_tag(session_hash: str | None) -> str:
    """A short, non-reversible tag of Gradio's session hash ('' without one)."""
    if not session_hash:
        return ""
    return hashlib.sha256(session_hash.encode()).hexdigest()[:10]


class Metrics:
    """The app's counters (its own registry: each process is scraped on its own)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter("guihua_requests", "Requests by endpoint and outcome",
                                ["endpoint", "outcome"], registry=r)
        self.seconds = Histogram("guihua_request_seconds", "Answer latency in seconds",
                                 ["endpoint"], buckets=BUCKETS, registry=r)
        self.refusals = Counter("guihua_refusals", "Questions refused", registry=r)
        self.errors = Counter("guihua_errors", "Requests that ended in an error", registry=r)
        self.fallbacks = Counter("guihua_llm_fallbacks",
                                 "LLM answers replaced by the extractive fallback", registry=r)
        self.build_info = Gauge("guihua_index_build_info", "The index build being served (value 1)",
                                ["build_id"], registry=r)
        self.switches = Counter("guihua_index_switches",
                                "Switches to a new index build without restart", registry=r)
        self.usage = UsageRecorder(settings) if settings.usage_log else None

    def build(self, build_id: str, switched: bool = False) -> None:
        """The build now served (at load, and after each switch)."""
        self.build_info.clear()
        self.build_info.labels(build_id=build_id).set(1)
        if switched:
            self.switches.inc()

    def scrape(self) -> bytes:
        return generate_latest(self.registry)

    def request(self, endpoint: str, question: str, session_hash: str | None = None
                ) -> "RequestRecord":
        return RequestRecord(self, endpoint, question, session_hash)


class RequestRecord:
    """``with metrics.request(...) as req:`` around one answer; ``req.answered(answer,
    build_id)`` on success, ``req.failed()`` for a failure the handler shows itself."""

    def __init__(self, metrics: Metrics, endpoint: str, question: str, session_hash):
        self.metrics, self.endpoint, self.question = metrics, endpoint, question
        self.session = session_tag(session_hash)
        self.outcome, self.answer, self.build_id = None, None, ""
        self.t0 = time.perf_counter()

    def __enter__(self) -> "RequestRecord":
        return self

    def answered(self, answer, build_id: str) -> None:
        self.answer, self.build_id = answer, build_id
        self.outcome = "refused" if answer.refused else "answered"

    def failed(self) -> None:
        self.outcome = "error"

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is GeneratorExit:
            return False  # the browser left mid-stream: not a request outcome
        if exc_type is not None or self.outcome is None:
            self.outcome = "error"
        self._finish()
        return False

    def _finish(self) -> None:
        m, seconds = self.metrics, time.perf_counter() - self.t0
        m.requests.labels(endpoint=self.endpoint, outcome=self.outcome).inc()
        m.seconds.labels(endpoint=self.endpoint).observe(seconds)
        answerer = ""
        if self.outcome == "error":
            m.errors.inc()
        else:
            answerer = self.answer.answerer
            if self.answer.refused:
                m.refusals.inc()
            from rag.answering import FALLBACK_NOTICE  # loaded by then; slow to import early

            if (self.answer.notice or "").startswith(FALLBACK_NOTICE.split("{", 1)[0]):
                m.fallbacks.inc()
        row = {"endpoint": self.endpoint, "outcome": self.outcome,
               "latency_ms": round(seconds * 1000), "build_id": self.build_id,
               "answerer": answerer}
        with_q = m.settings.log_questions
        line = {"time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"), **row,
                "session": self.session, "chars": len(self.question)}
        if with_q:
            line["question"] = self.question
        log.info(json.dumps(line, ensure_ascii=False))
        if m.usage is not None:
            m.usage.record(**row, question=self.question if with_q else None)
