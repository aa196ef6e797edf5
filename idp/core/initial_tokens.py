"""Initial access tokens (RFC 7591 §3) and registration access tokens (RFC 7592 §3).

An agency app may register itself only with an initial access token an admin issued
(CLI ``idp clients initial-token``, the admin API, the staff console): it names one realm,
expires, and allows a number of registrations. Each registration spends one use with a
compare-and-swap ``UPDATE``, so two simultaneous registrations never both spend the last
use. A registered client then manages itself with its registration access token.

Only SHA-256 digests are stored (as for every other bearer secret of the idp): a database
dump registers nothing and manages no client.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import DateTime, ForeignKey, Integer, String, update
from sqlalchemy.orm import Mapped, mapped_column

from . import audit, tokens
from .db import db
from .models import utcnow

#: Longest life an initial access token may be given (a forgotten one must die).
MAX_LIFETIME_SECONDS = 90 * 24 * 3600
MAX_USES = 10_000


class InitialAccessToken(db.Model):
    """Permission to register clients in one realm, ``max_uses`` times until ``expires_at``."""

    __tablename__ = "initial_access_token"
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"),
                                          index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    max_uses: Mapped[int] = mapped_column(Integer)
    uses: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class RegistrationToken(db.Model):
    """The registration access token of a dynamically registered client (RFC 7592)."""

    __tablename__ = "client_registration"
    client_pk: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"),
                                           primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    initial_token_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class InitialTokenError(ValueError):
    """An expiry or use count out of bounds (the message says which, in English)."""


@dataclass(frozen=True)
class IssuedToken:
    """A freshly issued initial access token; ``token`` is shown once and never stored."""

    id: int
    token: str
    expires_at: datetime
    max_uses: int


def issue(realm_id: int, *, expires_in: int, uses: int, actor: str | None = None
          ) -> IssuedToken:
    """A new initial access token for ``realm_id`` (the caller commits)."""
    if not 60 <= expires_in <= MAX_LIFETIME_SECONDS:
        raise InitialTokenError(
            f"expiry must be between 60 seconds and {MAX_LIFETIME_SECONDS} seconds")
    if not 1 <= uses <= MAX_USES:
        raise InitialTokenError(f"uses must be between 1 and {MAX_USES}")
    raw = tokens.opaque()
    row = InitialAccessToken(realm_id=realm_id, token_hash=tokens.digest(raw),
                             expires_at=utcnow() + timedelta(seconds=expires_in),
                             max_uses=uses, uses=0, created_by=actor)
    db.session.add(row)
    db.session.flush()
    audit.record("admin_initial_token_issued", realm_id=realm_id, token_id=row.id,
                 uses=uses, expires_in=expires_in)
    return IssuedToken(row.id, raw, row.expires_at, uses)


def spend(realm_id: int, raw: str | None) -> int | None:
    """Spend one use of the token; its id, or ``None`` when unknown, expired or used up.

    One ``UPDATE … WHERE uses < max_uses``: of two registrations racing for the last use,
    exactly one wins.
    """
    if not raw or len(raw) > 512:
        return None
    digest = tokens.digest(raw)
    spent = db.session.execute(
        update(InitialAccessToken)
        .where(InitialAccessToken.token_hash == digest,
               InitialAccessToken.realm_id == realm_id,
               InitialAccessToken.expires_at > utcnow(),
               InitialAccessToken.uses < InitialAccessToken.max_uses)
        .values(uses=InitialAccessToken.uses + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if spent != 1:
        return None
    return db.session.execute(
        db.select(InitialAccessToken.id).filter_by(token_hash=digest)).scalar_one()


def list_tokens(realm_id: int) -> list[InitialAccessToken]:
    return list(db.session.execute(
        db.select(InitialAccessToken).filter_by(realm_id=realm_id)
        .order_by(InitialAccessToken.id.desc())).scalars())


def revoke(realm_id: int, token_id: int) -> bool:
    """Expire a token now (kept for the audit trail); ``False`` when unknown."""
    row = db.session.get(InitialAccessToken, token_id)
    if row is None or row.realm_id != realm_id:
        return False
    row.expires_at = min(row.expires_at, utcnow())
    audit.record("admin_initial_token_revoked", realm_id=realm_id, token_id=token_id)
    return True


def new_registration_token(client_pk: int, initial_token_id: int | None = None) -> str:
    """A (new) registration access token for a client; an older one stops working."""
    raw = tokens.opaque()
    row = db.session.get(RegistrationToken, client_pk)
    if row is None:
        row = RegistrationToken(client_pk=client_pk, initial_token_id=initial_token_id)
        db.session.add(row)
    row.token_hash = tokens.digest(raw)
    return raw


def check_registration_token(client_pk: int, raw: str | None) -> bool:
    if not raw:
        return False
    row = db.session.get(RegistrationToken, client_pk)
    return row is not None and hmac.compare_digest(row.token_hash, tokens.digest(raw))


def client_by_registration_token(raw: str | None) -> int | None:
    """The client a registration access token manages (its primary key), if any."""
    if not raw or len(raw) > 512:
        return None
    return db.session.execute(
        db.select(RegistrationToken.client_pk).filter_by(token_hash=tokens.digest(raw))
    ).scalar_one_or_none()
