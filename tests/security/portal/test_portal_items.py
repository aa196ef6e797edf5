"""Issue 9, items 7 and 10, on the portal's side: logout tokens, JWKS errors, SECRET_KEY,
anonymous sessions, refresh tokens presented to the API."""

from __future__ import annotations

import time
from typing import Any

import pytest

from portal import create_app
from portal.api import IntrospectionValidator, LocalValidator
from portal.extensions import db
from portal.models import ServerSession
from shared.token_verification import KeySourceError, TokenError


def _post_logout(client, token: str):
    return client.post("/auth/backchannel-logout", data={"logout_token": token})


def test_logout_token_past_its_exp_is_refused(client, op):
    """Before: ``exp`` of a logout token was never looked at (``require_exp=False`` skipped
    the whole check), so a captured, long-expired token still ended sessions."""
    now = int(time.time())
    resp = _post_logout(client, op.logout_token(sub="sub-100001", iat=now - 400,
                                                exp=now - 300))
    assert resp.status_code == 400 and resp.json["error_description"] == "token expired"


def test_logout_token_without_exp_but_old_iat_is_refused(client, op):
    """Before: a logout token without ``exp`` was good forever (any ``iat`` in the past)."""
    resp = _post_logout(client, op.logout_token(sub="sub-100001", exp=None,
                                                iat=int(time.time()) - 3600))
    assert resp.status_code == 400 and resp.json["error_description"] == "token too old"


def test_fresh_logout_token_still_accepted(client, op):
    resp = _post_logout(client, op.logout_token(sub="sub-100001", exp=None))
    assert resp.status_code == 200


def test_jwks_failure_is_not_echoed_with_the_internal_url(app, client, op, monkeypatch):
    """Before: the 400 answer carried ``str(exc)``: "cannot fetch http://<internal
    host>/...: <connection error>" — the idp's internal address to whoever posts."""
    verifier = app.extensions["portal_oidc"].verifier

    def down(*_a: Any, **_k: Any) -> Any:
        raise KeySourceError("cannot fetch http://idp.internal:5100/certs: refused")

    monkeypatch.setattr(verifier, "key_for", down)
    resp = _post_logout(client, op.logout_token(sub="sub-100001"))
    assert resp.status_code == 503
    assert "idp.internal" not in resp.get_data(as_text=True)
    assert "5100" not in resp.get_data(as_text=True)


@pytest.mark.parametrize("config", [{}, {"SECRET_KEY": ""}])
def test_portal_refuses_to_start_without_secret_key(config, tmp_path, monkeypatch):
    """Before: without PORTAL_SECRET_KEY (and no PRODUCTION flag, which the portal never
    sets) a random key was used silently: cookies and CSRF tokens broke at each restart and
    differed between instances."""
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    monkeypatch.delenv("FLASK_DEBUG", raising=False)
    with pytest.raises(RuntimeError, match="PORTAL_SECRET_KEY"):
        create_app({**config, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}"})


def test_portal_without_secret_key_starts_in_tests_or_debug(tmp_path, monkeypatch):
    monkeypatch.delenv("PORTAL_SECRET_KEY", raising=False)
    uri = f"sqlite:///{tmp_path / 'p.db'}"
    assert create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": uri}).secret_key
    assert create_app({"DEBUG": True, "SQLALCHEMY_DATABASE_URI": uri}).secret_key


def test_anonymous_requests_insert_no_session_row(app, client):
    """Before (issue 9, item 10): each anonymous request could leave a session row; now a
    row is created only when there is something to keep (a sign-in in progress)."""
    for path in ("/", "/comptes", "/documents", "/nope", "/auth/callback?state=forged",
                 "/api/v1/openapi.json", "/readyz"):
        client.get(path)
    with app.app_context():
        assert db.session.query(ServerSession).count() == 0
    client.get("/auth/login")  # a pending sign-in: worth a row
    with app.app_context():
        assert db.session.query(ServerSession).count() == 1


class _Http:
    def __init__(self, answer: dict[str, Any]) -> None:
        self.answer = answer

    def post(self, *_a: Any, **_k: Any) -> Any:
        answer = self.answer

        class R:
            def json(self) -> dict[str, Any]:
                return answer

        return R()


class _Client:
    client_id, client_secret, timeout = "portal", "s", 5

    def __init__(self, answer: dict[str, Any]) -> None:
        self.http = _Http(answer)

    def endpoint(self, _name: str) -> str:
        return "http://idp.test/introspect"


def test_api_refuses_a_refresh_token_presented_as_bearer():
    """Before: with API_TOKEN_VALIDATION=introspection, an active refresh token (the idp
    answers ``active: true`` for it) opened the API like an access token."""
    answer = {"active": True, "token_type": "refresh_token", "aud": "portal",
              "scope": "openid customer", "sub": "s", "customer_id": "100001"}
    with pytest.raises(TokenError, match="not an access token"):
        IntrospectionValidator(_Client(answer), "portal")("opaque-refresh-token")
    ok = IntrospectionValidator(_Client({**answer, "token_type": "Bearer"}), "portal")
    assert ok("opaque-access-token")["customer_id"] == "100001"


def test_local_validation_refuses_an_opaque_refresh_token(app):
    with app.app_context(), pytest.raises(TokenError):
        LocalValidator(app.extensions["portal_oidc"], "portal")("Zx" * 22)
