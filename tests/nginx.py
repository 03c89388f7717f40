"""The nginx configuration of a load balancer in front of several server processes.

One template for the tests (tests/balancer.py) and the benchmarks (bench/run.py), so that
what is measured is what is tested. It imports nothing of the tests, so that bench/ can
use it without pytest or Django.
"""

from __future__ import annotations

CONFIG = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream nodes {{
        {policy}
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://nodes;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_read_timeout 120s;
            proxy_buffering off;
            # A process that is gone refuses the connection: try the next one.
            proxy_next_upstream error non_idempotent;
        }}
    }}
}}
"""


def nginx_config(
    directory: str, port: int, ports: list[int], sticky: bool, max_fails: int = 1
) -> str:
    """nginx listening on `port` in front of `ports`: round-robin, or ip_hash if `sticky`.

    `directory` holds its pid, logs and temporary files. A process that refused a
    connection is skipped for 5 s after `max_fails` refusals; 0: never skipped (every
    request tries it first in its turn, then the next), for processes that restart.
    """
    servers = "\n".join(
        f"        server 127.0.0.1:{p} max_fails={max_fails} fail_timeout=5s;" for p in ports
    )
    return CONFIG.format(
        dir=directory, port=port, servers=servers, policy="ip_hash;" if sticky else ""
    )
