"""Authlib grants for the token endpoint: thin subclasses whose hooks call our storage.

Codes are issued by ``authorize.py``; here they are redeemed. Redemption and rotation are
compare-and-swap ``UPDATE``s: of two simultaneous uses exactly one wins, the other is
treated as reuse, which revokes everything the code or refresh token produced
(RFC 6749 §4.1.2, OAuth 2.0 Security BCP §4.14).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from sqlalchemy import bindparam

from ..core import audit, tokens, ways_in
from ..core.clients import AUTH_METHODS, CONFIDENTIAL_METHODS
from ..core.db import db
from ..core.logout import revoke_where
from ..core.models import AuthorizationCode, Customer, RefreshTokenRules, Token, utcnow

_CODE = AuthorizationCode.__table__
_TOKEN = Token.__table__


# The two compare-and-swap statements, built once: constructing a statement costs more CPU
# than running it on a hot path (SQLAlchemy caches the compiled SQL, not the statement
# object). Parameter names differ from column names so none is taken for a SET value.
_REDEEM = (
    _CODE.update()
    .where(_CODE.c.code_hash == bindparam("p_hash"), _CODE.c.client_pk == bindparam("p_client"),
           _CODE.c.used_at.is_(None), _CODE.c.expires_at > bindparam("p_now"))
    .values(used_at=bindparam("p_now")).returning(*_CODE.c)
)
#: What the refresh grant reads of the rotated row (not the whole row: each column
#: returned costs a description entry and a conversion per call).
_ROTATED_COLUMNS = ("id", "realm_id", "client_pk", "customer_id", "sid", "code_id",
                    "family_id", "scope", "auth_time", "acr", "amr", "idp", "claims",
                    "refresh_expires_at", "revoked_at")
_ROTATE = (
    _TOKEN.update()
    .where(_TOKEN.c.refresh_hash == bindparam("p_hash"),
           _TOKEN.c.client_pk == bindparam("p_client"),
           _TOKEN.c.realm_id == bindparam("p_realm"),
           _TOKEN.c.rotated_at.is_(None), _TOKEN.c.revoked_at.is_(None),
           _TOKEN.c.refresh_expires_at > bindparam("p_now"))
    .values(rotated_at=bindparam("p_now"))
    .returning(*(_TOKEN.c[name] for name in _ROTATED_COLUMNS))
)


def redeem_code(code: str, client_pk: int) -> AuthorizationCode | None:
    """Mark the code used and return it, in one ``UPDATE … RETURNING``: the lookup *is* the
    compare-and-swap, so of two simultaneous redemptions exactly one gets the row. ``None``:
    unknown, another client's, expired, or already used (reuse is handled by the caller)."""
    row = db.session.execute(_REDEEM, {
        "p_hash": tokens.digest(code), "p_client": client_pk, "p_now": utcnow()}).first()
    # A detached (transient) object: Authlib's hooks read it, nothing flushes it.
    return AuthorizationCode(**row._mapping) if row is not None else None


class RotatedToken(RefreshTokenRules):
    """The refresh token row just rotated, as the refresh grant and the id_token read it
    (Authlib's TokenMixin protocol); a plain object, not an ORM instance: nothing of it is
    ever written back, and building an instance of a 20-column model costs more than the
    rotation itself."""

    __slots__ = _ROTATED_COLUMNS

    def __init__(self, row: Any) -> None:
        for name, value in zip(_ROTATED_COLUMNS, row, strict=True):
            setattr(self, name, value)


def rotate_refresh(refresh_token: str, client_pk: int, realm_id: int) -> RotatedToken | None:
    """Rotate a live refresh token of this client in one ``UPDATE … RETURNING`` (the
    lookup is the compare-and-swap: exactly one of two simultaneous uses wins)."""
    row = db.session.execute(_ROTATE, {
        "p_hash": tokens.digest(refresh_token), "p_client": client_pk, "p_realm": realm_id,
        "p_now": utcnow()}).first()
    return RotatedToken(row) if row is not None else None


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def save_authorization_code(self, code: str, request: Any) -> None:
        raise NotImplementedError("codes are issued by idp.oidc.authorize")

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        won = redeem_code(code, client.pk)
        if won is not None:
            return won
        # Lost: find out why (the rare path). Reuse of this client's live code revokes
        # what it produced.
        row = db.session.execute(
            db.select(_CODE.c.id, _CODE.c.client_pk, _CODE.c.customer_id, _CODE.c.used_at,
                      _CODE.c.expires_at).where(_CODE.c.code_hash == tokens.digest(code))
        ).first()
        if (row is None or row.client_pk != client.pk or row.expires_at <= utcnow()
                or row.used_at is None):
            return None
        revoked = revoke_where(Token.code_id == row.id)
        audit.record("code_reused", realm_id=client.realm_id, customer_id=row.customer_id,
                     client_id=client.client_id, revoked=revoked)
        db.session.commit()
        return None

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Already marked used, atomically, when it was looked up."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Customer | None:
        customer = db.session.get(Customer, authorization_code.customer_id)
        # The one rule of who may still sign in (disabled, locked for good, deletion).
        return customer if ways_in.may_sign_in(customer) is None else None


class PkceS256(CodeChallenge):
    """PKCE with S256 only (``plain`` is refused); required for public clients."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> RotatedToken | None:
        client = self.request.client
        if client is None or len(refresh_token) > 128:
            return None
        won = rotate_refresh(refresh_token, client.pk, client.realm_id)
        if won is not None:
            return won
        # Lost: unknown, revoked, expired, another client's, or already rotated (reuse:
        # the whole family is revoked, whoever presents it).
        row = db.session.execute(
            db.select(_TOKEN.c.family_id, _TOKEN.c.realm_id, _TOKEN.c.customer_id,
                      _TOKEN.c.rotated_at, _TOKEN.c.revoked_at, _TOKEN.c.refresh_expires_at)
            .where(_TOKEN.c.refresh_hash == tokens.digest(refresh_token))
        ).first()
        if (row is None or row.revoked_at is not None or row.realm_id != client.realm_id
                or row.refresh_expires_at is None or row.refresh_expires_at <= utcnow()
                or row.rotated_at is None):
            return None
        revoked = revoke_where(Token.family_id == row.family_id)
        audit.record("refresh_token_reused", realm_id=row.realm_id,
                     customer_id=row.customer_id, revoked=revoked)
        db.session.commit()
        return None

    def authenticate_user(self, refresh_token: RotatedToken) -> Customer | None:
        customer = db.session.get(Customer, refresh_token.customer_id)
        # The one rule of who may still sign in (disabled, locked for good, deletion).
        return customer if ways_in.may_sign_in(customer) is None else None

    def revoke_old_credential(self, refresh_token: RotatedToken) -> None:
        """Already rotated, atomically, when it was authenticated."""


class ClientCredentials(grants.ClientCredentialsGrant):
    """Scopes within the client's registered ones (the admin API's scopes are granted this
    way only); none asked for means all of them (RFC 6749 §3.3: a documented default)."""

    TOKEN_ENDPOINT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)

    def generate_token(self, user: Any = None, scope: str | None = None,
                       grant_type: str | None = None, expires_in: int | None = None,
                       include_refresh_token: bool = True) -> dict[str, Any]:
        client = self.request.client
        scope = client.get_allowed_scope(scope or client.get("scope"))
        return super().generate_token(user=user, scope=scope, grant_type=grant_type,
                                      expires_in=expires_in,
                                      include_refresh_token=include_refresh_token)
