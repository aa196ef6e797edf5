"""Fake Facebook Login (manual flow) + Graph ``/me`` (docs/federation.md).

* versioned ``/vNN.0/dialog/oauth``, ``/vNN.0/oauth/access_token``, ``/vNN.0/me`` (unversioned
  paths work too, as on the real Graph);
* token step by ``GET`` query or ``POST`` form, credentials as parameters, exact redirect URI,
  single-use code, ``token_type: "bearer"``; errors in Facebook's nested shape
  ``{"error": {"message", "type": "OAuthException", "code", "error_subcode", "fbtrace_id"}}``;
* ``/me?fields=...`` honours ``fields``, takes the token as query or Bearer, **requires and
  checks** ``appsecret_proof`` (HMAC-SHA256 of the token keyed by the app secret);
* ``email`` absent when the user has none (or did not grant ``email``); never a verified flag;
* cancel: ``error=access_denied&error_code=200&error_description=Permissions+error.&
  error_reason=user_denied&state=...#_=_``; success redirect also ends with ``#_=_``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
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

PROVIDER = "facebook"
DEFAULT_CLIENTS = [{
    "client_id": "1234567890123456",
    "client_secret": "facebook-app-secret",
    "redirect_uris": default_redirect_uris(PROVIDER),
    "require_appsecret_proof": True,
}]
VERSION_RE = re.compile(r"^v\d+\.\d+$")


def fb_error(message: str, code: int, subcode: int | None = None, status: int = 400,
             err_type: str = "OAuthException") -> Response:
    """Facebook's nested, non-RFC-6749 error body."""
    err: dict[str, Any] = {"message": message, "type": err_type, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    err["fbtrace_id"] = secrets.token_urlsafe(8)
    resp = jsonify(error=err)
    resp.status_code = status
    return resp


def create_app(issuer_base_url: str, users: Mapping[str, Mapping[str, Any]] | None = None,
               clients: list[dict[str, Any]] | None = None, code_ttl: float = 600.0) -> Flask:
    """A fake www.facebook.com + graph.facebook.com on one base URL."""
    base = issuer_base_url.rstrip("/")
    app = Flask(__name__)
    state = FakeState(PROVIDER, users, clients or DEFAULT_CLIENTS, code_ttl)
    app.extensions["fake_state"] = state
    add_test_routes(app, state)

    def check_version(version: str | None) -> Response | None:
        if version is not None and not VERSION_RE.match(version):
            return fb_error(f"Unknown path components: /{version}", 2500)
        return None

    @app.route("/dialog/oauth", methods=["GET", "POST"])
    @app.route("/<version>/dialog/oauth", methods=["GET", "POST"])
    def dialog(version: str | None = None) -> Response | str:
        if (bad := check_version(version)) is not None:
            return bad
        params = authorize_params()
        client = state.client(params.get("client_id"))
        if client is None:
            return error_page("Invalid App ID: The provided app ID does not look like a valid "
                              "app ID.")
        redirect_uri = params.get("redirect_uri", "")
        if not state.redirect_allowed(client, redirect_uri):
            return error_page("URL Blocked: This redirect failed because the redirect URI is not "
                              "whitelisted in the app's Client OAuth Settings.")
        back: dict[str, str] = {"state": params["state"]} if "state" in params else {}
        scope = [s for s in re.split(r"[\s,]+", params.get("scope", "")) if s]
        granted = sorted({"public_profile", *scope})
        auto = params.get("auto")
        if auto == "cancel":
            return redirect_to(redirect_uri, {
                "error": "access_denied", "error_code": "200",
                "error_description": "Permissions error.", "error_reason": "user_denied",
                **back}, fragment="#_=_")
        user_key = params.get("login_hint", "")
        action = f"{base}/{version}/dialog/oauth" if version else f"{base}/dialog/oauth"
        if auto != "allow" or user_key not in state.users:
            return consent_page("Facebook", state, params, action)
        code = state.issue_code(Grant(client_id=client["client_id"], redirect_uri=redirect_uri,
                                      user_key=user_key, scope=granted))
        out = {"code": code, **back}
        if params.get("return_scopes") == "true":
            out["granted_scopes"] = ",".join(granted)
            out["denied_scopes"] = ""
        return redirect_to(redirect_uri, out, fragment="#_=_")

    @app.route("/oauth/access_token", methods=["GET", "POST"])
    @app.route("/<version>/oauth/access_token", methods=["GET", "POST"])
    def access_token(version: str | None = None) -> Response:
        if (bad := check_version(version)) is not None:
            return bad
        params = {**request.args, **request.form}
        if not params.get("client_id"):
            return fb_error("Missing client_id parameter.", 101)
        client = state.client(params["client_id"])
        if client is None:
            return fb_error("Error validating application. Invalid application ID.", 101)
        if not params.get("redirect_uri"):
            return fb_error("Missing redirect_uri parameter.", 191)
        if not state.secret_ok(client, params.get("client_secret")):
            return fb_error("Error validating client secret.", 1)
        if not params.get("code"):
            return fb_error("Missing authorization code", 1)
        grant, why = state.redeem_code(params["code"])
        if why == "used":
            return fb_error("This authorization code has been used.", 100, 36009)
        if why == "expired":
            return fb_error("This authorization code has expired.", 100, 36007)
        if grant is None or grant.client_id != client["client_id"]:
            return fb_error("Invalid verification code format.", 100)
        if grant.redirect_uri != params["redirect_uri"]:
            return fb_error("Error validating verification code. Please make sure your "
                            "redirect_uri is identical to the one you used in the OAuth dialog "
                            "request", 100, 36008)
        token = state.issue_token(grant, "EAAB", 5183944)
        return jsonify(access_token=token, token_type="bearer", expires_in=5183944)

    @app.get("/me")
    @app.get("/<version>/me")
    def me(version: str | None = None) -> Response:
        if (bad := check_version(version)) is not None:
            return bad
        token = request.args.get("access_token") or bearer_token()
        if not token:
            return fb_error("An active access token must be used to query information about "
                            "the current user.", 2500)
        at = state.lookup_token(token)
        if at is None:
            return fb_error("Invalid OAuth access token - Cannot parse access token", 190,
                            status=401)
        client = state.client(at.client_id) or {}
        proof = request.args.get("appsecret_proof")
        if client.get("require_appsecret_proof", True) and not proof:
            return fb_error("API calls from the server require an appsecret_proof argument", 100)
        if proof is not None:
            expected = hmac.new(str(client.get("client_secret", "")).encode(), token.encode(),
                                hashlib.sha256).hexdigest()
            if not hmac.compare_digest(expected, proof):
                return fb_error("Invalid appsecret_proof provided in the API argument", 100)
        user = state.users[at.user_key]
        fields = [f for f in request.args.get("fields", "id,name").split(",") if f]
        uid = stable_id(PROVIDER, at.user_key, user, "numeric")
        full: dict[str, Any] = {
            "id": uid,
            "name": user.get("name"),
            "first_name": user.get("given_name"),
            "last_name": user.get("family_name"),
            "picture": {"data": {
                "height": 50, "width": 50, "is_silhouette": not user.get("picture"),
                "url": user.get("picture")
                or f"{base}/platform/profilepic/?asid={uid}&height=50&width=50"}},
        }
        if user.get("email") and "email" in at.scope:
            full["email"] = user["email"]
        body = {f: full[f] for f in fields if full.get(f) is not None}
        body["id"] = uid
        return jsonify(body)

    return app


def main(argv: list[str] | None = None) -> None:
    serve_main(PROVIDER, create_app, argv)


if __name__ == "__main__":
    main()
