"""Finding the row behind a token string presented to revocation or introspection."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..core import tokens
from ..core.db import db
from ..core.models import Token, utcnow

ACCESS, REFRESH = "access_token", "refresh_token"


@dataclass
class Found:
    """A token row and which of its two tokens was presented."""

    row: Token
    kind: str

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
        row = _refresh(token_string) if kind == REFRESH else _access(realm_id, token_string)
        if row is not None and row.realm_id == realm_id:
            return Found(row, kind)
    return None


def _refresh(token_string: str) -> Token | None:
    if len(token_string) > 128:
        return None
    return db.session.execute(
        db.select(Token).filter_by(refresh_hash=tokens.digest(token_string))
    ).scalar_one_or_none()


def _access(realm_id: int, token_string: str) -> Token | None:
    decoded = tokens.decode_own(realm_id, token_string)
    if decoded is None or decoded[0].get("typ") != "at+jwt":
        return None
    return db.session.execute(
        db.select(Token).filter_by(access_jti=decoded[1].get("jti"))
    ).scalar_one_or_none()
