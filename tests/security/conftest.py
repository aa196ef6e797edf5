"""Fixtures of the issue-9 security tests: the idp fixtures, a few helpers, and a real
threaded HTTP server on a PostgreSQL database of its own for the race tests.

Every test here documents, in its docstring, what the code did before the fix: each one
failed then and passes now, on SQLite and on PostgreSQL (``TEST_DATABASE_URL``). The race
tests always run on PostgreSQL (``TEST_POSTGRES_ADMIN_URL``, default a local server with
trust authentication): SQLite serialises writers and would hide the races.
"""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from sqlalchemy import create_engine, text
from werkzeug.serving import make_server

from idp import create_app
from idp.core.cache import clear_all as clear_cache
from idp.extensions import db
from tests.idp.conftest import (  # noqa: F401  (fixtures)
    REALM,
    RP,
    RP_SECRET,
    Browser,
    app,
    client,
    csrf_from,
    customer,
    flow,
    make_customer,
    runner,
)
from tests.support.realms import import_realm
from tests.support.sign_in import sign_in

PASSWORD = "Bonjour-2026!"
ADMIN_URL = os.environ.get("TEST_POSTGRES_ADMIN_URL",
                           "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def set_brute_force(application, **values: int) -> None:
    """Realm brute-force settings for one test (e.g. a huge failure_factor, so that only
    the temporary-code maximum counts)."""
    from idp.core.models import Realm
    from idp.core.realms import forget_realm

    with application.app_context():
        realm = db.session.execute(db.select(Realm).filter_by(slug=REALM)).scalar_one()
        settings = dict(realm.settings or {})
        settings["brute_force"] = {**settings.get("brute_force", {}), **values}
        realm.settings = settings
        db.session.commit()
    forget_realm(REALM)


def customer_of(identifier: str):
    from idp.core.models import Customer

    return db.session.execute(
        db.select(Customer).filter_by(identifier=identifier)).scalar_one()


def events(name: str) -> list:
    from idp.core.models import AuditEvent

    return list(db.session.execute(
        db.select(AuditEvent).filter_by(event=name).order_by(AuditEvent.id)).scalars())


def login(browser, identifier: str, password: str = PASSWORD):
    return sign_in(browser, identifier, password, realm=REALM)


# --- PostgreSQL + a real threaded server ---------------------------------------------------

@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for one test, dropped afterwards."""
    name = f"sec_{secrets.token_hex(6)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = :n AND pid <> pg_backend_pid()"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


class LiveIdp:
    """The idp served over real HTTP by werkzeug's threaded server (one thread per
    request), so simultaneous requests really run at once against PostgreSQL."""

    def __init__(self, application) -> None:
        self.app = application
        self.server = make_server("127.0.0.1", 0, application, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return self.base + path

    def start(self) -> LiveIdp:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture
def live(pg_url, idp_config) -> Iterator[LiveIdp]:
    """The test realm on its own PostgreSQL database, served by a real threaded server."""
    config = {**idp_config, "SQLALCHEMY_DATABASE_URI": pg_url,
              "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": 40, "max_overflow": 10}}
    application = create_app(config)
    with application.app_context():
        db.create_all()
        import_realm({
            "realm": REALM, "display_name": "Paris",
            "clients": [{"client_id": "rp", "client_secret": RP_SECRET,
                         "redirect_uris": [RP], "first_party": True,
                         "grant_types": ["authorization_code", "refresh_token"]}],
        })
    server = LiveIdp(application).start()
    try:
        yield server
    finally:
        server.stop()
        with application.app_context():
            db.session.remove()
            db.engine.dispose()
        clear_cache()


def all_at_once(count: int, job: Callable[[int], Any]) -> list[Any]:
    """Run ``job(i)`` in ``count`` threads released together by a barrier."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = job(i)
        except Exception as exc:  # reported as a result, asserted by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return results


def login_session(live: LiveIdp) -> tuple[requests.Session, str]:
    """A browser on the live server: its cookie and the sign-in form's CSRF token."""
    http = requests.Session()
    page = http.get(live.url(f"/realms/{REALM}/login"), timeout=30)
    assert page.status_code == 200
    return http, csrf_from(page.text)
