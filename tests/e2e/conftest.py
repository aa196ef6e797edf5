"""End-to-end fixtures: the idp as a real process, a real SMTP server, real Chromium.

Reusable by other journeys (portal, social login):

- ``smtp``: an in-process aiosmtpd server; ``smtp.wait_for(address)`` returns a mail,
  ``link_in(mail)`` its action link.
- ``idp_server``: base URL plus ``cli(*args)`` (the ``idp`` command on the same database),
  ``load_realm(dict)`` and ``realm_url(realm, path)``.
- ``desktop_page`` / ``phone_page`` (iPhone 13): Playwright pages on Debian's chromium.

Under ``CI=true`` a missing chromium fails the run instead of skipping it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.idp.journey_helpers import (  # noqa: F401 (re-exported)
    Inbox,
    free_port,
    link_in,
    running_inbox,
)

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]


def _require_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    # Never a skip: a missing browser would hide untested journeys (make test installs it).
    pytest.fail(f"chromium not found at {CHROMIUM}: apt-get install chromium")


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's chromium, never a browser downloaded by Playwright."""
    _require_chromium()
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS}


@pytest.fixture(scope="session")
def smtp() -> Iterator[Inbox]:
    with running_inbox() as inbox:
        yield inbox


def fresh_database(tmp: Path, env_var: str, prefix: str) -> tuple[str, object]:
    """A fresh database: a SQLite file, or a new PostgreSQL database on the server named by
    ``env_var`` (CI); returns its URI and a function that drops it (or None)."""
    url = os.environ.get(env_var)
    if not url:
        return f"sqlite:///{tmp / f'{prefix}.db'}", None
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{prefix.replace('-', '_')}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return base.set(database=name).render_as_string(hide_password=False), drop


@dataclass
class IdpServer:
    """A running idp: ``url``, its environment, and helpers to drive it."""

    url: str
    env: dict[str, str]
    smtp: Inbox
    tmp: Path
    proc: subprocess.Popen | None = None
    realms: set[str] = field(default_factory=set)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``idp ARGS`` against the same database and settings."""
        result = subprocess.run([str(BIN / "idp"), *args], env=self.env, capture_output=True,
                                text=True, timeout=120)
        if check and result.returncode != 0:
            raise AssertionError(f"idp {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def load_realm(self, data: dict) -> str:
        path = self.tmp / f"realm-{data['realm']}.json"
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        self.cli("realms", "import", str(path))
        self.realms.add(data["realm"])
        return data["realm"]

    def realm_url(self, realm: str, path: str = "") -> str:
        return f"{self.url}/realms/{realm}/{path.lstrip('/')}"


def wait_up(url: str, proc: subprocess.Popen, name: str, log: Path | None = None,
            timeout: float = 30) -> None:
    """Wait until ``url`` answers 200; fail early (with the log) if the process died."""
    def detail() -> str:
        return f": {log.read_text()}" if log is not None and log.exists() else ""

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}{detail()}")
        try:
            with urllib.request.urlopen(url, timeout=1) as resp:
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{name} did not start{detail()}")


@contextmanager
def running_idp(tmp: Path, smtp: Inbox, *, host: str = "127.0.0.1", db_name: str = "idp-e2e",
                realm: dict | None = None) -> Iterator[IdpServer]:
    """The idp as a real server process (config/serve.py) on a fresh database, public URL
    ``http://{host}:PORT`` (passkeys need ``localhost``: an IP is no WebAuthn RP ID);
    ``realm`` is imported before the server starts."""
    uri, drop = fresh_database(tmp, "TEST_DATABASE_URL", db_name)
    port = free_port()
    url = f"http://{host}:{port}"
    env = {
        **os.environ,
        "IDP_SECRET_KEY": "e2e-secret-" + uuid.uuid4().hex,
        "IDP_PUBLIC_URL": url,
        "IDP_OUTBOUND_LOOPBACK": "1",  # the e2e portal's back-channel logout is on loopback
        "IDP_SQLALCHEMY_DATABASE_URI": uri,
        "IDP_MAIL_SERVER": "127.0.0.1",
        "IDP_MAIL_PORT": str(smtp.port),
        "IDP_MAIL_DEFAULT_SENDER": "Mon espace client <no-reply@monespaceclient.test>",
        "IDP_RATELIMIT_ENABLED": "false",
        "IDP_ARGON2_TIME_COST": "1",
        "IDP_ARGON2_MEMORY_COST": "1024",
        "IDP_ARGON2_PARALLELISM": "1",
        "FLASK_DEBUG": "0",
    }
    server = IdpServer(url=url, env=env, smtp=smtp, tmp=tmp)
    server.cli("db", "upgrade")
    if realm is not None:
        server.load_realm(realm)
    log_path = tmp / "idp.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [str(BIN / "python"), str(ROOT / "config" / "serve.py"), "idp.wsgi:app",
         "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    server.proc = proc
    try:
        wait_up(url + "/healthz", proc, "idp", log_path)
        yield server
    finally:
        stop(proc)
        log.close()
        if drop:
            drop()


def stop(proc: subprocess.Popen) -> None:
    """Terminate a server process, killing it if it does not stop within 10 s."""
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def idp_server(tmp_path_factory, smtp) -> Iterator[IdpServer]:
    with running_idp(tmp_path_factory.mktemp("idp"), smtp) as server:
        yield server


@pytest.fixture
def desktop_page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR")
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    yield page
    ctx.close()


@pytest.fixture
def phone_page(playwright, browser):
    ctx = browser.new_context(**playwright.devices["iPhone 13"], locale="fr-FR")
    page = ctx.new_page()
    page.set_default_timeout(10_000)
    yield page
    ctx.close()


@pytest.fixture(params=["desktop", "phone"])
def any_page(request):
    """The same journey on a desktop and on a phone."""
    return request.getfixturevalue(f"{request.param}_page")
