"""Authlib grants for the token endpoint: thin subclasses whose hooks call our storage.

Codes are issued by ``authorize.py``; here they are redeemed. A reused code or refresh
token revokes everything it produced (RFC 6749 §4.1.2, OAuth 2.0 Security BCP §4.14).
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import g

from .. import audit
from ..clients import AUTH_METHODS
from ..core.models import AuthorizationCode, Customer, Token, utcnow
from ..extensions import db
from . import tokens

CONFIDENTIAL_METHODS = [m for m in AUTH_METHODS if m != "none"]


def revoke_where(*criteria: Any) -> int:
    """Revoke every live token row matching ``criteria``; returns how many."""
    rows = db.session.execute(
        db.select(Token).where(*criteria, Token.revoked_at.is_(None))
    ).scalars().all()
    now = utcnow()
    for row in rows:
        row.revoked_at = now
    return len(rows)


class CodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = list(AUTH_METHODS)

    def save_authorization_code(self, code: str, request: Any) -> None:
        raise NotImplementedError("codes are issued by idp.oidc.authorize")

    def query_authorization_code(self, code: str, client: Any) -> AuthorizationCode | None:
        row = db.session.execute(
            db.select(AuthorizationCode).filter_by(code_hash=tokens.digest(code))
        ).scalar_one_or_none()
        if row is None or row.client_pk != client.pk:
            return None
        if row.used_at is not None:
            revoked = revoke_where(Token.code_id == row.id)
            audit.record(
                "code_reused", realm_id=client.realm_id, customer_id=row.customer_id,
                client_id=client.client_id, revoked=revoked,
            )
            db.session.commit()
            return None
        if row.expires_at <= utcnow():
            return None
        g.code_row = row
        return row

    def delete_authorization_code(self, authorization_code: AuthorizationCode) -> None:
        authorization_code.used_at = utcnow()

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
        if row is None or row.revoked_at is not None:
            return None
        if row.rotated_at is not None:
            revoked = revoke_where(Token.family_id == row.family_id)
            audit.record(
                "refresh_token_reused", realm_id=row.realm_id, customer_id=row.customer_id,
                revoked=revoked,
            )
            db.session.commit()
            return None
        if row.is_expired():
            return None
        g.refresh_row = row
        return row

    def authenticate_user(self, refresh_token: Token) -> Customer | None:
        customer = refresh_token.customer
        return customer if customer and customer.enabled else None

    def revoke_old_credential(self, refresh_token: Token) -> None:
        refresh_token.rotated_at = utcnow()


class ClientCredentials(grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_METHODS
