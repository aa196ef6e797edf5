"""Authlib AuthorizationServer wiring: one server for all realms, realm taken from ``g``.

Composition as Authlib intends: grants with storage hooks (grants.py), the PKCE and
id_token extensions, client auth methods, revocation and introspection endpoints.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import requests
from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Flask, g
from joserfc.jwk import KeySet

from ..clients import ClientInfo, find_client
from ..core.models import Client, Customer, SessionClient, Token, epoch, utcnow
from ..extensions import db
from ..realms import issuer_of
from . import tokens
from .claims import claims_for_scope, requested_claims
from .grants import ClientCredentials, CodeGrant, PkceS256, RefreshGrant, revoke_where

_seen_assertion_jti: dict[str, float] = {}
_next_jti_prune = 0.0
_client_jwks_cache: dict[str, tuple[float, KeySet]] = {}
CLIENT_JWKS_TTL = 300.0


def _client_jwks(uri: str) -> KeySet:
    """A client's ``jwks_uri`` keys, cached: no HTTP fetch on every token request."""
    now = time.monotonic()
    hit = _client_jwks_cache.get(uri)
    if hit is not None and hit[0] > now:
        return hit[1]
    resp = requests.get(uri, timeout=5)
    resp.raise_for_status()
    keys = KeySet.import_key_set(resp.json())
    _client_jwks_cache[uri] = (now + CLIENT_JWKS_TTL, keys)
    return keys


class RealmAuthorizationServer(AuthorizationServer):
    """Looks clients up in the current realm and persists issued tokens."""

    def query_client(self, client_id: str) -> ClientInfo | None:
        return find_client(g.realm.id, client_id)

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        settings = g.realm_settings
        client: ClientInfo = request.client
        user: Customer | None = request.user
        code = getattr(request, "authorization_code", None)
        parent: Token | None = getattr(request, "refresh_token", None)
        now = utcnow()
        row = Token(
            realm_id=g.realm.id,
            client_pk=client.pk,
            customer_id=user.id if user else None,
            scope=token.get("scope", ""),
            access_jti=g.issued_jti,
            access_expires_at=now + timedelta(seconds=token["expires_in"]),
        )
        source = code or parent
        if source is not None:
            row.sid = source.sid
            row.auth_time = source.auth_time
            row.acr = source.acr
            row.amr = list(source.amr or [])
            row.idp = source.idp
            row.claims = source.claims
        if code is not None:
            row.code_id = code.id
        if parent is not None:
            row.family_id = parent.family_id
            row.code_id = parent.code_id
        if token.get("refresh_token"):
            row.refresh_hash = tokens.digest(token["refresh_token"])
            row.refresh_expires_at = now + timedelta(seconds=settings["refresh_token_lifetime"])
        db.session.add(row)
        g.token_row = row


def generate_token(
    grant_type: str,
    client: ClientInfo,
    user: Customer | None = None,
    scope: str | None = None,
    expires_in: int | None = None,
    include_refresh_token: bool = True,
) -> dict[str, Any]:
    """Access token as an RFC 9068 JWT; refresh token opaque (256 bits)."""
    realm = g.realm
    lifetime = int(g.realm_settings["access_token_lifetime"])
    scope = scope or ""
    extra: dict[str, Any] = {}
    if user is not None and "customer" in scope.split():
        extra["customer_id"] = user.identifier
    audience = [client.client_id, *(client.get("audiences") or [])]
    access, jti, _exp = tokens.access_token(
        realm.id,
        issuer_of(realm),
        client_id=client.client_id,
        audience=audience,
        subject=user.sub if user else client.client_id,
        scope=scope,
        lifetime=lifetime,
        extra=extra,
    )
    g.issued_jti = jti
    token: dict[str, Any] = {
        "token_type": "Bearer",
        "access_token": access,
        "expires_in": lifetime,
        "scope": scope,
    }
    if include_refresh_token and user is not None:
        token["refresh_token"] = tokens.opaque()
    return token


def build_id_token(
    *,
    client: ClientInfo,
    customer: Customer,
    scope: str,
    auth_time: int | None,
    sid: str | None,
    amr: list[str],
    acr: str | None,
    idp: str | None,
    nonce: str | None = None,
    access_token: str | None = None,
    code: str | None = None,
    claims_param: dict[str, Any] | None = None,
) -> str:
    """An id_token for ``customer``, with the claims its scope and request allow."""
    realm = g.realm
    alg = client.get("id_token_signed_response_alg")
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer_of(realm),
        "aud": client.client_id,
        "azp": client.client_id,
        "iat": now,
        "exp": now + int(g.realm_settings["id_token_lifetime"]),
        "jti": tokens.opaque()[:22],
    }
    optional = {"auth_time": auth_time, "nonce": nonce, "sid": sid, "amr": amr, "acr": acr,
                "idp": idp}
    claims.update({name: value for name, value in optional.items() if value})
    if access_token:
        claims["at_hash"] = tokens.half_hash(access_token, alg)
    if code:
        claims["c_hash"] = tokens.half_hash(code, alg)
    # With an access token, profile claims belong to userinfo (OIDC Core §5.4);
    # only claims asked for in the id_token member of ``claims`` go in.
    # The ``customer`` scope's claims (the identifier) always go in: agency apps key
    # their data on it without a userinfo round trip.
    requested = requested_claims(claims_param, "id_token")
    base = "openid customer" if "customer" in scope.split() else "openid"
    identity = claims_for_scope(customer, base if access_token else scope, requested)
    claims.update(identity)
    return tokens.sign(realm.id, claims, alg)


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
            request, "refresh_token", None
        )
        if source is None:
            return response
        nonce = getattr(source, "nonce", None)  # codes carry one, refresh rows do not
        token["id_token"] = build_id_token(
            client=request.client,
            customer=request.user,
            scope=scope,
            auth_time=source.auth_time,
            sid=source.sid,
            amr=list(source.amr or []),
            acr=source.acr,
            idp=source.idp,
            nonce=nonce,
            access_token=token.get("access_token"),
            claims_param=source.claims,
        )
        if source.sid:
            _remember_session_client(source.sid, request.client.pk)
        return response


