"""Helpers for OIDC tests: token requests and id_token verification against our JWKS."""

from __future__ import annotations

import base64

from joserfc import jwt
from joserfc.jwk import KeySet

from .conftest import ISSUER, REALM, RP, RP_SECRET

TOKEN = f"/realms/{REALM}/protocol/openid-connect/token"
USERINFO = f"/realms/{REALM}/protocol/openid-connect/userinfo"
JWKS = f"/realms/{REALM}/protocol/openid-connect/certs"
REVOKE = f"/realms/{REALM}/protocol/openid-connect/revoke"
INTROSPECT = f"/realms/{REALM}/protocol/openid-connect/token/introspect"
LOGOUT = f"/realms/{REALM}/protocol/openid-connect/logout"
AUTH = f"/realms/{REALM}/protocol/openid-connect/auth"


def basic(client_id: str = "rp", secret: str = RP_SECRET) -> dict:
    raw = f"{client_id}:{secret}".encode()
    return {"Authorization": "Basic " + base64.b64encode(raw).decode()}


def redeem(client, code: str, redirect_uri: str = RP, headers=None, **extra):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
    data.update(extra)
    return client.post(TOKEN, data=data, headers=headers if headers is not None else basic())


def verify(client, token: str, audience: str = "rp") -> tuple[dict, dict]:
    """Verify a JWT against the published JWKS; returns (header, claims)."""
    keyset = KeySet.import_key_set(client.get(JWKS).json)
    decoded = jwt.decode(token, keyset, algorithms=["RS256", "ES256"])
    claims = decoded.claims
    assert claims["iss"] == ISSUER
    if "aud" in claims and audience:
        aud = claims["aud"]
        assert audience == aud or audience in aud
    return decoded.header, claims
