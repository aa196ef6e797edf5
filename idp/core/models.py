"""SQLAlchemy models of the idp: realms, clients, keys, customers, sessions, tokens, audit.

Secrets (client secrets, codes, refresh tokens, action tokens) are stored as hashes only,
so a database dump does not hand out working credentials.
"""

from __future__ import annotations

import calendar
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import customer_counts
from .db import db


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def epoch(moment: datetime) -> int:
    """Seconds since the epoch of a naive UTC datetime (how the models store time)."""
    return calendar.timegm(moment.timetuple())


def random_id() -> str:
    return secrets.token_urlsafe(24)


class Realm(db.Model):
    """An agency network: its own customers, clients, keys, branding and policies."""

    __tablename__ = "realm"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class IdentityProvider(db.Model):
    """A social provider configured for one realm (Google, LinkedIn, Facebook, X)."""

    __tablename__ = "identity_provider"
    __table_args__ = (UniqueConstraint("realm_id", "alias"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"))
    alias: Mapped[str] = mapped_column(String(32))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret: Mapped[str] = mapped_column(String(512))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SigningKey(db.Model):
    """A realm's signing key. Retired keys stay published until tokens they signed expire."""

    __tablename__ = "signing_key"
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"), index=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    alg: Mapped[str] = mapped_column(String(16))
    private_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    retired_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    unpublish_after: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class Client(db.Model):
    """A relying party. ``meta`` holds RFC 7591 metadata; the secret only as a keyed hash."""

    __tablename__ = "client"
    __table_args__ = (UniqueConstraint("realm_id", "client_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"), index=True)
    client_id: Mapped[str] = mapped_column(String(255))
    secret_hash: Mapped[str | None] = mapped_column(String(128), nullable=True)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


class Customer(db.Model):
    """An owner or tenant, known by the identifier printed on their notices.

    Exactly one credential kind is normally set: ``password_hash`` (argon2id), a
    ``legacy_hash`` verified once then re-hashed, or ``temporary_code_hash``.
    """

    __tablename__ = "customer"
    __table_args__ = (
        UniqueConstraint("realm_id", "identifier"),
        Index("ix_customer_realm_email", "realm_id", "email_normalized"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"))
    sub: Mapped[str] = mapped_column(String(64), unique=True, default=random_id)
    identifier: Mapped[str] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    email_normalized: Mapped[str | None] = mapped_column(String(320), nullable=True)
    email_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    given_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    family_name: Mapped[str | None] = mapped_column(String(200), nullable=True)
    phone_number: Mapped[str | None] = mapped_column(String(64), nullable=True)
    locale: Mapped[str | None] = mapped_column(String(16), nullable=True)
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    legacy_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    temporary_code_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    required_actions: Mapped[list[str]] = mapped_column(JSON, default=list)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    temporary_failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_permanently: Mapped[bool] = mapped_column(Boolean, default=False)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Bumped whenever a credential is set or reset: sign-in states bound to an older
    # version are dead (a stolen half-finished sign-in cannot outlive a reset).
    credential_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
    # When the one-time passkey offer was shown (state, not read from the purged audit).
    passkey_offered_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    # Right to erasure (idp/core/deletion.py): asked, refused by the agency (with the
    # reason shown to the customer), carried out (personal data erased, row kept).
    deletion_requested_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deletion_refused_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    deletion_refused_reason: Mapped[str | None] = mapped_column(String(500), nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # The emailed sign-in code (idp/core/email_code.py): keyed hash, single use.
    email_code_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)
    email_code_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    email_code_sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    realm: Mapped[Realm] = relationship(lazy="joined")

    def set_email(self, email: str | None, verified: bool = False) -> None:
        self.email = email
        self.email_normalized = email.strip().lower() if email else None
        self.email_verified = verified

    @property
    def display_name(self) -> str:
        names = " ".join(n for n in (self.given_name, self.family_name) if n)
        return names or self.identifier


class FederatedIdentity(db.Model):
    """A social account linked to a customer after the customer proved the identifier."""

    __tablename__ = "federated_identity"
    __table_args__ = (UniqueConstraint("realm_id", "provider", "subject"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class SsoSession(db.Model):
    """A browser sign-in at the idp; ``id`` is the OIDC ``sid``."""

    __tablename__ = "sso_session"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=random_id)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    auth_time: Mapped[int] = mapped_column(Integer)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    acr: Mapped[str] = mapped_column(String(64), default="1")
    idp: Mapped[str | None] = mapped_column(String(32), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # Epoch seconds of the last proof of a credential (sign-in, or a re-proof in Mon
    # compte): what "fresh proof" is measured against. None on rows older than the column.
    proved_at: Mapped[int | None] = mapped_column(Integer, nullable=True)

    customer: Mapped[Customer] = relationship(lazy="joined")


class SessionClient(db.Model):
    """Which clients a session signed in to, for back-channel logout."""

    __tablename__ = "session_client"
    sid: Mapped[str] = mapped_column(
        ForeignKey("sso_session.id", ondelete="CASCADE"), primary_key=True
    )
    client_pk: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), primary_key=True
    )


class AuthorizationCode(db.Model):
    """A single-use authorization code (stored hashed), with what the id_token needs."""

    __tablename__ = "authorization_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id", ondelete="CASCADE"))
    sid: Mapped[str | None] = mapped_column(String(64), nullable=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text, default="")
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    auth_time: Mapped[int] = mapped_column(Integer)
    acr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    idp: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claims: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    # Authlib's AuthorizationCodeMixin / OIDC mixin protocol.
    def get_redirect_uri(self) -> str:
        return self.redirect_uri

    def get_scope(self) -> str:
        return self.scope

    def get_nonce(self) -> str | None:
        return self.nonce

    def get_auth_time(self) -> int:
        return self.auth_time

    def get_acr(self) -> str | None:
        return self.acr

    def get_amr(self) -> list[str]:
        return list(self.amr or [])


class RefreshTokenRules:
    """Authlib's TokenMixin protocol for the refresh grant, one definition for the token
    row and for the rotated row the grant reads (``idp.oidc.grants.RotatedToken``)."""

    __slots__ = ()  # adds no instance dict: the rotated row keeps its slots

    def check_client(self, client: Any) -> bool:
        return bool(client.pk == self.client_pk)  # type: ignore[attr-defined]

    def get_scope(self) -> str:
        return str(self.scope)  # type: ignore[attr-defined]

    def is_revoked(self) -> bool:
        return self.revoked_at is not None  # type: ignore[attr-defined]

    def is_expired(self) -> bool:
        expires = self.refresh_expires_at  # type: ignore[attr-defined]
        return expires is None or expires <= utcnow()


class Token(RefreshTokenRules, db.Model):
    """One issued access token (by ``jti``) and its optional refresh token.

    Refresh tokens rotate: a rotated row keeps ``family_id`` so a reused refresh token
    revokes the whole chain.
    """

    __tablename__ = "token"
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("client.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), nullable=True, index=True
    )
    sid: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    code_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    family_id: Mapped[str] = mapped_column(String(64), index=True, default=random_id)
    scope: Mapped[str] = mapped_column(Text, default="")
    access_jti: Mapped[str] = mapped_column(String(64), unique=True)
    access_expires_at: Mapped[datetime] = mapped_column(DateTime)
    refresh_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    auth_time: Mapped[int | None] = mapped_column(Integer, nullable=True)
    acr: Mapped[str | None] = mapped_column(String(64), nullable=True)
    amr: Mapped[list[str]] = mapped_column(JSON, default=list)
    idp: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claims: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    rotated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    customer: Mapped[Customer | None] = relationship(lazy="joined")


class Consent(db.Model):
    """Scopes a customer granted to a third-party client (first-party clients need none)."""

    __tablename__ = "consent"
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True
    )
    client_pk: Mapped[int] = mapped_column(
        ForeignKey("client.id", ondelete="CASCADE"), primary_key=True
    )
    scope: Mapped[str] = mapped_column(Text, default="")
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ActionToken(db.Model):
    """An emailed link (verify email, reset password): single use, bound to an address."""

    __tablename__ = "action_token"
    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=random_id)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(32))
    email: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class AuditEvent(db.Model):
    """Who did what, when, from where. Never holds a secret."""

    __tablename__ = "audit_event"
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    customer_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    event: Mapped[str] = mapped_column(String(64), index=True)
    ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Interaction(db.Model):
    """A sign-in in progress (what oidc-provider calls an Interaction), kept server-side.

    The browser holds only the random ``id``; the row lives about 15 minutes and is
    completed once. ``data`` is the typed :class:`idp.core.interaction.Interaction` as JSON.
    """

    __tablename__ = "interaction"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"))
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), nullable=True, index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    completed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class UsedAssertion(db.Model):
    """A client assertion ``jti`` already seen (RFC 7523 replay protection), kept until the
    assertion's own ``exp`` so every worker and instance refuses a replay."""

    __tablename__ = "used_assertion"
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class OutboxMail(db.Model):
    """A mail to send, written in the same transaction as what caused it.

    A worker (``idp mail worker``) or the request itself delivers it, with retries and
    backoff. Once sent, ``context`` (which may hold a link secret) is emptied.
    """

    __tablename__ = "outbox_mail"
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int | None] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"),
                                                 nullable=True)
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customer.id", ondelete="SET NULL"), nullable=True, index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    template: Mapped[str] = mapped_column(String(64))
    locale: Mapped[str] = mapped_column(String(16), default="fr")
    context: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="queued", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class KnownDevice(db.Model):
    """A browser a customer signed in from (idp/core/devices.py): the long-lived device
    cookie of the realm, stored as its SHA-256 only, with when we last mailed about it."""

    __tablename__ = "known_device"
    __table_args__ = (UniqueConstraint("customer_id", "device_hash"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    device_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(120), default="")
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_mail_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# Search indexes (also created by the Alembic migration): prefix searches on identifier,
# email and names stay index scans on 500,000 customers. text_pattern_ops lets
# PostgreSQL use them for LIKE 'prefix%' whatever the database collation.
_PATTERN = {"postgresql_ops": {"identifier": "text_pattern_ops",
                               "email_normalized": "text_pattern_ops",
                               "family_lower": "text_pattern_ops",
                               "given_lower": "text_pattern_ops"}}
Index("ix_customer_search_identifier", Customer.realm_id, Customer.identifier, **_PATTERN)
Index("ix_customer_search_email", Customer.realm_id, Customer.email_normalized, **_PATTERN)
Index("ix_customer_search_family", Customer.realm_id,
      func.lower(Customer.family_name).label("family_lower"), **_PATTERN)
Index("ix_customer_search_given", Customer.realm_id,
      func.lower(Customer.given_name).label("given_lower"), **_PATTERN)
Index("ix_customer_realm_activated", Customer.realm_id, Customer.activated_at)
Index("ix_audit_event_created", AuditEvent.created_at)
Index("ix_audit_event_realm_created", AuditEvent.realm_id, AuditEvent.created_at)
Index("ix_token_client_created", Token.client_pk, Token.created_at)


class RealmCustomerCount(db.Model):
    """A realm's customer counts, kept by database triggers in the same transaction as
    every change (see :mod:`idp.core.customer_counts`): the migration dashboard reads
    this row instead of counting a million customers."""

    __tablename__ = "realm_customer_count"
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"),
                                          primary_key=True, autoincrement=False)
    imported: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    disabled: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[int] = mapped_column(Integer, default=0)


# Cheap live parts of the dashboard: temporary lockouts and the realm's outbox by status.
# Partial: a customer never locked (every imported one) costs the index nothing.
Index("ix_customer_realm_locked_until", Customer.realm_id, Customer.locked_until,
      postgresql_where=Customer.locked_until.is_not(None),
      sqlite_where=Customer.locked_until.is_not(None))
Index("ix_outbox_realm_status", OutboxMail.realm_id, OutboxMail.status)


@event.listens_for(db.metadata, "after_create")
def _count_triggers(_target: Any, connection: Any, **kw: Any) -> None:
    """``create_all`` (tests, the embedded default) installs the same triggers as the
    Alembic revision."""
    if "customer" in {t.name for t in kw.get("tables", [])}:
        customer_counts.install(connection)
