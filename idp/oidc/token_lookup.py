"""Finding the row behind a token string presented to revocation, introspection or
userinfo.

Client-credentials access tokens are stateless (no row is written when they are issued,
see ``server.stored_client_token``): a verified one without a row is described from its
claims (``Found.stored`` false). Revoking one writes a revoked row under its ``jti``, which
from then on is found first: the token table doubles as the deny-list.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..core import tokens
from ..core.clients import find_client
from ..core.db import db, insert_ignoring_duplicates
from ..core.models import Token, random_id, utcnow
from ..web.context import app_settings

ACCESS, REFRESH = "access_token", "refresh_token"


@dataclass
class Found:
    """A token row and which of its two tokens was presented."""

    row: Token
    kind: str
    #: False for a stateless client-credentials token described from its claims.
    stored: bool = True

    def is_expired(self) -> bool:
        expires = (self.row.refresh_expires_at if self.kind == REFRESH
                   else self.row.access_expires_at)
        return expires is None or expires <= utcnow()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or (
            self.kind == REFRESH and self.row.rotated_at is not None)

    def check_client(self, client: Any) -> bool:
        """Authlib's protocol: was this token issued to ``client``?"""
        return bool(client is not None and client.pk == self.row.client_pk)


def lookup(realm_id: int, token_string: str, hint: str | None = None) -> Found | None:
    """The realm's token row for a refresh token or an access token (by ``jti``);
    ``token_type_hint`` picks which to try first (RFC 7009 §2.1, RFC 7662 §2.1)."""
    order = (ACCESS, REFRESH) if hint == ACCESS else (REFRESH, ACCESS)
    for kind in order:
        if kind == REFRESH:
            row = _refresh(token_string)
            if row is not None and row.realm_id == realm_id:
                return Found(row, kind)
            continue
        found = _access(realm_id, token_string)
        if found is not None:
            return found
    return None


def _refresh(token_string: str) -> Token | None:
    if len(token_string) > 128:
        return None
    return db.session.execute(
        db.select(Token).filter_by(refresh_hash=tokens.digest(token_string))
    ).scalar_one_or_none()


def _access(realm_id: int, token_string: str) -> Found | None:
    decoded = tokens.decode_own(realm_id, token_string)
    if decoded is None or decoded[0].get("typ") != "at+jwt":
        return None
    claims = decoded[1]
    row = db.session.execute(
        db.select(Token).filter_by(access_jti=claims.get("jti"))
    ).scalar_one_or_none()
    if row is not None:
        return Found(row, ACCESS) if row.realm_id == realm_id else None
    return stateless(realm_id, claims)


def stateless(realm_id: int, claims: dict[str, Any]) -> Found | None:
    """A client-credentials token (subject: the client itself) that has no row: a
    detached row built from its verified claims, while its client still exists."""
    client_id = claims.get("client_id")
    jti, exp, iat = claims.get("jti"), claims.get("exp"), claims.get("iat")
    if (not isinstance(client_id, str) or claims.get("sub") != client_id
            or "customer_id" in claims or not isinstance(jti, str)
            or not isinstance(exp, int) or not isinstance(iat, int)):
        return None
    client = find_client(realm_id, client_id, app_settings().client_secret_key)
    if client is None:
        return None
    row = Token(realm_id=realm_id, client_pk=client.pk, customer_id=None,
                scope=str(claims.get("scope", "")), access_jti=jti,
                access_expires_at=from_epoch(exp), created_at=from_epoch(iat),
                amr=[], revoked_at=None, rotated_at=None, sid=None, claims=None)
    return Found(row, ACCESS, stored=False)


def from_epoch(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None)


def deny(found: Found) -> None:
    """Revoke a stateless token: a revoked row under its ``jti`` (kept like any token
    row; a twin revocation at the same moment is a no-op)."""
    row = found.row
    insert_ignoring_duplicates(Token.__table__, {
        "realm_id": row.realm_id, "client_pk": row.client_pk, "customer_id": None,
        "scope": row.scope, "access_jti": row.access_jti,
        "access_expires_at": row.access_expires_at, "created_at": row.created_at,
        "family_id": random_id(), "amr": [], "revoked_at": utcnow(),
    })
