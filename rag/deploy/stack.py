"""The services of a local deployment, all on free loopback ports inside one temp folder:
a throwaway PostgreSQL 15 cluster (run as the postgres user when started as root), a Chroma
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
import time
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.deploy.nginx import write_standalone
from rag.deploy.procs import Service, Services, free_port, log_tail
from rag.deploy.units import APP_UNIT, CHROMA_UNIT, exec_start, read_env
from rag.errors import DeployError

PG_BINDIR = Path(os.environ.get("GUIHUA_PG_BINDIR", "/usr/lib/postgresql/15/bin"))
PG_USER = "guihua"


def _run_as() -> str | None:
    """PostgreSQL refuses to run as root: use the postgres account then."""
    return "postgres" if os.geteuid() == 0 else None


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

    # ---- PostgreSQL: rag.deploy.pg's throwaway cluster where it exists, else one started here

    def start_postgres(self) -> str:
        """A throwaway cluster on a free port; returns the SQLAlchemy URL of database guihua."""
        try:
            from rag.deploy import pg  # issue 19's cluster helper (initdb/pg_ctl as postgres)
        except ImportError:
            return self._start_postgres_here()
        root, port = self.folder / "pg", free_port()
        try:
            self.db_url = pg.start_cluster(root, port)
        except pg.ClusterError as exc:
            raise DeployError(f"PostgreSQL 未能启动：{exc}") from None
        self._stop_pg = lambda: pg.stop_cluster(root, remove=False)
        self.services.pids.append(int((root / "data" / "postmaster.pid").read_text().split()[0]))
        return self.db_url

    def _start_postgres_here(self) -> str:
        """initdb + postgres (a child in its own process group) as the postgres user when root."""
        for tool in ("initdb", "postgres", "pg_isready", "createdb"):
            if not (PG_BINDIR / tool).exists():
                raise DeployError(f"找不到 PostgreSQL 程序 {PG_BINDIR / tool}（apt-get install postgresql-15，"
                                  "或设置 GUIHUA_PG_BINDIR）")
        data, sock, user = self.folder / "pg" / "data", self.folder / "pg" / "sock", _run_as()
        sock.mkdir(parents=True, exist_ok=True)
        data.mkdir(parents=True, exist_ok=True)
        if user:
            for p in (data.parent, data, sock):
                shutil.chown(p, user=user)
        done = subprocess.run([str(PG_BINDIR / "initdb"), "-D", str(data), "-A", "trust", "-U", PG_USER,
                               "-E", "UTF8", "--locale=C"], user=user, cwd=data.parent,
                              capture_output=True, text=True)
        if done.returncode:
            raise DeployError(f"initdb 失败：{(done.stderr or done.stdout).strip()[-300:]}")
        port = free_port()
        svc = self.services.start("postgres", [str(PG_BINDIR / "postgres"), "-D", str(data), "-p", str(port),
                                               "-k", str(sock), "-c", "listen_addresses=127.0.0.1",
                                               "-c", "max_connections=200"], user=user, cwd=data.parent)
        deadline = time.monotonic() + 60
        while subprocess.run([str(PG_BINDIR / "pg_isready"), "-q", "-h", "127.0.0.1", "-p", str(port)]).returncode:
            if not svc.alive or time.monotonic() > deadline:
                raise DeployError(f"PostgreSQL 未能启动，日志 {svc.log}：\n{log_tail(svc.log)}")
            time.sleep(0.3)
        done = subprocess.run([str(PG_BINDIR / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER,
                               PG_USER], capture_output=True, text=True)
        if done.returncode:
            raise DeployError(f"createdb 失败：{done.stderr.strip()[-300:]}")
        self.db_url = f"postgresql+psycopg://{PG_USER}@127.0.0.1:{port}/{PG_USER}"
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
