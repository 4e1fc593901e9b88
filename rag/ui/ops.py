"""Operations endpoints beside the page: ``GET /healthz`` for load balancers, deploy scripts and
tests — 200 with the index build id, the answerer, whether the vector store answers and the
process id once the pipeline is loaded; 503 with the stage while it loads or after it failed —
and ``GET /metrics``, this process's counters in Prometheus text format (rag.ui.metrics).
Neither asks for the app password: restrict them at the proxy when the app is exposed.

Not handled here: the page (rag.ui.layout) and serving (rag.ui.serve).
"""

from __future__ import annotations

import os

from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST
from fastapi.routing import APIRoute

from rag.ui.backend import STAGES, Backend


def health(backend: Backend) -> tuple[int, dict]:
    """(HTTP status, body) of the health check; never raises."""
    if not backend.ready:
        return 503, {"status": "loading", "pid": os.getpid(), "stage": backend.stage,
                     "stage_text": STAGES.get(backend.stage, backend.stage),
                     "fraction": round(backend.fraction, 3)}
    if backend.error:
        return 503, {"status": "error", "pid": os.getpid(), "error": backend.error}
    index = backend.index
    body = {"status": "ok", "build_id": index.manifest.build_id,
            "answerer": backend.settings.answerer, "sections": len(index.sections),
            "pid": os.getpid()}
    try:
        body["store"] = index.sentence_store._collection.count() == index.manifest.counts.get(
            "sentences")
    except Exception as exc:  # a Chroma server that went away: report it, do not raise
        body.update(store=False, store_error=f"{type(exc).__name__}: {exc}")
    return (200 if body["store"] else 503), body


def routes(backend: Backend) -> list[APIRoute]:
    """The routes to put in front of Gradio's (``app_kwargs={"routes": …}``)."""
    def healthz():
        code, body = health(backend)
        return JSONResponse(body, status_code=code)

    def metrics():
        return Response(backend.metrics.scrape(), media_type=CONTENT_TYPE_LATEST)

    return [APIRoute("/healthz", healthz, methods=["GET"], include_in_schema=False),
            APIRoute("/metrics", metrics, methods=["GET"], include_in_schema=False)]
