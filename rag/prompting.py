"""Load prompt templates from ``prompts/`` and render them strictly.

Every prompt lives in its own file (``prompts/<name>.txt``) and is rendered with jinja2 and
``StrictUndefined``: a variable the template uses but the caller did not pass raises a
:class:`ConfigError` instead of silently rendering as empty text.

Not handled here: which prompt to use when (answering.py).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.errors import ConfigError

PROMPTS_DIR = PROJECT_ROOT / "prompts"


@lru_cache(maxsize=None)
def _template(name: str, directory: Path):
    import jinja2

    path = directory / f"{name}.txt"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(f"提示词模板不存在：{path}") from None
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=False,
                             trim_blocks=True, lstrip_blocks=True, autoescape=False)
    return env.from_string(source)


def load_prompt(name: str, directory: Path | None = None, **variables) -> str:
    """Render ``prompts/<name>.txt`` with ``variables``; a missing variable is a ConfigError."""
    import jinja2

    template = _template(name, Path(directory or PROMPTS_DIR))
    try:
        return template.render(**variables).strip()
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"提示词模板 {name} 缺少变量：{exc.message}") from None
