"""Serving the app: the bind rule (no listening beyond loopback without a password) and launch
with the app's theme (neutral labels), CSS, page script and optional password.

Not handled here: the page (rag.ui.layout) and command-line arguments (app.py).
"""

from __future__ import annotations

import hmac
import ipaddress

from rag.config import Settings  # sets GRADIO_ANALYTICS_ENABLED=False before gradio is imported
from rag.errors import ConfigError
from rag.ui.style import CSS, JS

import gradio as gr  # noqa: E402  (after rag.config so the analytics switch is honoured)

FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "sans-serif"]


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses; any other name counts as exposed."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(settings: Settings) -> None:
    """Refuse to listen beyond loopback without a password (raises ConfigError)."""
    if not is_loopback(settings.app_host) and not settings.app_password:
        raise ConfigError(f"拒绝启动：监听 {settings.app_host} 会把应用暴露到网络，"
                          "请设置访问密码 RAG_APP_PASSWORD，或改用 --host 127.0.0.1")


def launch(demo: gr.Blocks, settings: Settings, backend=None, **kwargs):
    """Launch with the app's theme, CSS, bind check and optional password; with ``backend``,
    ``GET /healthz`` (rag.ui.ops) is served beside the page."""
    check_bind(settings)
    theme = gr.themes.Soft(primary_hue="red", neutral_hue="slate", font=FONTS,  # local fonts only
                           font_mono=["Noto Sans Mono CJK SC", "monospace"]).set(
        # labels neutral: colour is for actions and highlights only
        block_label_background_fill="*neutral_100", block_label_background_fill_dark="*neutral_700",
        block_label_text_color="*neutral_600", block_label_text_color_dark="*neutral_200",
        block_title_text_color="*neutral_700", block_title_text_color_dark="*neutral_200")
    auth = None
    if settings.app_password:
        password = settings.app_password
        auth = lambda _user, pw: hmac.compare_digest(pw.encode(), password.encode())  # noqa: E731
    # Gradio's own status words in Chinese whatever the browser's language (an error badge
    # reads 出错, not "Error")
    words = {"common.error": "出错", "common.loading": "加载中", "common.clear": "清除"}
    i18n = gr.I18n(en=words, **{"zh-CN": words})
    if backend is not None:
        from rag.ui.ops import routes

        kwargs.setdefault("app_kwargs", {"routes": routes(backend)})
    return demo.launch(server_name=settings.app_host, server_port=settings.app_port, auth=auth,
                       i18n=i18n,
                       auth_message="请输入访问密码（用户名任意）", share=False, ssr_mode=False,
                       footer_links=["api"], theme=theme, css=CSS, js=JS, **kwargs)
