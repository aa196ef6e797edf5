"""Linking rules for social identities: small, pure where possible, and testable.

- A social identity is found by ``(realm, provider, subject)``, never by email.
- An identity not yet linked never creates a customer and is linked only after the customer
  proved their identifier (password or première connexion) in the same browser, within
  :data:`LINK_MAX_AGE` seconds of the provider's answer.
- A customer has at most one identity per provider; an identity belongs to one customer.
- Unlinking never removes the last way in (the one rule, :func:`ways_in.may_remove`:
  a password, a temporary code, a passkey or another provider must remain).
- The agency's recovery unlinks every provider (:func:`unlink_all`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError

from . import audit, ways_in
from .db import db
from .models import Customer, FederatedIdentity
from .providers import display_name
from .providers.base import NormalisedProfile

#: How long a provider's answer may wait for the customer to prove their identifier.
LINK_MAX_AGE = 15 * 60


class LinkRefused(Exception):
    """The identity cannot be linked to this customer; ``reason`` says why.

    ``other_customer``: the identity already belongs to someone else;
    ``provider_taken``: this customer already has another account of that provider.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LastWayIn(Exception):
    """Unlinking would leave the customer without any way to sign in."""


@dataclass(frozen=True)
class PendingLink:
    """What the sign-in carries from the provider's answer to the proof of identifier."""

    realm_id: int
    provider: str
    subject: str
    email: str | None
    email_verified: bool
    name: str | None
    at: int

    @classmethod
    def from_profile(cls, realm_id: int, profile: NormalisedProfile) -> PendingLink:
        return cls(realm_id=realm_id, provider=profile.provider, subject=profile.subject,
                   email=profile.email, email_verified=profile.email_verified,
                   name=profile.name, at=int(time.time()))

    def as_dict(self) -> dict[str, Any]:
        return {"realm_id": self.realm_id, "provider": self.provider, "subject": self.subject,
                "email": self.email, "email_verified": self.email_verified,
                "name": self.name, "at": self.at}

    @classmethod
    def from_dict(cls, data: Any) -> PendingLink | None:
        """The carried value back, or ``None`` when it is missing or malformed."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(realm_id=int(data["realm_id"]), provider=str(data["provider"]),
                       subject=str(data["subject"]), email=data.get("email"),
                       email_verified=bool(data.get("email_verified")),
                       name=data.get("name"), at=int(data["at"]))
        except (KeyError, TypeError, ValueError):
            return None

    def expired(self, now: float | None = None) -> bool:
        return (now if now is not None else time.time()) - self.at > LINK_MAX_AGE


def find_identity(realm_id: int, provider: str, subject: str) -> FederatedIdentity | None:
    return db.session.execute(
        db.select(FederatedIdentity).filter_by(realm_id=realm_id, provider=provider,
                                               subject=subject)
    ).scalar_one_or_none()


def identities_of(customer: Customer) -> list[FederatedIdentity]:
    return list(db.session.execute(
        db.select(FederatedIdentity).filter_by(customer_id=customer.id)
        .order_by(FederatedIdentity.provider)
    ).scalars())


def has_password(customer: Customer) -> bool:
    """Any credential the sign-in form accepts (password, legacy hash, temporary code)."""
    return bool(customer.password_hash or customer.legacy_hash or customer.temporary_code_hash)


def check_linkable(customer: Customer, provider: str, subject: str) -> FederatedIdentity | None:
    """Raise :class:`LinkRefused` if linking is not allowed; return the existing row if the
    identity is already linked to this very customer (nothing to do)."""
    existing = find_identity(customer.realm_id, provider, subject)
    if existing is not None:
        if existing.customer_id != customer.id:
            raise LinkRefused("other_customer")
        return existing
    same_provider = db.session.execute(
        db.select(FederatedIdentity).filter_by(customer_id=customer.id, provider=provider)
    ).scalar_one_or_none()
    if same_provider is not None:
        raise LinkRefused("provider_taken")
    return None


def link(customer: Customer, provider: str, subject: str, email: str | None,
         how: str) -> tuple[FederatedIdentity, bool]:
    """Link (idempotently) and audit; returns the row and whether it was created.

    ``how`` says what proved the identifier (``password``, ``account``) for the audit trail.
    Raises :class:`LinkRefused`; on a concurrent link (unique constraint) too.
    """
    existing = check_linkable(customer, provider, subject)
    if existing is not None:
        return existing, False
    row = FederatedIdentity(realm_id=customer.realm_id, customer_id=customer.id,
                            provider=provider, subject=subject, email=email)
    try:
        with db.session.begin_nested():
            db.session.add(row)
            db.session.flush()
    except IntegrityError:
        raise LinkRefused("other_customer") from None
    audit.record("federated_identity_linked", realm_id=customer.realm_id,
                 customer_id=customer.id, provider=provider, via=how)
    return row, True


def refuse(customer: Customer | None, realm_id: int, provider: str, reason: str) -> None:
    audit.record("federated_link_refused", realm_id=realm_id,
                 customer_id=customer.id if customer else None, provider=provider,
                 reason=reason)


def can_unlink(customer: Customer, provider: str) -> bool:
    """Linked, and not the last way in (:func:`ways_in.may_remove`)."""
    if not any(r.provider == provider for r in identities_of(customer)):
        return False
    return ways_in.may_remove(customer, ways_in.Kind.SOCIAL, provider)


def unlink(customer: Customer, provider: str) -> bool:
    """Remove the customer's identity of ``provider``; ``False`` if there was none.

    Raises :class:`LastWayIn` rather than leave a customer without a way to sign in.
    """
    rows = identities_of(customer)
    target = next((r for r in rows if r.provider == provider), None)
    if target is None:
        return False
    if not ways_in.may_remove(customer, ways_in.Kind.SOCIAL, provider):
        audit.record("federated_unlink_refused", realm_id=customer.realm_id,
                     customer_id=customer.id, provider=provider, reason="last_way_in")
        raise LastWayIn(provider)
    db.session.delete(target)
    audit.record("federated_identity_unlinked", realm_id=customer.realm_id,
                 customer_id=customer.id, provider=provider)
    return True


def unlink_all(customer: Customer) -> list[str]:
    """The agency's recovery: every linked social account goes (whoever held the account
    may have linked their own). Returns labels for the mail; flushes."""
    labels = []
    for row in identities_of(customer):
        labels.append(f"compte {display_name(row.provider)}")
        db.session.delete(row)
        audit.record("federated_identity_unlinked", realm_id=customer.realm_id,
                     customer_id=customer.id, provider=row.provider, via="recovery")
    db.session.flush()
    return labels


def may_sign_in_with(customer: Customer, realm_id: int) -> bool:
    """May a linked social account sign this customer in now (:class:`_SocialWay`)?"""
    return ways_in.usable(customer, ways_in.Kind.SOCIAL, realm_id)


class _SocialWay:
    """A linked social account (Google, Microsoft…). Not usable while the agency's new
    temporary code waits: that code alone signs in until it is used."""

    kind = ways_in.Kind.SOCIAL
    amr = ("fed",)
    first_factor = True

    def items(self, customer: Customer) -> list[ways_in.Item]:
        return [ways_in.Item(self.kind, r.provider, f"compte {display_name(r.provider)}",
                             r.created_at, None, removable_by_customer=True,
                             name=display_name(r.provider))
                for r in identities_of(customer)]

    def configured_for(self, customer: Customer) -> bool:
        return bool(identities_of(customer))

    def usable_now(self, customer: Customer, realm: Any) -> bool:
        return (ways_in.may_sign_in(customer, realm) is None
                and not ways_in.recovery_pending(customer))

    def on_recovery(self, customer: Customer) -> list[str]:
        return unlink_all(customer)

    def remove(self, customer: Customer, key: str) -> None:
        """Mon compte's removal (the rule was checked by :func:`ways_in.remove`)."""
        unlink(customer, key)


ways_in.register(_SocialWay())
