"""What the tests' own AWS endpoints share (``fake_mediaconvert``, ``fake_agentcore``: services moto
does not have): starting one on a thread, and pointing the ``aws_default`` connection at them."""

from __future__ import annotations

import json
import threading
from http.server import ThreadingHTTPServer
from typing import TypeVar

Server = TypeVar("Server", bound=ThreadingHTTPServer)


def started(server: Server, name: str) -> tuple[Server, threading.Thread]:
    """``server`` serving on a daemon thread (stop it with ``server.shutdown(); server.server_close()``)."""
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    return server, thread


def connection_env(env: dict[str, str], endpoints: dict[str, str]) -> dict[str, str]:
    """The local stack's environment, with the ``aws_default`` connection sending the calls of each
    service named in ``endpoints`` (botocore's service name -> URL) to its endpoint
    (``extra.service_config.<service>.endpoint_url``); every other service stays on the local stack."""
    conn = json.loads(env["AIRFLOW_CONN_AWS_DEFAULT"])
    conn["extra"]["service_config"] = {service: {"endpoint_url": url} for service, url in endpoints.items()}
    return {**env, "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn)}
