"""Fake Google (OpenID Connect): discovery, authorize, token, id_token RS256, userinfo, JWKS.

Faithful to the reference (§3): ``iss`` ``https://accounts.google.com``-style (here the fake's
own base URL), ``azp``, ``at_hash``, nonce echo, boolean ``email_verified``, expanded ``scope``
in the token response, extra callback parameters (``authuser``, ``prompt``, ``scope``, ``iss``),
client authentication by HTTP Basic *or* form, optional PKCE (``S256``/``plain``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from tests.fakes.common import (
    FakeState,
    Grant,
    add_test_routes,
    at_hash,
    authorize_params,
    basic_credentials,
    bearer_token,
    consent_page,
    default_redirect_uris,
    error_page,
    pkce_matches,
    redirect_to,
    serve_main,
    stable_id,
)

PROVIDER = "google"
DEFAULT_CLIENTS = [{
    "client_id": "google-client-id.apps.googleusercontent.com",
    "client_secret": "google-client-secret",
    "redirect_uris": default_redirect_uris(PROVIDER),
}]
SCOPE_URLS = {
    "email": "https://www.googleapis.com/auth/userinfo.email",
    "profile": "https://www.googleapis.com/auth/userinfo.profile",
}


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    resp = jsonify(error=error, error_description=description)
    resp.status_code = status
    return resp


def create_app(issuer_base_url: str, users: Mapping[str, Mapping[str, Any]] | None = None,
               clients: list[dict[str, Any]] | None = None, code_ttl: float = 600.0) -> Flask:
    """A fake Google whose issuer and endpoints live under ``issuer_base_url``."""
    base = issuer_base_url.rstrip("/")
    app = Flask(__name__)
    state = FakeState(PROVIDER, users, clients or DEFAULT_CLIENTS, code_ttl)
    app.extensions["fake_state"] = state
    add_test_routes(app, state)

    def subject(user_key: str) -> str:
        return stable_id(PROVIDER, user_key, state.users[user_key], "numeric")

    @app.get("/.well-known/openid-configuration")
    def discovery() -> Response:
        return jsonify({
            "issuer": base,
            "authorization_endpoint": f"{base}/o/oauth2/v2/auth",
            "token_endpoint": f"{base}/token",
            "userinfo_endpoint": f"{base}/v1/userinfo",
            "revocation_endpoint": f"{base}/revoke",
            "jwks_uri": f"{base}/oauth2/v3/certs",
            "response_types_supported": ["code", "token", "id_token", "code token",
                                         "code id_token", "token id_token",
                                         "code token id_token", "none"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "email", "profile"],
            "token_endpoint_auth_methods_supported": ["client_secret_post",
                                                      "client_secret_basic"],
            "claims_supported": ["aud", "email", "email_verified", "exp", "family_name",
                                 "given_name", "iat", "iss", "locale", "name", "picture", "sub"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "authorization_response_iss_parameter_supported": True,
        })

    @app.get("/oauth2/v3/certs")
    def jwks() -> Response:
        return jsonify(state.jwks(with_use=True))

    @app.route("/o/oauth2/v2/auth", methods=["GET", "POST"])
    def authorize() -> Response | str:
        params = authorize_params()
        client = state.client(params.get("client_id"))
        if client is None:
            return error_page("Error 401: invalid_client. The OAuth client was not found.", 401)
        redirect_uri = params.get("redirect_uri", "")
        if not state.redirect_allowed(client, redirect_uri):
            return error_page("Error 400: redirect_uri_mismatch", 400)
        back: dict[str, str] = {"state": params["state"]} if "state" in params else {}
        if params.get("response_type") != "code":
            return redirect_to(redirect_uri, {"error": "unsupported_response_type", **back})
        scope = params.get("scope", "").split()
        if not scope:
            return error_page("Error 400: invalid_request. Missing required parameter: scope")
        method = params.get("code_challenge_method", "plain")
        if params.get("code_challenge") and method not in {"S256", "plain"}:
            return redirect_to(redirect_uri, {"error": "invalid_request", **back})
        auto = params.get("auto")
        if auto == "cancel":
            return redirect_to(redirect_uri, {"error": "access_denied", **back})
        user_key = params.get("login_hint", "")
        if auto != "allow" or user_key not in state.users:
            return consent_page("Google", state, params, f"{base}/o/oauth2/v2/auth")
        code = state.issue_code(Grant(
            client_id=client["client_id"], redirect_uri=redirect_uri, user_key=user_key,
            scope=scope, nonce=params.get("nonce"),
            code_challenge=params.get("code_challenge"),
            code_challenge_method=method if params.get("code_challenge") else None,
            switches={"fake_id_token": params.get("fake_id_token", "")},
        ))
        expanded = " ".join(SCOPE_URLS.get(s, s) for s in ["email", "profile", "openid"]
                            if s in scope)
        return redirect_to(redirect_uri, {**back, "code": code, "scope": expanded,
                                          "authuser": "0", "prompt": "consent", "iss": base})

    @app.post("/token")
    def token() -> Response:
        form = request.form
        basic = basic_credentials()
        client_id, secret = basic if basic else (form.get("client_id"), form.get("client_secret"))
        client = state.client(client_id)
        if client is None:
            return _oauth_error("invalid_client", "The OAuth client was not found.", 401)
        if not state.secret_ok(client, secret):
            return _oauth_error("invalid_client", "Unauthorized", 401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("unsupported_grant_type", "Invalid grant_type: "
                                + str(form.get("grant_type", "")))
        grant, _why = state.redeem_code(form.get("code"))
        if grant is None or grant.client_id != client["client_id"]:
            return _oauth_error("invalid_grant", "Bad Request")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _oauth_error("redirect_uri_mismatch", "Bad Request")
        if grant.code_challenge and not pkce_matches(form.get("code_verifier"),
                                                     grant.code_challenge,
                                                     grant.code_challenge_method or "plain"):
            return _oauth_error("invalid_grant", "Invalid code verifier.")
        access_token = state.issue_token(grant, "ya29.", 3599)
        body: dict[str, Any] = {
            "access_token": access_token,
            "expires_in": 3599,
            "token_type": "Bearer",
            "scope": " ".join(["openid"] * ("openid" in grant.scope)
                              + [SCOPE_URLS[s] for s in ("email", "profile") if s in grant.scope]),
        }
        if "openid" in grant.scope:
            body["id_token"] = id_token(grant, client["client_id"], access_token)
        return jsonify(body)

    def identity_claims(user_key: str, scope: list[str]) -> dict[str, Any]:
        user = state.users[user_key]
        claims: dict[str, Any] = {"sub": subject(user_key)}
        if "email" in scope and user.get("email"):
            claims["email"] = user["email"]
            claims["email_verified"] = bool(user.get("email_verified"))
        if "profile" in scope:
            for name in ("name", "given_name", "family_name", "picture"):
                if user.get(name):
                    claims[name] = user[name]
        if user.get("hd"):
            claims["hd"] = user["hd"]
        return claims

    def id_token(grant: Grant, client_id: str, access_token: str) -> str:
        mode = grant.switches.get("fake_id_token", "")
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "https://wrong-issuer.example.com" if mode == "wrong_iss" else base,
            "azp": client_id,
            "aud": "someone-else.apps.googleusercontent.com" if mode == "wrong_aud" else client_id,
            **identity_claims(grant.user_key, grant.scope),
            "at_hash": at_hash(access_token + ("x" if mode == "bad_at_hash" else "")),
            "iat": now - (7200 if mode == "expired" else 0),
            "exp": now + (-3600 if mode == "expired" else 3600),
        }
        if grant.nonce is not None:
            claims["nonce"] = "not-the-nonce-you-sent" if mode == "wrong_nonce" else grant.nonce
        return state.sign(claims, bad_signature=mode == "bad_signature")

    @app.route("/v1/userinfo", methods=["GET", "POST"])
    def userinfo() -> Response:
        at = state.lookup_token(bearer_token() or request.args.get("access_token"))
        if at is None:
            resp = jsonify(error="invalid_request",
                           error_description="Invalid Credentials")
            resp.status_code = 401
            resp.headers["WWW-Authenticate"] = 'Bearer realm="https://accounts.google.com/", ' \
                                               'error="invalid_token"'
            return resp
        return jsonify(identity_claims(at.user_key, at.scope))

    return app


def main(argv: list[str] | None = None) -> None:
    serve_main(PROVIDER, create_app, argv)


if __name__ == "__main__":
    main()
