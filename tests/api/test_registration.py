"""Dynamic Client Registration (RFC 7591) and management (RFC 7592), initial access
tokens (CLI, API), and the refusals with the RFC's error codes."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import PARIS

REG = f"/realms/{PARIS}/clients-registrations/openid-connect"
GOOD = {"client_name": "Appli agence", "redirect_uris": ["https://app.example/cb"],
        "logo_uri": "https://app.example/logo.png", "first_party": True}


def initial_token(client, crm, uses=1):
    resp = client.post(f"/admin/realms/{PARIS}/clients-initial-access",
                       json={"expires_in": 3600, "uses": uses}, headers=crm)
    assert resp.status_code == 201, resp.text
    return resp.json["token"]


def test_discovery_announces_registration(client):
    doc = client.get(f"/realms/{PARIS}/.well-known/openid-configuration").json
    assert doc["registration_endpoint"] == f"http://idp.test{REG}"


def test_register_read_update_delete(client, crm):
    token = initial_token(client, crm)
    resp = client.post(REG, json=GOOD, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 201, resp.text
    data = resp.json
    assert data["first_party"] is False  # never trusted from the app itself
    assert data["client_secret"] and data["registration_access_token"]
    assert data["grant_types"] == ["authorization_code"]
    uri = data["registration_client_uri"].removeprefix("http://idp.test")
    manage = {"Authorization": f"Bearer {data['registration_access_token']}"}
    read = client.get(uri, headers=manage)
    assert read.status_code == 200 and "client_secret" not in read.json
    assert client.get(uri, headers={"Authorization": "Bearer nope"}).status_code == 401
    update = {**GOOD, "client_id": data["client_id"],
              "redirect_uris": ["https://app.example/cb2"]}
    put = client.put(uri, json=update, headers=manage)
    assert put.status_code == 200 and put.json["redirect_uris"] == ["https://app.example/cb2"]
    assert client.delete(uri, headers=manage).status_code == 204
    assert client.get(uri, headers=manage).status_code == 401
    # The token had one use.
    again = client.post(REG, json=GOOD, headers={"Authorization": f"Bearer {token}"})
    assert again.status_code == 401


@pytest.mark.parametrize(("metadata", "error"), [
    ({"redirect_uris": ["http://app.example/cb"]}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://app.example/cb#x"]}, "invalid_redirect_uri"),
    ({"redirect_uris": []}, "invalid_redirect_uri"),
    ({"redirect_uris": ["https://a.example/cb"], "grant_types": ["password"]},
     "invalid_client_metadata"),
    ({"redirect_uris": ["https://a.example/cb"], "grant_types": ["implicit"],
      "response_types": ["token"]}, "invalid_client_metadata"),
    ({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method":
      "private_key_jwt", "jwks_uri": "https://127.0.0.1/jwks"}, "invalid_client_metadata"),
    ({"redirect_uris": ["https://a.example/cb"], "token_endpoint_auth_method":
      "private_key_jwt", "jwks_uri": "https://10.0.0.8/jwks"}, "invalid_client_metadata"),
    ({"redirect_uris": ["https://a.example/cb"], "jwks_uri": "http://keys.example/jwks"},
     "invalid_client_metadata"),
    ({"redirect_uris": ["https://a.example/cb"], "scope": "openid admin:clients"},
     "invalid_client_metadata"),
])
def test_refusals_keep_the_token(client, crm, metadata, error):
    token = initial_token(client, crm)
    resp = client.post(REG, json=metadata, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400 and resp.json["error"] == error, resp.text
    ok = client.post(REG, json=GOOD, headers={"Authorization": f"Bearer {token}"})
    assert ok.status_code == 201  # a refused registration spent no use


def test_loopback_http_is_allowed_and_tokens_are_required(client, crm):
    body = {"redirect_uris": ["http://127.0.0.1:8765/cb"], "token_endpoint_auth_method": "none"}
    assert client.post(REG, json=body).status_code == 401
    token = initial_token(client, crm)
    resp = client.post(REG, json=body, headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 201 and "client_secret" not in resp.json


def test_cli_initial_token_and_expiry(app, client):
    runner = app.test_cli_runner()
    out = runner.invoke(args=["clients", "initial-token", "--realm", PARIS, "--expires", "2h",
                              "--uses", "2", "--json"])
    assert out.exit_code == 0, out.output
    token = json.loads(out.output)["token"]
    for _ in range(2):
        assert client.post(REG, json=GOOD, headers={
            "Authorization": f"Bearer {token}"}).status_code == 201
    assert client.post(REG, json=GOOD, headers={
        "Authorization": f"Bearer {token}"}).status_code == 401
    bad = runner.invoke(args=["clients", "initial-token", "--realm", PARIS, "--expires", "5"])
    assert bad.exit_code != 0 and "expiry" in bad.output
    with app.app_context():
        from datetime import timedelta

        from idp.core import initial_tokens
        from idp.core.models import utcnow
        from idp.core.realms import find_realm
        from idp.extensions import db

        issued = initial_tokens.issue(find_realm(PARIS).id, expires_in=60, uses=1)
        db.session.get(initial_tokens.InitialAccessToken, issued.id).expires_at = (
            utcnow() - timedelta(seconds=1))
        db.session.commit()
        expired = issued.token
    assert client.post(REG, json=GOOD, headers={
        "Authorization": f"Bearer {expired}"}).status_code == 401


def test_api_lists_and_revokes_initial_tokens(client, crm):
    token = initial_token(client, crm, uses=3)
    listed = client.get(f"/admin/realms/{PARIS}/clients-initial-access", headers=crm).json
    assert listed["items"][0]["max_uses"] == 3 and "token" not in listed["items"][0]
    token_id = listed["items"][0]["id"]
    assert client.delete(f"/admin/realms/{PARIS}/clients-initial-access/{token_id}",
                         headers=crm).status_code == 204
    assert client.post(REG, json=GOOD, headers={
        "Authorization": f"Bearer {token}"}).status_code == 401
