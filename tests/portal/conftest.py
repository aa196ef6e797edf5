"""Fixtures: a real fake OpenID Provider on loopback and a portal app wired to it."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from portal import create_app
from portal.data_import import import_data
from portal.extensions import db
from tests.support.tables import create_tables, empty_tables

from .fake_op import CLIENT_ID, CLIENT_SECRET, FakeOP

DEMO_FILE = Path(__file__).resolve().parents[2] / "config" / "demo" / "portal-data.json"


@pytest.fixture(scope="session")
def op_server() -> Any:
    op = FakeOP().start()
    yield op
    op.stop()


@pytest.fixture
def op(op_server: FakeOP) -> FakeOP:
    op_server.reset()
    return op_server


def demo_data(issuer: str) -> str:
    """The demo data file, re-keyed to the fake provider's issuer."""
    data = json.loads(DEMO_FILE.read_text(encoding="utf-8"))
    data["issuer"] = issuer
    return json.dumps(data, ensure_ascii=False)


@pytest.fixture
def app(op: FakeOP, tmp_path: Path) -> Any:
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        # CI runs the suite again with the portal on its own PostgreSQL database.
        "SQLALCHEMY_DATABASE_URI": os.environ.get("TEST_PORTAL_DATABASE_URL")
        or f"sqlite:///{tmp_path / 'portal.db'}",
        "OIDC_ISSUER": op.issuer,
        "OIDC_CLIENT_ID": CLIENT_ID,
        "OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "PUBLIC_URL": "http://127.0.0.1:5101",
        "JWKS_MIN_REFETCH_INTERVAL": 0,
    })
    with app.app_context():
        create_tables(db)
        report = import_data(demo_data(op.issuer))
        assert report.errors == []
    yield app
    with app.app_context():
        db.session.remove()
        empty_tables(db)
        db.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


def local_path(url: str) -> str:
    """Path and query of a portal URL, for the test client."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def start_login(client: Any, next_url: str | None = None) -> str:
    """GET /auth/login and follow the redirect to the provider; return the callback URL."""
    response = client.get("/auth/login" + (f"?next={next_url}" if next_url else ""))
    assert response.status_code == 302
    authorize = response.headers["Location"]
    answer = requests.get(authorize, allow_redirects=False, timeout=5)
    assert answer.status_code == 302, answer.text
    return local_path(answer.headers["Location"])


def sign_in(client: Any, op: FakeOP, customer_id: str = "100001") -> Any:
    """The whole authorization code flow; returns the callback response."""
    op.current_user = customer_id
    return client.get(start_login(client))


@pytest.fixture
def signed_in(client: Any, op: FakeOP) -> Any:
    response = sign_in(client, op)
    assert response.status_code == 302
    return client
