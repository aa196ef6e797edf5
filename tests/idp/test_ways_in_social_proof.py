"""Fresh proof with a linked social account: Mon compte's confirm page sends the
customer to the provider and back; only an identity linked to the very customer signed
in proves the session. A social-only customer links another provider after it."""

from __future__ import annotations

import time

import pytest

from idp.core.models import SsoSession
from idp.extensions import db

from .conftest import REALM
from .federation_support import (  # noqa: F401  (the *_fixture names are fixtures)
    Social,
    csrf_from,
    customer_row,
    events,
    fakes_fixture,
    idp_config_fixture,
    links_of,
    make_customer,
    social_app_fixture,
)

SOCIAL = f"/realms/{REALM}/account/social"
CONFIRM = f"/realms/{REALM}/account/confirm/"


@pytest.fixture
def web(social_app):
    return Social(social_app.test_client())


@pytest.fixture
def google_only(web, runner, social_app):
    """100001 signed in with Google (alice) and no password; the proof is 10 min old."""
    make_customer(runner, identifier="100001", email="marie@example.test")
    web.social("google")
    web.follow(web.link_with_password("google", "100001"))
    with social_app.app_context():
        customer_row("100001").password_hash = None
        for row in db.session.execute(db.select(SsoSession)).scalars():
            row.proved_at = row.auth_time = int(time.time()) - 600
        db.session.commit()
    return web


def test_social_only_customer_proves_with_google_then_links_another(google_only, social_app):
    web = google_only
    page = web.get(SOCIAL)
    resp = web.post(f"{SOCIAL}/x/link", data={"csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302 and resp.headers["Location"].startswith(CONFIRM)
    confirm = web.get(resp.headers["Location"])
    assert 'id="confirm-google"' in confirm.text
    assert 'name="current_password"' not in confirm.text  # no password to ask
    start = web.get(f"/realms/{REALM}/account/confirm/google")
    back = web.callback(web.at_provider(start.headers["Location"], user="alice"))
    assert back.status_code == 302
    done = web.get(back.headers["Location"])
    assert done.headers["Location"].endswith(SOCIAL)
    # Proved: the link now goes straight to the provider.
    resp = web.post(f"{SOCIAL}/x/link", data={"csrf_token": csrf_from(web.get(SOCIAL).text)})
    assert resp.status_code == 302 and not web.internal(resp.headers["Location"])
    with social_app.app_context():
        assert [e.detail["how"] for e in events("proof_renewed")] == ["social"]


def test_someone_elses_google_proves_nothing(google_only, social_app):
    web = google_only
    start = web.get(f"/realms/{REALM}/account/confirm/google")
    back = web.callback(web.at_provider(start.headers["Location"], user="bruno"))
    assert back.status_code == 400 and 'data-reason="bad_state"' in back.text
    resp = web.post(f"{SOCIAL}/x/link", data={"csrf_token": csrf_from(web.get(SOCIAL).text)})
    assert resp.headers["Location"].startswith(CONFIRM)
    with social_app.app_context():
        assert events("proof_renewed") == []
        assert [e.detail["how"] for e in events("proof_failed")] == ["social"]
        assert [r.provider for r in links_of("100001")] == ["google"]
