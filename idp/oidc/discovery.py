"""OpenID Provider Metadata (OIDC Discovery 1.0) and the JWKS."""

from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify

from ..core import keys
from ..core.claims import SUPPORTED_CLAIMS, SUPPORTED_SCOPES
from ..core.clients import AUTH_METHODS, CONFIDENTIAL_METHODS
from ..web.context import issuer
from .blueprint import PROTOCOL, bp, endpoint_url


@bp.route("/.well-known/openid-configuration")
def discovery() -> Response:
    doc: dict[str, Any] = {
        "issuer": issuer(),
        "authorization_endpoint": endpoint_url("oidc.authorize"),
        "token_endpoint": endpoint_url("oidc.token"),
        "userinfo_endpoint": endpoint_url("oidc.userinfo"),
        "jwks_uri": endpoint_url("oidc.jwks"),
        "end_session_endpoint": endpoint_url("oidc.end_session"),
        "revocation_endpoint": endpoint_url("oidc.revoke"),
        "introspection_endpoint": endpoint_url("oidc.introspect"),
        "account_management_uri": issuer() + "/account/",
        "registration_endpoint": endpoint_url("oidc.register"),
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.SUPPORTED_ALGS),
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
        "revocation_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(CONFIDENTIAL_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": SUPPORTED_CLAIMS,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        # "1": a password (or social) sign-in; "2": a passkey with user verification.
        "acr_values_supported": ["1", "2"],
        "ui_locales_supported": ["fr", "en"],
        "claim_types_supported": ["normal"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }
    return jsonify(doc)


@bp.route(f"{PROTOCOL}/certs")
def jwks() -> Response:
    resp = jsonify(keys.jwks(g.realm.id))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp
