"""The services of a local deployment, all on free loopback ports inside one temp folder:
a throwaway PostgreSQL 15 cluster (rag.deploy.pg: as the postgres user when root), a Chroma
server and the app processes (both with the ExecStart of deploy/systemd/, the environment of
deploy/guihua.env with paths and ports overridden), the index built into the Chroma server by
``python -m rag ingest``, and nginx in front (deploy/nginx/guihua.conf rendered for the apps).

Not handled here: the load and its checks (rag.deploy.load, rag.deploy.check); a server's own
PostgreSQL and systemd (docs/deployment.md).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.deploy import pg
from rag.deploy.nginx import write_standalone
from rag.deploy.procs import Service, Services, free_port, log_tail
from rag.deploy.units import APP_UNIT, CHROMA_UNIT, exec_start, read_env
from rag.errors import DeployError

class Stack:
    """Start and stop the services; every process goes through one :class:`Services`."""

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o755)  # postgres and nginx workers run as other users
        self.services = Services(self.folder / "logs")
        self.env: dict[str, str] = {}
        self.db_url = ""
        self.apps: dict[int, Service] = {}
        self.nginx: Service | None = None
        self.nginx_port = 0
        self._stop_pg = None

    # ---- PostgreSQL

    def start_postgres(self) -> str:
        """rag.deploy.pg's throwaway cluster on a free port; returns its SQLAlchemy URL. Its
        postgres is a pg_ctl daemon, not a child: stopped by stop_all, watched by pid."""
        root, port = self.folder / "pg", free_port()
        try:
            self.db_url = pg.start_cluster(root, port)
        except pg.ClusterError as exc:
            raise DeployError(f"PostgreSQL 未能启动：{exc}") from None
        self._stop_pg = lambda: pg.stop_cluster(root, remove=False)
        self.services.pids.append(int((root / "data" / "postmaster.pid").read_text().split()[0]))
        return self.db_url

    # ---- Chroma server and the index

    def start_chroma(self) -> int:
        port = free_port()
        file_env = read_env()
        for key in ("RAG_DATA_DIR", "RAG_CHROMA_HOST", "RAG_CHROMA_PORT", "RAG_DB_URL", "GUIHUA_CHROMA_PATH"):
            if key not in file_env:
                raise DeployError(f"deploy/guihua.env 缺少 {key}")
        file_env.update(RAG_DATA_DIR=str(self.folder / "storage"), RAG_CHROMA_HOST="127.0.0.1",
                        RAG_CHROMA_PORT=str(port), RAG_DB_URL=self.db_url,
                        GUIHUA_CHROMA_PATH=str(self.folder / "chroma"),
                        GRADIO_TEMP_DIR=str(self.folder / "gradio"))
        self.env = {**os.environ, **file_env}
        svc = self.services.start("chroma", exec_start(CHROMA_UNIT, self.env), env=self.env, cwd=self.folder)
        self.services.wait_http(svc, f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=90)
        return port

    def ingest(self, rebuild: bool = False, name: str = "ingest") -> subprocess.Popen:
        """Start ``python -m rag ingest`` (the one writer) against the Chroma server."""
        argv = [sys.executable, "-m", "rag", "ingest", "--quiet", *(["--rebuild"] if rebuild else [])]
        return self.services.start(name, argv, env=self.env, cwd=PROJECT_ROOT).proc

    def finish(self, proc: subprocess.Popen, name: str = "ingest", timeout: float = 600) -> str:
        """Wait for an ingest; returns the live build id."""
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise DeployError(f"{name} 超过 {timeout:.0f} 秒未完成") from None
        svc = next((s for s in self.services.started if s.proc is proc), None)
        if svc:
            self.services.started.remove(svc)
        if code:
            raise DeployError(f"{name} 失败（退出码 {code}），日志 {self.folder / 'logs' / (name + '.log')}：\n"
                              + log_tail(self.folder / "logs" / f"{name}.log"))
        return self.build_id()

    def build_id(self) -> str:
        manifest = Path(self.env["RAG_DATA_DIR"]) / "current" / "manifest.json"
        return json.loads(manifest.read_text(encoding="utf-8"))["build_id"]

    # ---- app processes and nginx

    def start_apps(self, n: int, timeout: float = 300) -> list[int]:
        """N app processes (started together, then each waited for until /healthz is 200)."""
        ports = [free_port() for _ in range(n)]
        for port in ports:
            self.apps[port] = self.services.start(f"app-{len(self.apps) + 1}", exec_start(APP_UNIT, self.env, str(port)),
                                                  env=self.env, cwd=PROJECT_ROOT)
        for port in ports:
            self.services.wait_http(self.apps[port], f"http://127.0.0.1:{port}/healthz", timeout=timeout)
        return ports

    def start_nginx(self) -> int:
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        if not Path(binary).exists():
            raise DeployError("找不到 nginx（apt-get install nginx，或 make deploy-check 以 root 运行时自动安装）")
        self.nginx_port = free_port()
        folder = self.folder / f"nginx-{len(self.apps)}"
        conf = write_standalone(folder, list(self.apps), self.nginx_port)
        self.nginx = self.services.start("nginx", [binary, "-c", str(conf), "-p", str(folder)], cwd=folder)
        self.services.wait_http(self.nginx, f"http://127.0.0.1:{self.nginx_port}/healthz", timeout=30)
        return self.nginx_port

    def health(self) -> dict[int, dict]:
        """Each app's /healthz body (status code under "http")."""
        import httpx

        out = {}
        for port in self.apps:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10)
                out[port] = {"http": r.status_code, **r.json()}
            except (httpx.HTTPError, ValueError) as exc:
                out[port] = {"http": 0, "error": type(exc).__name__}
        return out

    def stop_front(self) -> None:
        """Stop nginx and the app processes (PostgreSQL, Chroma and the index stay)."""
        if self.nginx is not None:
            self.services.stop(self.nginx)
            self.nginx = None
        for svc in list(self.apps.values())[::-1]:
            self.services.stop(svc)
        self.apps.clear()

    def stop_all(self) -> None:
        self.nginx, self.apps = None, {}
        try:
            self.services.stop_all()
        finally:
            if self._stop_pg is not None:
                self._stop_pg()
                self._stop_pg = None
