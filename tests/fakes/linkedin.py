"""Fake "Sign In with LinkedIn using OpenID Connect" with LinkedIn's quirks (docs/federation.md).

* discovery without ``token_endpoint_auth_methods_supported``; issuer ``{base}/oauth``;
* token endpoint takes credentials **only in the body** (HTTP Basic → 401 ``invalid_client``),
  refuses ``code_verifier`` from a web app, answers a **comma-separated** ``scope``;
* authorize accepts the scope space- *or* comma-separated, ignores ``nonce``;
* id_token: header with the bogus ``"zip": "RS256"``, **no nonce**, ``email_verified`` as the
  *string* ``"true"``/``"false"``, ``locale`` ``"en_US"``; JWKS keys without ``use``;
* userinfo: boolean ``email_verified``, ``locale`` object;
* cancel: ``user_cancelled_login`` (the "Cancel" button) or ``user_cancelled_authorize``.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from tests.fakes.common import (
    FakeState,
    Grant,
    add_test_routes,
    authorize_params,
    bearer_token,
    consent_page,
    default_redirect_uris,
    error_page,
    redirect_to,
    serve_main,
    stable_id,
)

PROVIDER = "linkedin"
DEFAULT_CLIENTS = [{
    "client_id": "86linkedinclient",
    "client_secret": "linkedin-client-secret",
    "redirect_uris": default_redirect_uris(PROVIDER),
    "pkce_allowed": False,
}]
KNOWN_SCOPES = {"openid", "profile", "email", "w_member_social"}
CODE_MISMATCH = ("Unable to retrieve access token: appid/redirect uri/code verifier does not "
                 "match authorization code. Or authorization code expired. Or external member "
                 "binding exists")


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    resp = jsonify(error=error, error_description=description)
    resp.status_code = status
    return resp


def create_app(issuer_base_url: str, users: Mapping[str, Mapping[str, Any]] | None = None,
               clients: list[dict[str, Any]] | None = None, code_ttl: float = 1800.0,
               zip_header: bool = True) -> Flask:
    """A fake LinkedIn whose endpoints live under ``issuer_base_url`` (issuer = base + /oauth)."""
    base = issuer_base_url.rstrip("/")
    issuer = f"{base}/oauth"
    app = Flask(__name__)
    state = FakeState(PROVIDER, users, clients or DEFAULT_CLIENTS, code_ttl)
    app.extensions["fake_state"] = state
    add_test_routes(app, state)

    def subject(user_key: str) -> str:
        return stable_id(PROVIDER, user_key, state.users[user_key], "opaque")

    @app.get("/oauth/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify({
            "issuer": issuer,
            "authorization_endpoint": f"{base}/oauth/v2/authorization",
            "token_endpoint": f"{base}/oauth/v2/accessToken",
            "userinfo_endpoint": f"{base}/v2/userinfo",
            "jwks_uri": f"{base}/oauth/openid/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "claims_supported": ["iss", "aud", "iat", "exp", "sub", "name", "given_name",
                                 "family_name", "picture", "email", "email_verified", "locale"],
        })

    @app.get("/oauth/openid/jwks")
    def jwks() -> Response:
        return jsonify(state.jwks(with_use=False))

    @app.route("/oauth/v2/authorization", methods=["GET", "POST"])
    def authorize() -> Response | str:
        params = authorize_params()
        client = state.client(params.get("client_id"))
        if client is None:
            return error_page("Invalid client_id: the application could not be found.")
        redirect_uri = params.get("redirect_uri", "")
        if not state.redirect_allowed(client, redirect_uri):
            return error_page("The redirect_uri does not match the registered value")
        back: dict[str, str] = {"state": params["state"]} if "state" in params else {}
        if params.get("response_type") != "code":
            return redirect_to(redirect_uri, {
                "error": "invalid_request",
                "error_description": "Unsupported response_type", **back})
        scope = [s for s in re.split(r"[\s,]+", params.get("scope", "")) if s]
        unknown = [s for s in scope if s not in KNOWN_SCOPES]
        if unknown:
            return redirect_to(redirect_uri, {
                "error": "unauthorized_scope_error",
                "error_description": f'Scope "{unknown[0]}" is not authorized for your '
                                     "application", **back})
        auto = params.get("auto")
        if auto == "cancel":
            return redirect_to(redirect_uri, {
                "error": "user_cancelled_login",
                "error_description": "The user cancelled LinkedIn login", **back})
        if auto == "cancel_authorize":
            return redirect_to(redirect_uri, {
                "error": "user_cancelled_authorize",
                "error_description": "The user cancelled the authorization", **back})
        user_key = params.get("login_hint", "")
        if auto != "allow" or user_key not in state.users:
            return consent_page("LinkedIn", state, params, f"{base}/oauth/v2/authorization",
                                [("cancel_authorize", "Refuse access")])
        code = state.issue_code(Grant(
            client_id=client["client_id"], redirect_uri=redirect_uri, user_key=user_key,
            scope=scope, nonce=None,  # LinkedIn accepts a nonce and forgets it
            switches={"fake_id_token": params.get("fake_id_token", "")},
        ))
        return redirect_to(redirect_uri, {"code": code, **back})

    @app.post("/oauth/v2/accessToken")
    def token() -> Response:
        if request.authorization is not None:
            return _oauth_error("invalid_client", "Client authentication failed", 401)
        form = request.form
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("invalid_request", 'A required parameter "grant_type" is missing')
        for name in ("code", "redirect_uri", "client_id", "client_secret"):
            if not form.get(name):
                return _oauth_error("invalid_request", f'A required parameter "{name}" is missing')
        client = state.client(form["client_id"])
        if client is None or not state.secret_ok(client, form["client_secret"]):
            return _oauth_error("invalid_client", "Client authentication failed", 401)
        if form.get("code_verifier") and not client.get("pkce_allowed"):
            return _oauth_error("invalid_client", "Client authentication failed", 401)
        grant, _why = state.redeem_code(form["code"])
        if (grant is None or grant.client_id != client["client_id"]
                or grant.redirect_uri != form["redirect_uri"]):
            return _oauth_error("invalid_request", CODE_MISMATCH)
        access_token = state.issue_token(grant, "AQU", 5183999)
        body: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": 5183999,
            "scope": ",".join(sorted(grant.scope)),
            "token_type": "Bearer",
        }
        if "openid" in grant.scope:
            body["id_token"] = id_token(grant, client["client_id"])
        return jsonify(body)

    def profile(user_key: str, scope: list[str]) -> dict[str, Any]:
        user = state.users[user_key]
        claims: dict[str, Any] = {"sub": subject(user_key)}
        if "profile" in scope:
            for name in ("name", "given_name", "family_name", "picture"):
                if user.get(name):
                    claims[name] = user[name]
        if "email" in scope and user.get("email"):
            claims["email"] = user["email"]
            claims["email_verified"] = bool(user.get("email_verified"))
        return claims

    def id_token(grant: Grant, client_id: str) -> str:
        mode = grant.switches.get("fake_id_token", "")
        now = int(time.time())
        claims = profile(grant.user_key, grant.scope)
        if "email_verified" in claims:  # the ID token carries it as a string
            claims["email_verified"] = "true" if claims["email_verified"] else "false"
        claims.update({
            "iss": "https://wrong-issuer.example.com" if mode == "wrong_iss" else issuer,
            "aud": "someone-else" if mode == "wrong_aud" else client_id,
            "iat": now - (7200 if mode == "expired" else 0),
            "exp": now + (-3600 if mode == "expired" else 3600),
            "locale": "en_US",
        })
        header = {"zip": "RS256"} if zip_header else None
        return state.sign(claims, extra_header=header, bad_signature=mode == "bad_signature")

    @app.get("/v2/userinfo")
    def userinfo() -> Response:
        at = state.lookup_token(bearer_token())
        if at is None:
            resp = jsonify(serviceErrorCode=65600, message="Invalid access token", status=401)
            resp.status_code = 401
            return resp
        body = profile(at.user_key, at.scope)
        body["locale"] = {"country": "US", "language": "en"}
        return jsonify(body)

    return app


def main(argv: list[str] | None = None) -> None:
    serve_main(PROVIDER, create_app, argv)


if __name__ == "__main__":
    main()
