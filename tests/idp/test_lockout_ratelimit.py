"""Per-IP limits (Flask-Limiter) on the credential forms: the one test with them enabled."""

from __future__ import annotations

import pytest

from .journey_helpers import post


@pytest.fixture
def idp_config(idp_config):
    return {**idp_config, "RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3/minute"}


@pytest.fixture(autouse=True)
def fresh_budget(app):
    """Counters live in the limiter's storage (Redis in CI): start each test from zero."""
    from idp.extensions import limiter

    with app.app_context():
        limiter.reset()


def test_per_ip_limit_shared_by_credential_forms(client):
    codes = [post(client, "forgot-password", {"login": "x"}).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    # The budget is shared: another credential form from the same IP is refused too.
    resp = post(client, "login-actions/password", {"password": "x", "confirm": "x"})
    assert resp.status_code == 429 and "Trop de tentatives" in resp.text


def test_sign_in_page_spends_the_same_budget(client):
    codes = [post(client, "login", {"login": "nobody", "password": "x"}).status_code
             for _ in range(3)]
    assert codes == [401, 401, 401]
    resp = post(client, "forgot-password", {"login": "x"})
    assert resp.status_code == 429
