"""Start the four fake providers as real processes on loopback ports.

>>> from tests.fakes.run import running_fakes
>>> with running_fakes() as urls:          # doctest: +SKIP
...     urls["google"]                      # 'http://127.0.0.1:41234'

Each fake is started with ``--port 0`` and prints ``LISTENING <url>`` once bound, so there is
no port race; we then poll ``/_fake/health`` until it answers.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import requests

PROVIDERS = ("google", "linkedin", "facebook", "x")
REPO_ROOT = Path(__file__).resolve().parents[2]


#: Credentials of the default clients registered in each fake.
DEFAULT_CREDENTIALS: dict[str, tuple[str, str]] = {
    "google": ("google-client-id.apps.googleusercontent.com", "google-client-secret"),
    "linkedin": ("86linkedinclient", "linkedin-client-secret"),
    "facebook": ("1234567890123456", "facebook-app-secret"),
    "x": ("x-client-id", "x-client-secret"),
}


def identity_provider_settings(alias: str, base_url: str) -> dict[str, Any]:
    """One realm JSON ``identity_providers`` entry pointing at a running fake."""
    client_id, secret = DEFAULT_CREDENTIALS[alias]
    entry: dict[str, Any] = {"alias": alias, "client_id": client_id,
                             "client_secret": secret, "enabled": True}
    if alias == "google":
        entry["discovery_url"] = f"{base_url}/.well-known/openid-configuration"
    elif alias == "linkedin":
        entry["discovery_url"] = f"{base_url}/oauth/.well-known/openid-configuration"
    elif alias == "facebook":
        entry.update(graph_version="v24.0",
                     authorization_url=f"{base_url}/v24.0/dialog/oauth",
                     token_url=f"{base_url}/v24.0/oauth/access_token",
                     userinfo_url=f"{base_url}/v24.0/me")
    elif alias == "x":
        entry.update(authorization_url=f"{base_url}/i/oauth2/authorize",
                     token_url=f"{base_url}/2/oauth2/token",
                     userinfo_url=f"{base_url}/2/users/me")
    return entry


def realm_identity_providers(urls: dict[str, str]) -> list[dict[str, Any]]:
    """The realm JSON ``identity_providers`` list for the fakes ``running_fakes()`` yielded."""
    return [identity_provider_settings(alias, url) for alias, url in urls.items()]


def _read_listening_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """Wait for the child's ``LISTENING <url>`` line (in a thread, so we can time out)."""
    result: list[str] = []

    def reader() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("LISTENING "):
                result.append(line.split(" ", 1)[1].strip())
                return

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    if not result:
        raise RuntimeError(f"fake provider did not start in {timeout}s (exit code {proc.poll()})")
    return result[0]


def _wait_healthy(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(f"{url}/_fake/health", timeout=1).ok:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"fake provider at {url} never answered")
        time.sleep(0.05)


@contextlib.contextmanager
def running_fakes(
    providers: Iterable[str] = PROVIDERS,
    users_file: str | os.PathLike[str] | None = None,
    clients_files: dict[str, str | os.PathLike[str]] | None = None,
    startup_timeout: float = 20.0,
) -> Iterator[dict[str, str]]:
    """Run the fakes as subprocesses; yield ``{alias: base_url}``; stop them on exit."""
    procs: list[subprocess.Popen[str]] = []
    urls: dict[str, str] = {}
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    try:
        for alias in providers:
            if alias not in PROVIDERS:
                raise ValueError(f"unknown fake provider {alias!r}")
            cmd = [sys.executable, "-m", f"tests.fakes.{alias}", "--port", "0"]
            if users_file:
                cmd += ["--users", str(users_file)]
            if clients_files and alias in clients_files:
                cmd += ["--clients", str(clients_files[alias])]
            proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL, text=True)
            procs.append(proc)
            urls[alias] = _read_listening_line(proc, startup_timeout)
        for url in urls.values():
            _wait_healthy(url, startup_timeout)
        yield urls
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # so that running_fakes() stops the children on `kill`


def main() -> None:
    """``python -m tests.fakes.run``: start all four and print their URLs until Ctrl-C."""
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    with running_fakes() as urls:
        for alias, url in urls.items():
            print(f"{alias:9s} {url}", flush=True)
        print(json.dumps({"identity_providers": realm_identity_providers(urls)}, indent=2),
              flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
