"""A tiny OpenID Provider for the portal's tests, served over real HTTP on loopback.

It implements just what the portal uses (discovery, JWKS, authorize, token, end_session,
introspection) so the portal's OIDC client is exercised for real, and exposes knobs to make
it misbehave: answer with an error, a wrong ``iss``, a tampered id_token, rotated keys.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey
from werkzeug.serving import make_server

REALM = "test-realm"
CLIENT_ID = "portal"
CLIENT_SECRET = "portal-secret"
REDIRECT_URI = "http://127.0.0.1:5101/auth/callback"
LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"

USERS = {
    "100001": {"given_name": "Marie", "family_name": "Dupont", "email": "marie@example.org"},
    "100002": {"given_name": "Jean", "family_name": "Martin", "email": "jean@example.org"},
    "100003": {"given_name": "Sophie", "family_name": "Bernard", "email": "sophie@example.org"},
}


def new_rsa_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


def new_ec_key(kid: str) -> ECKey:
    return ECKey.generate_key("P-256", parameters={"kid": kid, "use": "sig", "alg": "ES256"})


class FakeOP:
    """The provider's state plus the Flask app serving it."""

    def __init__(self) -> None:
        self.signing_key: Any = new_rsa_key("key-1")
        self.published: list[Any] = [self.signing_key]
        self.codes: dict[str, dict[str, Any]] = {}
        self.refresh_tokens: dict[str, dict[str, Any]] = {}
        self.spent_refresh_tokens: set[str] = set()
        self.current_user = "100001"
        self.authorize_error: str | None = None
        self.response_iss: str | None = None  # override the iss of the authorization response
        self.id_token_tamper: Callable[[dict, dict], Any] | None = None
        self.access_token_lifetime = 300
        self.publish_account_url = True
        self.end_session_calls: list[dict[str, str]] = []
        self.jwks_requests = 0
        self.token_requests: list[dict[str, str]] = []
        self.server: Any = None
        self.issuer = ""
        self.app = self._build_app()

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> FakeOP:
        self.server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.base = f"http://127.0.0.1:{self.server.server_port}"
        self.issuer = f"{self.base}/realms/{REALM}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def reset(self) -> None:
        self.authorize_error = None
        self.response_iss = None
        self.id_token_tamper = None
        self.current_user = "100001"
        self.access_token_lifetime = 300
        self.publish_account_url = True
        self.end_session_calls.clear()
        self.token_requests.clear()

    def rotate_keys(self, *, keep_old: bool = True, kind: str = "RSA") -> None:
        kid = f"key-{secrets.token_hex(4)}"
        self.signing_key = new_rsa_key(kid) if kind == "RSA" else new_ec_key(kid)
        self.published = [self.signing_key, *(self.published if keep_old else [])]

    # -- token minting ------------------------------------------------------------------
    def sign(self, claims: dict, *, typ: str | None = None, key: Any = None,
             kid: str | None = None) -> str:
        key = key or self.signing_key
        alg = "ES256" if isinstance(key, ECKey) else "RS256"
        header: dict[str, Any] = {"alg": alg, "kid": kid or key.kid}
        if typ:
            header["typ"] = typ
        return jwt.encode(header, claims, key, algorithms=[alg])

    def id_token_claims(self, customer_id: str, nonce: str | None, sid: str) -> dict:
        now = int(time.time())
        user = USERS[customer_id]
        return {
            "iss": self.issuer, "sub": f"sub-{customer_id}", "aud": CLIENT_ID, "azp": CLIENT_ID,
            "exp": now + 300, "iat": now, "auth_time": now, "sid": sid, "amr": ["pwd"],
            "acr": "1", "customer_id": customer_id, "preferred_username": customer_id,
            "name": f"{user['given_name']} {user['family_name']}", **user,
            "email_verified": True, **({"nonce": nonce} if nonce else {}),
        }

    def access_token(self, customer_id: str = "100001", *, scope: str = "openid profile email "
                     "customer offline_access", aud: Any = None, lifetime: int = 300,
                     typ: str = "at+jwt", key: Any = None, kid: str | None = None,
                     iss: str | None = None, **extra: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": iss or self.issuer, "sub": f"sub-{customer_id}",
            "aud": aud if aud is not None else [CLIENT_ID], "client_id": CLIENT_ID,
            "scope": scope, "exp": now + lifetime, "iat": now, "jti": secrets.token_hex(8),
            **({"customer_id": customer_id} if "customer" in scope.split() else {}), **extra,
        }
        return self.sign(claims, typ=typ, key=key, kid=kid)

    def logout_token(self, *, sid: str | None = None, sub: str | None = None,
                     typ: str = "logout+jwt", **overrides: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 120,
            "jti": secrets.token_hex(8), "events": {LOGOUT_EVENT: {}},
        }
        if sid:
            claims["sid"] = sid
        if sub:
            claims["sub"] = sub
        claims.update(overrides)
        return self.sign({k: v for k, v in claims.items() if v is not None}, typ=typ)

    def _issue_tokens(self, customer_id: str, sid: str, nonce: str | None) -> dict:
        id_claims = self.id_token_claims(customer_id, nonce, sid)
        header_extra: dict[str, Any] = {}
        key = None
        if self.id_token_tamper:
            key = self.id_token_tamper(id_claims, header_extra)
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = {"customer_id": customer_id, "sid": sid}
        return {
            "token_type": "Bearer",
            "access_token": self.access_token(customer_id, lifetime=self.access_token_lifetime),
            "expires_in": self.access_token_lifetime,
            "refresh_token": refresh,
            "id_token": self.sign(id_claims, key=key, kid=header_extra.get("kid"),
                                  typ=header_extra.get("typ")),
            "scope": "openid profile email customer offline_access",
        }

    # -- HTTP ---------------------------------------------------------------------------
    def _build_app(self) -> Flask:
        app = Flask("fake_op")
        prefix = f"/realms/{REALM}"

        @app.get(f"{prefix}/.well-known/openid-configuration")
        def discovery() -> Any:
            return jsonify({
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/protocol/openid-connect/auth",
                "token_endpoint": f"{self.issuer}/protocol/openid-connect/token",
                "userinfo_endpoint": f"{self.issuer}/protocol/openid-connect/userinfo",
                "jwks_uri": f"{self.issuer}/protocol/openid-connect/certs",
                "end_session_endpoint": f"{self.issuer}/protocol/openid-connect/logout",
                "introspection_endpoint": f"{self.issuer}/protocol/openid-connect/introspect",
                "authorization_response_iss_parameter_supported": True,
                "backchannel_logout_supported": True,
                "backchannel_logout_session_supported": True,
                "code_challenge_methods_supported": ["S256"],
                **({"account_management_uri": f"{self.issuer}/account"}
                   if self.publish_account_url else {}),
            })

        @app.get(f"{prefix}/protocol/openid-connect/certs")
        def jwks() -> Any:
            self.jwks_requests += 1
            return jsonify({"keys": [k.as_dict(private=False) for k in self.published]})

        @app.get(f"{prefix}/protocol/openid-connect/auth")
        def authorize() -> Any:
            args = request.args
            assert args["client_id"] == CLIENT_ID
            assert args["redirect_uri"] == REDIRECT_URI
            assert args["response_type"] == "code"
            assert args["code_challenge_method"] == "S256"
            assert "customer" in args["scope"].split()
            iss = self.response_iss or self.issuer
            if self.authorize_error:
                query = {"error": self.authorize_error, "state": args["state"], "iss": iss}
                return redirect(f"{args['redirect_uri']}?{urlencode(query)}")
            code = secrets.token_urlsafe(16)
            self.codes[code] = {
                "customer_id": self.current_user, "nonce": args.get("nonce"),
                "challenge": args["code_challenge"], "redirect_uri": args["redirect_uri"],
                "sid": secrets.token_hex(8),
            }
            query = {"code": code, "state": args["state"], "iss": iss}
            return redirect(f"{args['redirect_uri']}?{urlencode(query)}")

        @app.post(f"{prefix}/protocol/openid-connect/token")
        def token() -> Any:
            auth = request.authorization
            if not auth or (auth.username, auth.password) != (CLIENT_ID, CLIENT_SECRET):
                return jsonify(error="invalid_client"), 401
            form = request.form
            self.token_requests.append(dict(form))
            if form.get("grant_type") == "authorization_code":
                grant = self.codes.pop(form.get("code", ""), None)
                if grant is None or grant["redirect_uri"] != form.get("redirect_uri"):
                    return jsonify(error="invalid_grant"), 400
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != grant["challenge"]:
                    return jsonify(error="invalid_grant", error_description="PKCE"), 400
                return jsonify(self._issue_tokens(grant["customer_id"], grant["sid"],
                                                  grant["nonce"]))
            if form.get("grant_type") == "refresh_token":
                old = form.get("refresh_token", "")
                grant = self.refresh_tokens.pop(old, None)
                if grant is None:
                    return jsonify(error="invalid_grant"), 400
                self.spent_refresh_tokens.add(old)
                tokens = self._issue_tokens(grant["customer_id"], grant["sid"], None)
                return jsonify(tokens)
            return jsonify(error="unsupported_grant_type"), 400

        @app.get(f"{prefix}/protocol/openid-connect/logout")
        def end_session() -> Any:
            self.end_session_calls.append(dict(request.args))
            target = request.args.get("post_logout_redirect_uri", "")
            return redirect(f"{target}?{urlencode({'state': request.args.get('state', '')})}")

        @app.post(f"{prefix}/protocol/openid-connect/introspect")
        def introspect() -> Any:
            from joserfc.errors import JoseError
            from joserfc.jwk import KeySet

            try:
                claims = jwt.decode(request.form["token"], KeySet(self.published)).claims
            except (JoseError, ValueError):
                return jsonify(active=False)
            return jsonify(active=claims["exp"] > time.time(), **claims)

        return app
