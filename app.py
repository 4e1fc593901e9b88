"""规划问答 web app: parse the arguments, check the bind rule, build the page and launch it.

Thin, like the CLI of simonw/llm. The page, its handlers and HTML live in ``rag/ui/``; the
retrieval, answering and quiz logic in the rest of ``rag/``.

Not handled here: anything the page shows or does.

Run: ``python app.py [--host H] [--port P] [--answerer NAME] [--data-dir DIR]``.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rag.config import load_settings  # sets GRADIO_ANALYTICS_ENABLED=False before gradio loads
from rag.errors import RagError
from rag.ui import build_app, check_bind, launch


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python app.py",
                                description="规划问答网页应用（默认仅本机访问 http://127.0.0.1:7860）。")
    p.add_argument("--host", help="监听地址（默认 127.0.0.1，环境变量 RAG_APP_HOST；非本机地址须设置 RAG_APP_PASSWORD）")
    p.add_argument("--port", type=int, help="端口（默认 7860，环境变量 RAG_APP_PORT）")
    p.add_argument("--answerer", help="回答方式：extractive（默认）、openai-compatible 或 llama-cpp")
    p.add_argument("--data-dir", help="索引目录（默认 ./storage，环境变量 RAG_DATA_DIR）")
    return p


def setup_logging() -> None:
    """Usual ``time level name: message`` lines, except the request log: bare JSON lines."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio polls itself at startup
    requests = logging.getLogger("rag.app.requests")
    if not requests.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        requests.addHandler(handler)
    requests.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging()
    try:
        settings = load_settings(app_host=args.host, app_port=args.port, answerer=args.answerer,
                                 data_dir=args.data_dir)
        check_bind(settings)
    except RagError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    demo, app = build_app(settings)
    try:
        launch(demo, settings, backend=app.backend)
    except OSError as exc:
        print(f"错误：无法在 {settings.app_host}:{settings.app_port} 启动（{exc}）", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
