"""Issue 19, clients, through the staff console: the same operation and schema as the admin
API, DCR, realm import and the CLI (tests/api/test_client_attacks.py), so the console
refuses what they refuse: prefix-matched redirect URIs, internal back-channel logout URIs,
an authentication change without a fresh second factor, a client reaching another realm."""

from __future__ import annotations

import time
import types

import pytest

from idp.core import staff
from idp.core.clients import find_client, row_of
from idp.core.realms import find_realm
from tests.support.realms import import_realm

from .conftest import OTHER, REALM

C = f"/admin/console/realms/{REALM}"
FORM = {"client_id": "crm", "client_name": "CRM", "redirect_uris": "https://crm.example/cb",
        "grant_types": ["authorization_code"], "scope": "openid profile",
        "token_endpoint_auth_method": "client_secret_basic",
        "id_token_signed_response_alg": "RS256", "first_party": "y"}


def stored(app, client_id="crm"):
    with app.app_context():
        return find_client(find_realm(REALM).id, client_id)


@pytest.mark.parametrize("field", ["redirect_uris", "post_logout_redirect_uris"])
@pytest.mark.parametrize(("uri", "why"), [
    ("http://localhost.evil.example/cb", "must use https"),
    ("http://127.0.0.1.evil.example/cb", "must use https"),
    ("http://127.0.0.1@evil.example/cb", "must not carry credentials")])
def test_console_refuses_prefix_matched_uris(app, boss, field, uri, why):
    resp = boss.post(f"{C}/clients/new", {**FORM, field: uri}, page=f"{C}/clients/new")
    assert resp.status_code == 400
    assert why in resp.text
    assert resp.text.count("evil.example/cb") >= 2  # named in the error, kept in the field
    assert stored(app) is None


@pytest.mark.parametrize("uri", ["http://127.0.0.1:9911/bcl", "https://10.0.0.5/bcl",
                                 "https://[::1]/bcl", "https://localhost./bcl"])
def test_console_refuses_internal_backchannel_logout_uris(app, boss, uri):
    resp = boss.post(f"{C}/clients/new", {**FORM, "backchannel_logout_uri": uri},
                     page=f"{C}/clients/new")
    assert resp.status_code == 400
    assert stored(app) is None


def test_console_needs_step_up_to_make_a_client_public(app, boss, monkeypatch):
    """A signed-in super-admin whose second factor is older than the step-up window is
    sent to the step-up page, and the client keeps its secret."""
    later = time.time() + staff.STEP_UP_SECONDS + 60
    monkeypatch.setattr(staff, "time", types.SimpleNamespace(time=lambda: later))
    resp = boss.post(f"{C}/clients/rp", {**FORM, "redirect_uris": "https://rp.example/cb",
                                         "token_endpoint_auth_method": "none"},
                     page=f"{C}/clients/rp")
    assert resp.status_code == 302 and "step-up" in resp.headers["Location"], resp.headers
    info = stored(app, "rp")
    assert info.get("token_endpoint_auth_method") == "client_secret_basic"
    assert info.secret_hash


def test_console_realm_admin_cannot_rotate_a_client_reaching_another_realm(app, paris_admin):
    with app.app_context():
        import_realm({"realm": REALM, "clients": [{
            "client_id": "bridge", "client_secret": "b" * 40,
            "grant_types": ["client_credentials"], "response_types": [],
            "scope": "admin:customers:write", "admin_realms": [REALM, OTHER]}]})
        before = row_of(find_realm(REALM).id, "bridge").secret_hash
    resp = paris_admin.post(f"{C}/clients/bridge/rotate", {"back": f"{C}/clients/bridge"},
                            page=f"{C}/clients/bridge")
    assert resp.status_code == 403
    with app.app_context():
        assert row_of(find_realm(REALM).id, "bridge").secret_hash == before
