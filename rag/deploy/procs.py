"""Processes the deploy check starts: each in its own process group (so a service's children
go with it) with its output in a log file, waited for over HTTP, and stopped together — SIGTERM
to the group, SIGKILL after a grace period — on success, failure or Ctrl-C.

Not handled here: what the services are (rag.deploy.stack); restarting a service that died.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from rag.errors import DeployError


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log_tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


@dataclass
class Service:
    name: str
    proc: subprocess.Popen
    log: Path

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


def _signal_alive(kill, target: int) -> bool:
    """Whether signal 0 reaches ``target`` (a process we may not signal still exists)."""
    try:
        kill(target, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of the group is left."""
    return _signal_alive(os.killpg, pgid)


def pid_alive(pid: int) -> bool:
    return _signal_alive(os.kill, pid)


@dataclass
class Services:
    """Everything started so far, stopped in reverse order by :meth:`stop_all`."""

    log_dir: Path
    started: list[Service] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)  # every process group ever started
    pids: list[int] = field(default_factory=list)  # daemons started by others (pg_ctl's postgres)

    def start(self, name: str, argv: list[str], env: dict | None = None, cwd: Path | None = None,
              user: str | None = None) -> Service:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with open(log, "ab") as out:
            try:
                proc = subprocess.Popen(argv, env=env, cwd=cwd, user=user, stdin=subprocess.DEVNULL,
                                        stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
            except OSError as exc:
                raise DeployError(f"无法启动 {name}（{argv[0]}：{exc.strerror or exc}）") from None
        svc = Service(name, proc, log)
        self.started.append(svc)
        self.groups.append(proc.pid)
        return svc

    def wait_http(self, svc: Service, url: str, timeout: float = 180.0, ok=(200,)) -> httpx.Response:
        """Poll ``url`` until it answers one of ``ok``; raises DeployError if the process exits
        or the time runs out (with the end of its log)."""
        deadline = time.monotonic() + timeout
        last = "无响应"
        while time.monotonic() < deadline:
            if not svc.alive:
                raise DeployError(f"{svc.name} 已退出（退出码 {svc.proc.returncode}），日志 {svc.log}：\n"
                                  + log_tail(svc.log))
            try:
                r = httpx.get(url, timeout=5)
                if r.status_code in ok:
                    return r
                last = f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                last = type(exc).__name__
            time.sleep(0.5)
        raise DeployError(f"{svc.name} 在 {timeout:.0f} 秒内未就绪（{url}：{last}），日志 {svc.log}：\n"
                          + log_tail(svc.log))

    def stop(self, svc: Service, grace: float = 20.0) -> None:
        """SIGTERM to the service's process group, SIGKILL after ``grace`` seconds."""
        pgid = svc.proc.pid
        for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                pass
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                if svc.proc.poll() is not None and not group_alive(pgid):
                    break
                time.sleep(0.1)
            else:
                continue
            break
        svc.proc.poll()
        if svc in self.started:
            self.started.remove(svc)

    def stop_all(self) -> None:
        while self.started:
            self.stop(self.started[-1])

    def leftovers(self, wait: float = 10.0) -> list[int]:
        """Process groups (and watched daemons) of this run that still have a process after
        up to ``wait`` seconds (a daemon stopped by its own tool may take a moment to exit)."""
        deadline = time.monotonic() + wait
        while True:
            left = [g for g in self.groups if group_alive(g)] + [p for p in self.pids if pid_alive(p)]
            if not left or time.monotonic() > deadline:
                return left
            time.sleep(0.2)
