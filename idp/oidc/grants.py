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
from sqlalchemy import update

from ..core import audit, tokens
from ..core.clients import AUTH_METHODS, CONFIDENTIAL_METHODS
from ..core.db import db
from ..core.logout import revoke_where
from ..core.models import AuthorizationCode, Customer, Token, utcnow


def _claim_code(row: AuthorizationCode) -> bool:
    return db.session.execute(
        update(AuthorizationCode)
        .where(AuthorizationCode.id == row.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount == 1


def _rotate(row: Token) -> bool:
    return db.session.execute(
        update(Token)
        .where(Token.id == row.id, Token.rotated_at.is_(None), Token.revoked_at.is_(None))
        .values(rotated_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount == 1


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def save_authorization_code(self, code: str, request: Any) -> None:
        raise NotImplementedError("codes are issued by idp.oidc.authorize")

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        row = db.session.execute(
            db.select(AuthorizationCode).filter_by(code_hash=tokens.digest(code))
        ).scalar_one_or_none()
        if row is None or row.client_pk != client.pk or row.expires_at <= utcnow():
            return None
        if row.used_at is not None or not _claim_code(row):
            revoked = revoke_where(Token.code_id == row.id)
            audit.record("code_reused", realm_id=client.realm_id, customer_id=row.customer_id,
                         client_id=client.client_id, revoked=revoked)
            db.session.commit()
            return None
        return row

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        """Already marked used, atomically, when it was looked up."""

    def authenticate_user(self, authorization_code: AuthorizationCode) -> Customer | None:
        customer = db.session.get(Customer, authorization_code.customer_id)
        return customer if customer and customer.enabled else None


class PkceS256(CodeChallenge):
    """PKCE with S256 only (``plain`` is refused); required for public clients."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]


class RefreshGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> Token | None:
        row = db.session.execute(
            db.select(Token).filter_by(refresh_hash=tokens.digest(refresh_token))
        ).scalar_one_or_none()
        if row is None or row.revoked_at is not None or row.realm_id != self.realm_id():
            return None
        if row.is_expired():
            return None
        if row.rotated_at is not None or not _rotate(row):
            revoked = revoke_where(Token.family_id == row.family_id)
            audit.record("refresh_token_reused", realm_id=row.realm_id,
                         customer_id=row.customer_id, revoked=revoked)
            db.session.commit()
            return None
        return row

    def realm_id(self) -> int:
        return self.request.client.realm_id if self.request.client else -1

    def authenticate_user(self, refresh_token: Token) -> Customer | None:
        customer = refresh_token.customer
        return customer if customer and customer.enabled else None

    def revoke_old_credential(self, refresh_token: Token) -> None:
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
