"""Start the idp as a real gunicorn process on loopback for benchmarks."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_idp(realm: dict, workers: int = 1, threads: int = 1) -> Iterator[tuple[str, dict]]:
    """A migrated SQLite idp with ``realm`` imported, served by gunicorn; yields (url, env)."""
    tmp = Path(tempfile.mkdtemp(prefix="bench-idp-"))
    port = free_port()
    env = {
        **os.environ,
        "IDP_SECRET_KEY": "bench-" + "k" * 40,
        "IDP_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "IDP_SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp / 'idp.db'}",
        "IDP_RATELIMIT_ENABLED": "false",
    }
    subprocess.run([BIN / "idp", "db", "upgrade"], env=env, check=True, capture_output=True)
    (tmp / "realm.json").write_text(json.dumps(realm), encoding="utf-8")
    subprocess.run([BIN / "idp", "realms", "import", tmp / "realm.json"], env=env, check=True,
                   capture_output=True)
    proc = subprocess.Popen(
        [BIN / "gunicorn", "-w", str(workers), "--threads", str(threads), "-k", "gthread",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "idp.wsgi:app"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                requests.get(f"{url}/healthz", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.1)
        yield url, env
    finally:
        proc.terminate()
        proc.wait(timeout=10)
