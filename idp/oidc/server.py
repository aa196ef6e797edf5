"""Authlib AuthorizationServer wiring, one per app (built in ``create_app``).

Composition as Authlib intends: grants with storage hooks (grants.py), the PKCE and
id_token extensions, client auth (client_auth.py), revocation and introspection
(their own modules). Data an Authlib hook hands to the next travels on Authlib's own
request object (``request.issued_jti``), not on ``g``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.integrations.flask_oauth2.requests import FlaskOAuth2Payload, FlaskOAuth2Request
from authlib.oauth2.rfc6749 import OAuth2Request
from flask import Flask, current_app, g
from flask import request as flask_request

from shared import metrics, pkce

from ..core import tokens
from ..core.claims import claims_for_scope, requested_claims
from ..core.clients import ClientInfo, find_client
from ..core.db import db, insert_ignoring_duplicates
from ..core.models import Customer, SessionClient, Token, random_id, utcnow
from ..web.context import app_settings, issuer
from .client_auth import ClientKeyJWT
from .grants import ClientCredentials, CodeGrant, PkceS256, RefreshGrant, RotatedToken
from .introspection import Introspection
from .revocation import Revocation

EXTENSION_KEY = "idp.oauth_server"
#: Scopes of the admin API (idp/api/auth.py), whose tokens must have a row.
ADMIN_SCOPE_PREFIX = "admin:"
_TOKEN = Token.__table__
_SESSION_CLIENT = SessionClient.__table__


class LeanOAuth2Request(FlaskOAuth2Request):
    """Authlib's request for Flask, given a URI without the query string.

    Why: Authlib's own class reads ``request.url``, which werkzeug rebuilds and
    IRI-decodes on every access, about a tenth of a client-credentials grant's CPU; the
    grants read the URI only for Authlib's https check, which needs the scheme and the
    host alone. Everything else (form, headers, payload, the check) is Authlib's.
    """

    def __init__(self, request: Any) -> None:
        OAuth2Request.__init__(self, request.method,
                               f"{request.scheme}://{request.host}{request.path}",
                               headers=request.headers)
        self._request = request
        self.payload = FlaskOAuth2Payload(request)


class RealmAuthorizationServer(AuthorizationServer):
    """Looks clients up in the current realm and persists issued tokens.

    Authlib stays the one implementation of the grants; only its request object is
    replaced by a cheaper equivalent (:class:`LeanOAuth2Request`, docs/performance.md).
    """

    def create_oauth2_request(self, request: Any) -> LeanOAuth2Request:
        return LeanOAuth2Request(flask_request)

    def query_client(self, client_id: str) -> ClientInfo | None:
        return find_client(g.realm.id, client_id, app_settings().client_secret_key)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """One plain ``INSERT`` (no ORM unit of work) of the token row, in the grant's
        transaction; nothing for a stateless client-credentials token."""
        client: ClientInfo = request.client
        user: Customer | None = request.user
        jti = token.pop("_jti")
        scope = token.get("scope", "")
        metrics.token_issued(str(request.payload.grant_type or "other"))
        if user is None and not stored_client_token(scope):
            return
        code = getattr(request, "authorization_code", None)
        parent: RotatedToken | None = getattr(request, "refresh_token", None)
        now = utcnow()
        row: dict[str, Any] = {
            "realm_id": g.realm.id, "client_pk": client.pk,
            "customer_id": user.id if user else None, "scope": scope, "access_jti": jti,
            "access_expires_at": now + timedelta(seconds=token["expires_in"]),
            "created_at": now, "family_id": random_id(), "code_id": None, "sid": None,
            "auth_time": None, "acr": None, "amr": [], "idp": None, "claims": None,
            "refresh_hash": None, "refresh_expires_at": None,
        }
        source = code or parent
        if source is not None:
            row.update(sid=source.sid, auth_time=source.auth_time, acr=source.acr,
                       amr=list(source.amr or []), idp=source.idp, claims=source.claims)
        if code is not None:
            row["code_id"] = code.id
        if parent is not None:
            row.update(family_id=parent.family_id, code_id=parent.code_id)
        if token.get("refresh_token"):
            row["refresh_hash"] = tokens.digest(token["refresh_token"])
            row["refresh_expires_at"] = now + timedelta(
                seconds=g.realm.settings.refresh_token_lifetime)
        db.session.execute(_TOKEN.insert(), row)


def stored_client_token(scope: str) -> bool:
    """Whether a client-credentials token is written to the token table.

    A client-credentials access token is a self-contained JWT: nothing to store, so the
    grant makes no database round trip. Introspection verifies it; revocation records its
    ``jti`` as a revoked row (a deny-list entry until it expires, see token_lookup.py).
    Tokens with an admin scope are the exception: the admin API requires a live row for
    every call (idp/api/auth.py), so they are stored as before.
    """
    return any(s.startswith(ADMIN_SCOPE_PREFIX) for s in scope.split())


def generate_token(
    grant_type: str,
    client: ClientInfo,
    user: Customer | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """Access token as an RFC 9068 JWT; refresh token opaque (256 bits)."""
    lifetime = g.realm.settings.access_token_lifetime
    scope = scope or ""
    extra: dict[str, Any] = {}
    if user is not None and "customer" in scope.split():
        extra["customer_id"] = user.identifier
    audience = [client.client_id, *(client.get("audiences") or [])]
    access, jti, _exp = tokens.access_token(
        g.realm.id, issuer(), client_id=client.client_id, audience=audience,
        subject=user.sub if user else client.client_id, scope=scope, lifetime=lifetime,
        extra=extra, alg=client.get("access_token_signed_response_alg") or "RS256",
    )
    token: dict[str, Any] = {"token_type": "Bearer", "access_token": access,
                             "expires_in": lifetime, "scope": scope, "_jti": jti}
    if include_refresh_token and user is not None:
        token["refresh_token"] = tokens.opaque()
    return token


def build_id_token(*, client: ClientInfo, customer: Customer, scope: str,
                   auth_time: int | None, sid: str | None, amr: list[str], acr: str | None,
                   idp: str | None, nonce: str | None = None, access_token: str | None = None,
                   code: str | None = None, claims_param: dict[str, Any] | None = None) -> str:
    """An id_token for ``customer``, with the claims its scope and request allow."""
    alg = client.get("id_token_signed_response_alg")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer(),
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + g.realm.settings.id_token_lifetime,
        "jti": tokens.opaque()[:22],
    }
    optional = {"auth_time": auth_time, "nonce": nonce, "sid": sid, "amr": amr, "acr": acr,
                "idp": idp}
    claims.update({name: value for name, value in optional.items() if value})
    if access_token:
        claims["at_hash"] = pkce.half_hash(access_token)
    if code:
        claims["c_hash"] = pkce.half_hash(code)
    # With an access token, profile claims belong to userinfo (OIDC Core §5.4); only
    # claims asked for in the id_token member of ``claims`` (within the scope) go in.
    # The ``customer`` scope's claims (the identifier) always go in: agency apps key
    # their data on it without a userinfo round trip.
    requested = requested_claims(claims_param, "id_token")
    base = "openid customer" if "customer" in scope.split() else "openid"
    claims.update(claims_for_scope(customer, base if access_token else scope, requested,
                                   granted=scope))
    return tokens.sign(g.realm.id, claims, alg)


class IdTokenExtension:
    """Adds an id_token to code and refresh responses whose scope has ``openid``."""

    def __call__(self, grant: Any) -> None:
        grant.register_hook("after_create_token_response", self.process_token)

    def process_token(self, grant: Any, response: Any) -> Any:
        _status, token, _headers = response
        scope = token.get("scope", "")
        if "openid" not in scope.split():
            return response
        request = grant.request
        source = getattr(request, "authorization_code", None) or getattr(
            request, "refresh_token", None)
        if source is None:
            return response
        token["id_token"] = build_id_token(
            client=request.client, customer=request.user, scope=scope,
            auth_time=source.auth_time, sid=source.sid, amr=list(source.amr or []),
            acr=source.acr, idp=source.idp, nonce=getattr(source, "nonce", None),
            access_token=token.get("access_token"), claims_param=source.claims,
        )
        # The session's link to the client is made when the code is redeemed; a refresh
        # (same session, same client) has nothing to add.
        if source.sid and getattr(request, "authorization_code", None) is not None:
            # Without a read: INSERT … ON CONFLICT DO NOTHING.
            insert_ignoring_duplicates(_SESSION_CLIENT,
                                       {"sid": source.sid, "client_pk": request.client.pk})
        return response


def init_server(app: Flask) -> RealmAuthorizationServer:
    app.config.setdefault("OAUTH2_REFRESH_TOKEN_GENERATOR", True)
    server = RealmAuthorizationServer()
    server.init_app(app)
    server.register_token_generator("default", generate_token)
    server.register_grant(CodeGrant, [PkceS256(required=True), IdTokenExtension()])
    server.register_grant(RefreshGrant, [IdTokenExtension()])
    server.register_grant(ClientCredentials)
    server.register_client_auth_method(ClientKeyJWT.CLIENT_AUTH_METHOD, ClientKeyJWT())
    server.register_endpoint(Revocation)
    server.register_endpoint(Introspection)
    app.extensions[EXTENSION_KEY] = server
    return server


def server() -> RealmAuthorizationServer:
    return current_app.extensions[EXTENSION_KEY]
