"""Discovery and JWKS as the conformance suite's configure phase checks them."""

from .conftest import ISSUER, REALM
from .oidc_helpers import JWKS

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def test_discovery_document(client):
    resp = client.get(f"/realms/{REALM}/.well-known/openid-configuration")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    doc = resp.json
    assert doc["issuer"] == ISSUER
    for key in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri",
                "end_session_endpoint", "revocation_endpoint", "introspection_endpoint"):
        assert doc[key].startswith(ISSUER + "/"), key
    assert "RS256" in doc["id_token_signing_alg_values_supported"]
    assert {"openid", "profile", "email", "address", "phone", "offline_access"} <= set(
        doc["scopes_supported"])
    assert doc["code_challenge_methods_supported"] == ["S256"]
    assert {"client_secret_basic", "client_secret_post", "private_key_jwt", "none"} <= set(
        doc["token_endpoint_auth_methods_supported"])
    assert doc["authorization_response_iss_parameter_supported"] is True
    assert doc["request_parameter_supported"] is False
    assert doc["backchannel_logout_session_supported"] is True
    assert doc["subject_types_supported"] == ["public"]
    assert "customer_id" in doc["claims_supported"]


def test_unknown_realm_is_404(client):
    resp = client.get("/realms/nope/.well-known/openid-configuration")
    assert resp.status_code == 404


def test_jwks_public_unique_kids(client):
    keys = client.get(JWKS).json["keys"]
    assert {k["alg"] for k in keys} == {"RS256", "ES256"}
    kids = [k["kid"] for k in keys]
    assert all(kids) and len(set(kids)) == len(kids)
    for key in keys:
        assert not PRIVATE_MEMBERS & set(key), key
        assert key["use"] == "sig"


def test_key_rotation_keeps_old_key_published(client, runner):
    before = {k["kid"] for k in client.get(JWKS).json["keys"]}
    result = runner.invoke(args=["keys", "rotate", "--realm", REALM, "--json"])
    assert result.exit_code == 0, result.output
    after = {k["kid"] for k in client.get(JWKS).json["keys"]}
    assert before < after
    assert len(after) == 4
