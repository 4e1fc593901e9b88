"""A tiny scripted OpenAI-compatible chat server (stdlib http.server in a thread, 127.0.0.1).

The request's ``model`` field picks the script, so one server serves every fault:

- ``ok``: a cited answer; ``bad-markers``: cites [1] and sources that were never sent ([7], [9]);
- ``no-markers``: an answer without markers; ``refuse``: the refusal phrase;
- ``malformed``: HTTP 200 with a body / stream that is not JSON; ``http-500``: a server error;
- ``slow``: answers only after ``SLOW_SECONDS`` (past the client timeout);
- ``slow-stream``: a streamed answer that trickles on past the timeout; ``empty``: no content.

Every request body is kept in ``server.requests`` so tests can assert on the assembled messages.
It is real HTTP on loopback exercising the real client; it is not a model.

Not handled here: anything but ``POST /v1/chat/completions``.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SLOW_SECONDS = 6.0
ANSWERS = {
    "ok": "到2025年，力争高新技术企业达到800家[1]。",
    "bad-markers": "高新技术企业达到800家[1]，另有10万家[9]，详见第九十九章[7]。",
    "no-markers": "到2025年，力争高新技术企业达到800家。",
    "refuse": "规划原文中未找到与该问题直接相关的内容。",
    "slow": "太慢了[1]。",
    "slow-stream": "这是一个非常缓慢的回答，每个字都要等很久[1]。",
    "empty": "",
}


def _chunk(model: str, delta: dict, finish=None) -> bytes:
    body = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body, ensure_ascii=False).encode() + b"\n\n"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype="application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):  # noqa: N802 (http.server's naming)
        length = int(self.headers.get("Content-Length") or 0)
        try:
            req = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            req = {}
        self.server.requests.append(req)
        model, stream = req.get("model", "ok"), bool(req.get("stream"))
        try:
            self._answer(model, stream)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout): fine
            pass

    def _answer(self, model: str, stream: bool) -> None:
        if model == "http-500":
            return self._send(500, b'{"error": {"message": "internal error"}}')
        if model == "malformed":
            if stream:
                return self._send(200, b"data: {not json at all\n\ndata: [DONE]\n\n",
                                  "text/event-stream")
            return self._send(200, b"<html>not json</html>")
        if model == "slow":
            time.sleep(SLOW_SECONDS)
        text = ANSWERS.get(model, ANSWERS["ok"])
        if not stream:
            body = {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0,
                    "model": model, "choices": [{"index": 0, "finish_reason": "stop",
                                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            return self._send(200, json.dumps(body, ensure_ascii=False).encode())
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(_chunk(model, {"role": "assistant", "content": ""}))
        step = 4 if model != "slow-stream" else 1
        for i in range(0, len(text), step):
            if model == "slow-stream":
                time.sleep(0.4)
            self.wfile.write(_chunk(model, {"content": text[i:i + step]}))
            self.wfile.flush()
        self.wfile.write(_chunk(model, {}, "stop") + b"data: [DONE]\n\n")
        self.close_connection = True


class FakeLLMServer:
    """Context manager: ``with FakeLLMServer() as srv: srv.base_url``."""

    def __init__(self):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.requests = []
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def requests(self) -> list[dict]:
        return self.httpd.requests

    def __enter__(self) -> "FakeLLMServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)
