"""Token endpoint: code redemption, client auth, id_token and RFC 9068 access token."""

import base64
import json

from .conftest import ISSUER, RP, RP_SECRET, make_customer
from .oidc_helpers import TOKEN, basic, redeem, verify


def jwt_header(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def test_code_exchange_gives_tokens(flow, customer, client):
    q = flow.code_flow(scope="openid profile email customer offline_access", nonce="n-42")
    resp = redeem(client, q["code"])
    assert resp.status_code == 200, resp.json
    assert resp.headers["Cache-Control"] == "no-store"
    body = resp.json
    assert body["token_type"] == "Bearer"
    assert isinstance(body["expires_in"], int) and body["expires_in"] > 0
    assert body["refresh_token"] and len(body["refresh_token"]) >= 43
    header, claims = verify(client, body["id_token"])
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["nonce"] == "n-42"
    assert claims["aud"] == "rp" and claims["azp"] == "rp"
    assert claims["amr"] == ["pwd"]
    assert claims["sid"] and claims["auth_time"] <= claims["iat"]
    assert claims["at_hash"]
    assert claims["jti"]
    # profile claims go to userinfo when an access token is issued
    assert "email" not in claims
    at_header, at = verify(client, body["access_token"])
    assert at_header["typ"] == "at+jwt"
    assert at["client_id"] == "rp" and at["aud"] == "rp"
    assert at["scope"] == "openid profile email customer offline_access"
    assert at["customer_id"] == "100001"
    assert at["exp"] - at["iat"] == body["expires_in"]


def test_code_is_single_use_and_reuse_revokes(flow, customer, client):
    q = flow.code_flow()
    first = redeem(client, q["code"])
    assert first.status_code == 200
    again = redeem(client, q["code"])
    assert again.status_code == 400
    assert again.json["error"] == "invalid_grant"
    info = client.get("/realms/paris-ile-de-france/protocol/openid-connect/userinfo",
                      headers={"Authorization": "Bearer " + first.json["access_token"]})
    assert info.status_code == 401
    refreshed = client.post(TOKEN, data={"grant_type": "refresh_token",
                                         "refresh_token": first.json["refresh_token"]},
                            headers=basic())
    assert refreshed.status_code == 400


def test_redirect_uri_must_match(flow, customer, client):
    q = flow.code_flow()
    resp = redeem(client, q["code"], redirect_uri="https://rp.example/cb2?bar=foo")
    assert resp.json["error"] == "invalid_grant"


def test_code_of_another_client(flow, customer, client):
    q = flow.code_flow()
    resp = redeem(client, q["code"], headers={}, client_id="post", client_secret=RP_SECRET)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_grant"


def test_wrong_secret_is_401(flow, customer, client):
    q = flow.code_flow()
    resp = redeem(client, q["code"], headers=basic(secret="nope"))
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_client"
    assert "WWW-Authenticate" in resp.headers


def test_auth_method_must_be_the_registered_one(flow, customer, client):
    q = flow.code_flow()
    resp = redeem(client, q["code"], headers={}, client_id="rp", client_secret=RP_SECRET)
    assert resp.json["error"] == "invalid_client"


def test_client_secret_post_and_es256(flow, customer, client):
    q = flow.code_flow(client_id="post", redirect_uri="https://post.example/cb")
    resp = redeem(client, q["code"], redirect_uri="https://post.example/cb", headers={},
                  client_id="post", client_secret=RP_SECRET)
    assert resp.status_code == 200, resp.json
    header, _claims = verify(client, resp.json["id_token"], audience="post")
    assert header["alg"] == "ES256"


def test_unknown_grant_type(client):
    resp = client.post(TOKEN, data={"grant_type": "password"}, headers=basic())
    assert resp.status_code == 400
    assert resp.json["error"] == "unsupported_grant_type"


def test_missing_code(client):
    resp = client.post(TOKEN, data={"grant_type": "authorization_code", "redirect_uri": RP},
                       headers=basic())
    assert resp.status_code == 400
    assert resp.json["error"] == "invalid_request"


def test_client_credentials(client):
    resp = client.post(TOKEN, data={"grant_type": "client_credentials", "scope": "customer"},
                       headers=basic())
    assert resp.status_code == 200, resp.json
    assert "refresh_token" not in resp.json and "id_token" not in resp.json
    _header, claims = verify(client, resp.json["access_token"])
    assert claims["sub"] == "rp" and claims["client_id"] == "rp"
    assert "customer_id" not in claims


def test_client_credentials_not_allowed_for_client(client):
    """An authenticated client without the grant is refused for that reason, not for a
    failed authentication (``post`` may only use the code flow)."""
    resp = client.post(TOKEN, data={"grant_type": "client_credentials", "client_id": "post",
                                    "client_secret": RP_SECRET})
    assert resp.status_code == 400
    assert resp.json["error"] == "unauthorized_client"
    assert resp.json["error_description"]


def test_unauthenticated_client_is_invalid_client(client):
    resp = client.post(TOKEN, data={"grant_type": "client_credentials"})
    assert resp.status_code == 401
    assert resp.json["error"] == "invalid_client"


def test_refresh_rotates_and_reuse_revokes_chain(flow, customer, client):
    q = flow.code_flow(scope="openid offline_access")
    first = redeem(client, q["code"]).json
    second = client.post(TOKEN, data={"grant_type": "refresh_token",
                                      "refresh_token": first["refresh_token"]}, headers=basic())
    assert second.status_code == 200, second.json
    assert second.headers["Cache-Control"] == "no-store"
    new = second.json
    assert new["refresh_token"] != first["refresh_token"]
    _h, old_id = verify(client, first["id_token"])
    _h, new_id = verify(client, new["id_token"])
    assert new_id["sub"] == old_id["sub"] and new_id["auth_time"] == old_id["auth_time"]
    assert new_id["sid"] == old_id["sid"]
    # Reusing the rotated token revokes the whole chain, the new one included.
    reuse = client.post(TOKEN, data={"grant_type": "refresh_token",
                                     "refresh_token": first["refresh_token"]}, headers=basic())
    assert reuse.status_code == 400 and reuse.json["error"] == "invalid_grant"
    after = client.post(TOKEN, data={"grant_type": "refresh_token",
                                     "refresh_token": new["refresh_token"]}, headers=basic())
    assert after.status_code == 400


def test_refresh_token_bound_to_client(flow, customer, client):
    q = flow.code_flow()
    first = redeem(client, q["code"]).json
    resp = client.post(TOKEN, data={"grant_type": "refresh_token",
                                    "refresh_token": first["refresh_token"],
                                    "client_id": "post", "client_secret": RP_SECRET})
    assert resp.status_code == 400 and resp.json["error"] == "invalid_grant"


def test_disabled_email_claims_absent_not_null(flow, runner, client):
    make_customer(runner, identifier="200", email=None, verified=False, password="Pw-123456!")
    # A customer without email owes actions; set it active by hand for this claim test.
    from idp.core.models import Customer
    from idp.extensions import db

    with client.application.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier="200")).scalar_one()
        c.required_actions = []
        db.session.commit()
    q = flow.code_flow(login="200", password="Pw-123456!", scope="openid email profile")
    tokens = redeem(client, q["code"]).json
    info = client.get("/realms/paris-ile-de-france/protocol/openid-connect/userinfo",
                      headers={"Authorization": "Bearer " + tokens["access_token"]}).json
    assert "email" not in info and "email_verified" not in info
    assert None not in info.values() and "" not in info.values()
    assert info["preferred_username"] == "200"
    assert isinstance(info["updated_at"], int)


def test_issuer_in_every_token(flow, customer, client):
    q = flow.code_flow()
    body = redeem(client, q["code"]).json
    for token in (body["id_token"], body["access_token"]):
        assert verify(client, token)[1]["iss"] == ISSUER


def test_customer_scope_puts_identifier_in_id_token(flow, customer, client):
    q = flow.code_flow(scope="openid customer email")
    claims = verify(client, redeem(client, q["code"]).json["id_token"])[1]
    assert claims["customer_id"] == "100001"
    assert claims["preferred_username"] == "100001"
    assert "email" not in claims
