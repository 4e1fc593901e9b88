"""Rendering deploy/nginx/guihua.conf (a Jinja template: the upstream's app ports, the listen
address, the server name) for a server or for the deploy check, plus the check's own main
configuration around it (foreground, pid file, logs and temp paths in its temp folder).

Run ``python -m rag.deploy.nginx --listen 80 --ports 7861,7862`` to print the site for a server.

Not handled here: installing or reloading nginx, TLS (add it in the server block on a server).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import jinja2

from rag.deploy.units import DEPLOY_DIR

SITE = DEPLOY_DIR / "nginx" / "guihua.conf"


def render_site(app_ports: list[int], listen: str = "80", server_name: str = "_") -> str:
    """The site configuration (map, upstream, server blocks) for these app ports."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(SITE.read_text(encoding="utf-8")).render(
        app_ports=list(app_ports), listen=listen, server_name=server_name)


def write_standalone(folder: Path, app_ports: list[int], port: int) -> Path:
    """A complete configuration for ``nginx -c FILE -p folder`` on 127.0.0.1:port: the rendered
    site inside a main block that keeps nginx in the foreground with every file in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "logs").mkdir(exist_ok=True)
    site = folder / "guihua.conf"
    site.write_text(render_site(app_ports, listen=f"127.0.0.1:{port}", server_name="localhost"),
                    encoding="utf-8")
    temps = "\n".join(f"    {name}_temp_path {folder / (name + '_temp')};"
                      for name in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    main = folder / "nginx.conf"
    main.write_text(f"""daemon off;
worker_processes 2;
pid {folder / 'nginx.pid'};
error_log {folder / 'logs' / 'error.log'} warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log {folder / 'logs' / 'access.log'};
{temps}
    include {site};
}}
""", encoding="utf-8")
    return main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m rag.deploy.nginx",
                                description="输出 nginx 站点配置（deploy/nginx/guihua.conf 渲染后）。")
    p.add_argument("--ports", default="7861,7862", help="应用进程端口，逗号分隔（默认 7861,7862）")
    p.add_argument("--listen", default="80", help="nginx 监听地址（默认 80）")
    p.add_argument("--server-name", default="_", help="server_name（默认 _）")
    args = p.parse_args(argv)
    try:
        ports = [int(x) for x in args.ports.split(",") if x.strip()]
    except ValueError:
        print(f"错误：端口应为逗号分隔的整数：{args.ports}", file=sys.stderr)
        return 2
    if not ports:
        print("错误：至少需要一个应用端口", file=sys.stderr)
        return 2
    sys.stdout.write(render_site(ports, args.listen, args.server_name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
