"""UserInfo, revocation (RFC 7009) and introspection (RFC 7662)."""

from .oidc_helpers import INTROSPECT, REVOKE, TOKEN, USERINFO, basic, redeem


def tokens_for(flow, client, scope="openid profile email customer"):
    q = flow.code_flow(scope=scope)
    return redeem(client, q["code"]).json


def test_userinfo_get_post_and_body(flow, customer, client):
    at = tokens_for(flow, client)["access_token"]
    by_get = client.get(USERINFO, headers={"Authorization": f"Bearer {at}"})
    assert by_get.status_code == 200
    info = by_get.json
    assert info["email"] == "marie@example.test" and info["email_verified"] is True
    assert info["customer_id"] == "100001"
    assert info["name"] == "Marie Dupont"
    assert by_get.headers["Cache-Control"] == "no-store"
    by_post = client.post(USERINFO, headers={"Authorization": f"Bearer {at}"})
    assert by_post.json == info
    by_body = client.post(USERINFO, data={"access_token": at})
    assert by_body.json == info


def test_userinfo_scope_limits_claims(flow, customer, client):
    at = tokens_for(flow, client, scope="openid")["access_token"]
    info = client.get(USERINFO, headers={"Authorization": f"Bearer {at}"}).json
    assert set(info) == {"sub"}


def test_userinfo_claims_parameter_within_scope(flow, customer, client):
    """``claims`` picks among what the granted scopes allow (here email and profile)."""
    q = flow.code_flow(scope="openid email",
                       claims='{"userinfo": {"email": {"essential": true}}}')
    at = redeem(client, q["code"]).json["access_token"]
    info = client.get(USERINFO, headers={"Authorization": f"Bearer {at}"}).json
    assert info["email"] == "marie@example.test"
    assert "name" not in info


def test_claims_parameter_cannot_exceed_scope(flow, customer, client):
    """Security: a client granted only ``openid`` cannot read email, phone or the
    identifier by naming them in ``claims``."""
    from .oidc_helpers import verify

    asked = ('{"userinfo": {"email": null, "phone_number": null, "customer_id": null},'
             ' "id_token": {"customer_id": null, "email": null}}')
    q = flow.code_flow(scope="openid", claims=asked)
    body = redeem(client, q["code"]).json
    info = client.get(USERINFO, headers={"Authorization": f"Bearer {body['access_token']}"}).json
    assert set(info) == {"sub"}
    claims = verify(client, body["id_token"])[1]
    assert "customer_id" not in claims and "email" not in claims


def test_id_token_claims_parameter(flow, customer, client):
    from .oidc_helpers import verify

    q = flow.code_flow(scope="openid customer email",
                       claims='{"id_token": {"email": {"essential": true}}}')
    body = redeem(client, q["code"]).json
    claims = verify(client, body["id_token"])[1]
    assert claims["customer_id"] == "100001"
    assert claims["email"] == "marie@example.test"


def test_userinfo_errors(client):
    missing = client.get(USERINFO)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert "error=" not in missing.headers["WWW-Authenticate"]
    bad = client.get(USERINFO, headers={"Authorization": "Bearer abc.def.ghi"})
    assert bad.status_code == 401
    assert 'error="invalid_token"' in bad.headers["WWW-Authenticate"]


def test_userinfo_rejects_id_token(flow, customer, client):
    idt = tokens_for(flow, client)["id_token"]
    resp = client.get(USERINFO, headers={"Authorization": f"Bearer {idt}"})
    assert resp.status_code == 401


def test_client_credentials_token_has_no_userinfo(client):
    at = client.post(TOKEN, data={"grant_type": "client_credentials"},
                     headers=basic()).json["access_token"]
    resp = client.get(USERINFO, headers={"Authorization": f"Bearer {at}"})
    assert resp.status_code == 403
    assert 'error="insufficient_scope"' in resp.headers["WWW-Authenticate"]


def test_revoke_access_token(flow, customer, client):
    at = tokens_for(flow, client)["access_token"]
    resp = client.post(REVOKE, data={"token": at}, headers=basic())
    assert resp.status_code == 200
    assert client.get(USERINFO, headers={"Authorization": f"Bearer {at}"}).status_code == 401


def test_revoke_refresh_token_revokes_family(flow, customer, client):
    body = tokens_for(flow, client)
    assert client.post(REVOKE, data={"token": body["refresh_token"],
                                     "token_type_hint": "refresh_token"},
                       headers=basic()).status_code == 200
    again = client.post(TOKEN, data={"grant_type": "refresh_token",
                                     "refresh_token": body["refresh_token"]}, headers=basic())
    assert again.status_code == 400
    resp = client.get(USERINFO, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert resp.status_code == 401


def test_revoke_unknown_token_is_200_and_needs_auth(client):
    assert client.post(REVOKE, data={"token": "nope"}, headers=basic()).status_code == 200
    assert client.post(REVOKE, data={"token": "nope"}).status_code == 401


def test_introspection(flow, customer, client):
    body = tokens_for(flow, client)
    active = client.post(INTROSPECT, data={"token": body["access_token"]}, headers=basic())
    assert active.status_code == 200
    data = active.json
    assert data["active"] is True and data["client_id"] == "rp"
    assert data["customer_id"] == "100001" and data["token_type"] == "Bearer"
    assert isinstance(data["exp"], int)
    refresh = client.post(INTROSPECT, data={"token": body["refresh_token"]}, headers=basic())
    assert refresh.json["active"] is True
    client.post(REVOKE, data={"token": body["access_token"]}, headers=basic())
    gone = client.post(INTROSPECT, data={"token": body["access_token"]}, headers=basic())
    assert gone.json == {"active": False}
    unknown = client.post(INTROSPECT, data={"token": "zzz"}, headers=basic())
    assert unknown.json == {"active": False}


def test_introspection_requires_client_auth(client):
    resp = client.post(INTROSPECT, data={"token": "x"})
    assert resp.status_code == 401
