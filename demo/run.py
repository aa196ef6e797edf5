"""Run a whole demo (``scripts/demo.sh``) in a throwaway folder on free ports.

For the screenshot script and the demo's own tests: they need the real apps as ``make demo``
runs them, with fresh demo customers (100002 still owes its première connexion), without
disturbing a ``make demo`` the developer may have running on the default ports.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .config import HOST, PROVIDERS

ROOT = Path(__file__).resolve().parents[1]
REALM = "paris-ile-de-france"
SERVICES = ("idp", "portal", "smtp", "inbox", "facebook", "linkedin", "google", "x")


@dataclass(frozen=True)
class RunningDemo:
    """Where each part of a running demo answers."""

    ports: dict[str, int]
    folder: Path

    def url(self, service: str, path: str = "/") -> str:
        """The address a visitor opens: ``localhost`` for the idp, the portal and the
        inbox (passkeys need a host name), ``127.0.0.1`` for the demo providers."""
        host = "127.0.0.1" if service in PROVIDERS else HOST
        return f"http://{host}:{self.ports[service]}{path}"

    @property
    def issuer(self) -> str:
        return self.url("idp", f"/realms/{REALM}")


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (held open together so they cannot repeat)."""
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


#: ``make demo``'s own ports, so that screenshots show the URLs a reader will see.
DEFAULT_PORTS = {"idp": 5100, "portal": 5101, "smtp": 8025, "inbox": 5102,
                 "facebook": 5111, "linkedin": 5112, "google": 5113, "x": 5114}


def all_free(ports: list[int]) -> bool:
    """Whether every port can be bound on loopback right now."""
    for port in ports:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


@contextlib.contextmanager
def running_demo(folder: Path, timeout: float = 420.0,
                 default_ports: bool = False) -> Iterator[RunningDemo]:
    """``scripts/demo.sh`` with its state in ``folder``; stopped (all of it) on exit.

    ``default_ports``: use ``make demo``'s ports when they are all free (free ports otherwise).
    """
    if default_ports and all_free(list(DEFAULT_PORTS.values())):
        ports = dict(DEFAULT_PORTS)
    else:
        ports = dict(zip(SERVICES, free_ports(len(SERVICES)), strict=True))
    env = {**os.environ, "DEMO_DIR": str(folder), "PYTHONUNBUFFERED": "1",
           **{f"{name.upper()}_PORT": str(port) for name, port in ports.items()}}
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "demo.sh")], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    output: list[str] = []
    ready = threading.Event()

    def read() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            output.append(line)
            if "demo is running" in line:
                ready.set()
        ready.set()  # ended: let the caller see why

    threading.Thread(target=read, daemon=True).start()
    try:
        ready.wait(timeout)
        if proc.poll() is not None or not any("demo is running" in line for line in output):
            raise RuntimeError("the demo did not start:\n" + "".join(output))
        yield RunningDemo(ports=ports, folder=folder)
    finally:
        if proc.poll() is None:
            # The script's own trap stops the apps it started; the group catches stragglers.
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