def _remember_session_client(sid: str, client_pk: int) -> None:
    if db.session.get(SessionClient, (sid, client_pk)) is None:
        db.session.add(SessionClient(sid=sid, client_pk=client_pk))


class ClientKeyJWT(JWTBearerClientAssertion):
    """``private_key_jwt``: the client's ``jwks`` or ``jwks_uri``; ``aud`` token URL or issuer."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        issuer = issuer_of(g.realm)
        return [f"{issuer}/protocol/openid-connect/token", issuer]

    def resolve_client_public_key(self, client: ClientInfo) -> KeySet:
        if client.get("jwks"):
            return KeySet.import_key_set(client.get("jwks"))
        if client.get("jwks_uri"):
            return _client_jwks(client.get("jwks_uri"))
        raise ValueError("client has no public keys")

    def validate_jti(self, claims: Any, jti: str) -> bool:
        """Refuse a replayed assertion (per process; assertions live 60 s)."""
        global _next_jti_prune
        now = time.time()
        if now >= _next_jti_prune:  # prune now and then, not on every token request
            for key, expiry in list(_seen_assertion_jti.items()):
                if expiry < now:
                    _seen_assertion_jti.pop(key, None)
            _next_jti_prune = now + 60
        key = f"{claims.get('iss')}:{jti}"
        if key in _seen_assertion_jti:
            return False
        _seen_assertion_jti[key] = now + 600
        return True


def _lookup_token(token_string: str) -> Token | None:
    """A token row by refresh token, or by an access token JWT's ``jti``."""
    row = db.session.execute(
        db.select(Token).filter_by(refresh_hash=tokens.digest(token_string))
    ).scalar_one_or_none()
    if row is not None:
        g.token_kind = "refresh_token"
        return row
    decoded = tokens.decode_own(g.realm.id, token_string)
    if decoded is None:
        return None
    row = db.session.execute(
        db.select(Token).filter_by(access_jti=decoded[1].get("jti"))
    ).scalar_one_or_none()
    g.token_kind = "access_token"
    return row


class Revocation(RevocationEndpoint):
    """RFC 7009. Revoking a refresh token revokes its whole rotation chain."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        row = _lookup_token(token_string)
        if row is None or row.client_pk != g.client_pk_for_endpoint:
            return None
        return row

    def authenticate_token(self, request: Any, client: ClientInfo) -> Token | None:
        g.client_pk_for_endpoint = client.pk
        return super().authenticate_token(request, client)

    def revoke_token(self, token: Token, request: Any) -> None:
        if g.get("token_kind") == "refresh_token":
            revoke_where(Token.family_id == token.family_id)
        else:
            token.revoked_at = utcnow()
        db.session.commit()


class Introspection(IntrospectionEndpoint):
    """RFC 7662, for authenticated (confidential) clients."""

    CLIENT_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    def query_token(self, token_string: str, token_type_hint: str | None) -> Token | None:
        return _lookup_token(token_string)

    def check_permission(self, token: Token, client: ClientInfo, request: Any) -> bool:
        return True

    def introspect_token(self, token: Token) -> dict[str, Any]:
        kind = g.get("token_kind")
        expires = token.refresh_expires_at if kind == "refresh_token" else token.access_expires_at
        if token.revoked_at or (kind == "refresh_token" and token.rotated_at) or (
            expires is None or expires <= utcnow()
        ):
            return {"active": False}
        client_row = db.session.get(Client, token.client_pk)
        data: dict[str, Any] = {
            "active": True,
            "scope": token.scope,
            "client_id": client_row.client_id if client_row else None,
            "token_type": "Bearer" if kind == "access_token" else "refresh_token",
            "exp": epoch(expires),
            "iat": epoch(token.created_at),
            "iss": issuer_of(g.realm),
        }
        if token.customer is not None:
            data["sub"] = token.customer.sub
            data["username"] = token.customer.identifier
            if "customer" in token.scope.split():
                data["customer_id"] = token.customer.identifier
        elif client_row:
            data["sub"] = client_row.client_id
        if token.sid:
            data["sid"] = token.sid
        return {k: v for k, v in data.items() if v is not None}


authorization = RealmAuthorizationServer()


def init_server(app: Flask) -> None:
    app.config.setdefault("OAUTH2_REFRESH_TOKEN_GENERATOR", True)
    authorization.init_app(app)
    authorization.register_token_generator("default", generate_token)
    authorization.register_grant(CodeGrant, [PkceS256(required=True), IdTokenExtension()])
    authorization.register_grant(RefreshGrant, [IdTokenExtension()])
    authorization.register_grant(ClientCredentials)
    authorization.register_client_auth_method(ClientKeyJWT.CLIENT_AUTH_METHOD, ClientKeyJWT())
    authorization.register_endpoint(Revocation)
    authorization.register_endpoint(Introspection)
