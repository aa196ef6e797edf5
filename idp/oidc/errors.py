"""Every OAuth error response carries a short, useful ``error_description`` (never a
secret): Authlib leaves some empty."""

from __future__ import annotations

import json

from flask import Response

DESCRIPTIONS = {
    "invalid_grant": "The authorization code or refresh token is invalid, expired, revoked "
                     "or already used",
    "unsupported_grant_type": "This grant_type is not supported (use authorization_code, "
                              "refresh_token or client_credentials)",
    "invalid_client": "Client authentication failed",
    "unauthorized_client": "This client is not allowed to use this grant type",
    "invalid_scope": "The requested scope is not allowed for this client",
    "invalid_request": "The request is missing a required parameter or is malformed",
}
MISSING_GRANT = "The grant_type parameter is missing"
MISSING_TOKEN = "The token parameter is missing"


def with_description(resp: Response, missing: str | None = None) -> Response:
    """Fill ``error_description`` when Authlib gave none; ``missing`` names the absent
    parameter's description when the caller knows one is absent."""
    if resp.status_code < 400 or not resp.is_json:
        return resp
    body = json.loads(resp.get_data())
    error = body.get("error")
    if not error or body.get("error_description"):
        return resp
    text = missing or DESCRIPTIONS.get(error, "The request was refused")
    body["error_description"] = text
    resp.set_data(json.dumps(body))
    return resp
