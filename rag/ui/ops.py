"""Operations endpoints beside the page: ``GET /healthz`` for load balancers, deploy scripts and
tests — 200 with the index build id, the answerer and whether the vector store answers once the
pipeline is loaded; 503 with the stage while it loads or after it failed.

Not handled here: the page (rag.ui.layout) and serving (rag.ui.serve).
"""

from __future__ import annotations

from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from rag.ui.backend import STAGES, Backend


def health(backend: Backend) -> tuple[int, dict]:
    """(HTTP status, body) of the health check; never raises."""
    if not backend.ready:
        return 503, {"status": "loading", "stage": backend.stage,
                     "stage_text": STAGES.get(backend.stage, backend.stage),
                     "fraction": round(backend.fraction, 3)}
    if backend.error:
        return 503, {"status": "error", "error": backend.error}
    index = backend.index
    body = {"status": "ok", "build_id": index.manifest.build_id,
            "answerer": backend.settings.answerer, "sections": len(index.sections)}
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

    return [APIRoute("/healthz", healthz, methods=["GET"], include_in_schema=False)]
