"""Fake X OAuth 2.0 Authorization Code with PKCE + ``/2/users/me`` (docs/federation.md).

* authorize requires ``state``, ``code_challenge`` and ``code_challenge_method`` (``S256`` or
  ``plain``), exact redirect URI; codes live 30 seconds and are single use;
* token endpoint requires **HTTP Basic** for a confidential client (``client_id`` in the body
  for a public one), ``code_verifier`` checked; ``token_type: "bearer"``; refresh token only with
  ``offline.access``;
* ``/2/users/me`` wraps the user in ``data``; ``confirmed_email`` only when the app has the email
  capability (so ``users.email`` was granted), the field was requested, and the email is
  confirmed;
* cancel: ``error=access_denied&state=...``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, request

from tests.fakes.common import (
    FakeState,
    Grant,
    add_test_routes,
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

PROVIDER = "x"
DEFAULT_CLIENTS = [
    {"client_id": "x-client-id", "client_secret": "x-client-secret",
     "redirect_uris": default_redirect_uris(PROVIDER), "email_capability": True},
    {"client_id": "x-client-noemail", "client_secret": "x-noemail-secret",
     "redirect_uris": default_redirect_uris(PROVIDER), "email_capability": False},
]
KNOWN_SCOPES = {"tweet.read", "users.read", "users.email", "offline.access", "tweet.write",
                "follows.read", "like.read"}
KNOWN_USER_FIELDS = {"confirmed_email", "connection_status", "created_at", "description",
                     "entities", "id", "is_identity_verified", "location", "name", "parody",
                     "profile_banner_url", "profile_image_url", "protected", "public_metrics",
                     "receives_your_dm", "subscribes_to_you", "subscription",
                     "subscription_type", "url", "username", "verified",
                     "verified_followers_count", "verified_type", "withheld"}


def _oauth_error(error: str, description: str, status: int = 400) -> Response:
    resp = jsonify(error=error, error_description=description)
    resp.status_code = status
    return resp


def _problem(status: int, title: str, detail: str, ptype: str = "about:blank") -> Response:
    resp = jsonify(title=title, type=ptype, status=status, detail=detail)
    resp.status_code = status
    resp.mimetype = "application/problem+json"
    return resp


def create_app(issuer_base_url: str, users: Mapping[str, Mapping[str, Any]] | None = None,
               clients: list[dict[str, Any]] | None = None, code_ttl: float = 30.0) -> Flask:
    """A fake x.com + api.x.com on one base URL."""
    base = issuer_base_url.rstrip("/")
    app = Flask(__name__)
    state = FakeState(PROVIDER, users, clients or DEFAULT_CLIENTS, code_ttl)
    app.extensions["fake_state"] = state
    add_test_routes(app, state)

    @app.route("/i/oauth2/authorize", methods=["GET", "POST"])
    def authorize() -> Response | str:
        params = authorize_params()
        client = state.client(params.get("client_id"))
        if client is None:
            return error_page("Something went wrong. You weren't able to give access to the App.")
        redirect_uri = params.get("redirect_uri", "")
        if not state.redirect_allowed(client, redirect_uri):
            return error_page("Something went wrong. You weren't able to give access to the App.")
        if not params.get("state"):
            return error_page("Something went wrong. Missing required parameter [state].")
        back = {"state": params["state"]}
        if params.get("response_type") != "code":
            return redirect_to(redirect_uri, {"error": "unsupported_response_type", **back})
        method = params.get("code_challenge_method")
        if not params.get("code_challenge") or method not in {"S256", "plain"}:
            return redirect_to(redirect_uri, {
                "error": "invalid_request",
                "error_description": "Missing required parameter [code_challenge].", **back})
        scope = params.get("scope", "").split()
        if not scope or any(s not in KNOWN_SCOPES for s in scope):
            return redirect_to(redirect_uri, {"error": "invalid_scope", **back})
        auto = params.get("auto")
        if auto == "cancel":
            return redirect_to(redirect_uri, {"error": "access_denied", **back})
        user_key = params.get("login_hint", "")
        if auto != "allow" or user_key not in state.users:
            return consent_page("X", state, params, f"{base}/i/oauth2/authorize")
        granted = [s for s in scope if s != "users.email" or client.get("email_capability")]
        code = state.issue_code(Grant(
            client_id=client["client_id"], redirect_uri=redirect_uri, user_key=user_key,
            scope=granted, code_challenge=params["code_challenge"],
            code_challenge_method=method))
        return redirect_to(redirect_uri, {**back, "code": code})

    @app.post("/2/oauth2/token")
    def token() -> Response:
        form = request.form
        basic = basic_credentials()
        if basic is not None:
            client = state.client(basic[0])
            if client is None or not state.secret_ok(client, basic[1]):
                return _oauth_error("unauthorized_client", "Missing valid authorization header",
                                    401)
        else:
            client = state.client(form.get("client_id"))
            if client is None or client.get("client_secret"):
                # confidential clients must authenticate with HTTP Basic
                return _oauth_error("unauthorized_client", "Missing valid authorization header",
                                    401)
        if form.get("grant_type") != "authorization_code":
            return _oauth_error("invalid_request", "Missing required parameter [grant_type].")
        if not form.get("code_verifier"):
            return _oauth_error("invalid_request", "Missing required parameter [code_verifier].")
        grant, _why = state.redeem_code(form.get("code"))
        if grant is None or grant.client_id != client["client_id"]:
            return _oauth_error("invalid_request",
                                "Value passed for the authorization code was invalid.")
        if grant.redirect_uri != form.get("redirect_uri"):
            return _oauth_error("invalid_request", "Value passed for the redirect uri did not "
                                "match the uri of the authorization code.")
        if not pkce_matches(form.get("code_verifier"), grant.code_challenge or "",
                            grant.code_challenge_method or "S256"):
            return _oauth_error("invalid_request", "Value passed for the code verifier did not "
                                "match the code challenge.")
        access_token = state.issue_token(grant, "", 7200)
        body: dict[str, Any] = {"token_type": "bearer", "expires_in": 7200,
                                "access_token": access_token, "scope": " ".join(grant.scope)}
        if "offline.access" in grant.scope:
            body["refresh_token"] = state.issue_token(grant, "rt-", 15552000)
        return jsonify(body)

    @app.get("/2/users/me")
    def users_me() -> Response:
        at = state.lookup_token(bearer_token())
        if at is None:
            return _problem(401, "Unauthorized", "Unauthorized")
        if not {"users.read", "tweet.read"} <= set(at.scope):
            return _problem(403, "Forbidden", "Missing scopes: users.read tweet.read")
        fields = [f for f in request.args.get("user.fields", "").split(",") if f]
        bad = [f for f in fields if f not in KNOWN_USER_FIELDS]
        if bad:
            return _problem(400, "Invalid Request",
                            f"The `user.fields` query parameter value [{bad[0]}] is not one of "
                            f"{sorted(KNOWN_USER_FIELDS)}",
                            "https://api.twitter.com/2/problems/invalid-request")
        user = state.users[at.user_key]
        data: dict[str, Any] = {
            "id": stable_id(PROVIDER, at.user_key, user, "numeric"),
            "name": user.get("name") or at.user_key,
            "username": user.get("username") or at.user_key,
        }
        if "profile_image_url" in fields and user.get("picture"):
            data["profile_image_url"] = user["picture"]
        if "created_at" in fields:
            data["created_at"] = "2013-12-14T04:35:55.000Z"
        if "verified" in fields:
            data["verified"] = False
        if ("confirmed_email" in fields and "users.email" in at.scope
                and user.get("email") and user.get("email_verified")):
            data["confirmed_email"] = user["email"]
        return jsonify(data=data)

    return app


def main(argv: list[str] | None = None) -> None:
    serve_main(PROVIDER, create_app, argv)


if __name__ == "__main__":
    main()
