"""The example deployment files in deploy/ as the deploy check uses them: the environment file
(``KEY=value`` lines) and the ``ExecStart=`` of the systemd units, with systemd's ``%i`` (the
instance: an app's port) and ``${VAR}`` (from the environment) expanded, and the install prefix
``/opt/guihua`` mapped to this checkout and its Python.

Not handled here: the rest of systemd's unit semantics (User=, Restart=, sandboxing), quoting
beyond shell words (the units use none), nginx (rag.deploy.nginx).
"""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.errors import DeployError

DEPLOY_DIR = PROJECT_ROOT / "deploy"
ENV_FILE = DEPLOY_DIR / "guihua.env"
APP_UNIT = DEPLOY_DIR / "systemd" / "guihua-app@.service"
CHROMA_UNIT = DEPLOY_DIR / "systemd" / "guihua-chroma.service"
PREFIX = "/opt/guihua"
_VAR = re.compile(r"\$\{(\w+)\}")


def read_env(path: Path = ENV_FILE) -> dict[str, str]:
    """``KEY=value`` lines of an environment file (comments and blank lines skipped)."""
    env = {}
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_]\w*", key.strip()):
            raise DeployError(f"{path.name} 第 {n} 行不是 KEY=value：{line[:40]}")
        env[key.strip()] = value.strip().strip('"')
    return env


def exec_start(unit: Path, env: dict[str, str], instance: str = "") -> list[str]:
    """The unit's ExecStart as argv: %i → instance, ${VAR} → env, /opt/guihua → this checkout."""
    lines = [ln.strip() for ln in unit.read_text(encoding="utf-8").splitlines()]
    found = [ln.partition("=")[2].strip() for ln in lines if ln.startswith("ExecStart=")]
    if len(found) != 1:
        raise DeployError(f"{unit.name} 应有且只有一行 ExecStart=")
    missing = sorted(set(_VAR.findall(found[0])) - set(env))
    if missing:
        raise DeployError(f"{unit.name} 用到环境文件里没有的变量：{', '.join(missing)}")
    line = _VAR.sub(lambda m: env[m.group(1)], found[0].replace("%i", instance))
    argv = shlex.split(line)
    venv_bin = f"{PREFIX}/.venv/bin/"
    return [str(Path(sys.executable).parent / a.removeprefix(venv_bin)) if a.startswith(venv_bin)
            else str(PROJECT_ROOT / a.removeprefix(PREFIX + "/")) if a.startswith(PREFIX + "/")
            else a for a in argv]
