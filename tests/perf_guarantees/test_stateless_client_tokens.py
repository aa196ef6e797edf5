"""Issue 10: what the faster token endpoint must keep.

A client-credentials grant writes nothing (its JWT is self-contained), yet its token is
still introspectable and revocable (the revocation is a row under its ``jti``); a refresh
token is rotated by one ``UPDATE … RETURNING`` that only its own client can win.
"""

from __future__ import annotations

import base64

from idp.core.models import Token
from idp.extensions import db

from .conftest import REALM, RP_SECRET

BASE = f"/realms/{REALM}/protocol/openid-connect"
TOKEN, REVOKE, INTROSPECT = f"{BASE}/token", f"{BASE}/revoke", f"{BASE}/token/introspect"
USERINFO = f"{BASE}/userinfo"


def basic(client_id: str = "rp") -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{RP_SECRET}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def rows(app) -> list[Token]:
    with app.app_context():
        return list(db.session.execute(db.select(Token)).scalars())


def test_client_credentials_token_is_stateless_yet_introspectable_and_revocable(app, client):
    resp = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=basic())
    assert resp.status_code == 200, resp.json
    at = resp.json["access_token"]
    assert rows(app) == []  # no database write for the grant

    info = client.post(INTROSPECT, data={"token": at}, headers=basic()).json
    assert info["active"] is True
    assert info["client_id"] == "rp" and info["sub"] == "rp"
    assert info["token_type"] == "Bearer"
    denied = client.get(USERINFO, headers={"Authorization": f"Bearer {at}"})
    assert denied.status_code == 403  # a client's token speaks for no customer

    assert client.post(REVOKE, data={"token": at}, headers=basic()).status_code == 200
    assert client.post(INTROSPECT, data={"token": at}, headers=basic()).json == {
        "active": False}
    assert client.get(USERINFO, headers={"Authorization": f"Bearer {at}"}).status_code == 401
    # Revoked twice: still one deny-list row, still 200 (RFC 7009).
    assert client.post(REVOKE, data={"token": at}, headers=basic()).status_code == 200
    (row,) = rows(app)
    assert row.revoked_at is not None and row.customer_id is None


def test_another_clients_stateless_token_is_neither_revoked_nor_introspected(app, client):
    at = client.post(TOKEN, data={"grant_type": "client_credentials"},
                     headers=basic()).json["access_token"]
    other = {"client_id": "post", "client_secret": RP_SECRET}
    assert client.post(REVOKE, data={"token": at, **other}).status_code == 200
    assert rows(app) == []  # RFC 7009 §2.2: treated as unknown, nothing revoked
    assert client.post(INTROSPECT, data={"token": at, **other}).json == {"active": False}
    assert client.post(INTROSPECT, data={"token": at}, headers=basic()).json["active"]


def test_refresh_token_presented_by_another_client_does_not_rotate_it(app, client, flow,
                                                                       customer):
    params = flow.code_flow(scope="openid offline_access")
    body = client.post(TOKEN, headers=basic(), data={
        "grant_type": "authorization_code", "code": params["code"],
        "redirect_uri": "https://rp.example/cb"}).json
    stolen = client.post(TOKEN, data={"grant_type": "refresh_token", "client_id": "post",
                                      "client_secret": RP_SECRET,
                                      "refresh_token": body["refresh_token"]})
    assert stolen.status_code == 400 and stolen.json["error"] == "invalid_grant"
    mine = client.post(TOKEN, headers=basic(), data={
        "grant_type": "refresh_token", "refresh_token": body["refresh_token"]})
    assert mine.status_code == 200, mine.json
    assert "id_token" in mine.json
    assert all(r.revoked_at is None for r in rows(app))
