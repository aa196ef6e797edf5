"""Se connecter avec un code reçu par email: a way in of its own kind (amr ``otp``).

A customer with a verified address asks for a code after typing their identifier or
address; a 6-digit code valid 10 minutes goes to that address through the outbox. It is
single use, superseded by the next one, and counted in the password's failure budget and
lockout. The answer never tells whether the account exists: unknown identifiers, shared
or unverified addresses, disabled or locked accounts get the same page and no mail.
Not offered in the staff realm (password + TOTP only) nor where the realm switched it off.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update

from . import audit, credentials, mails, ways_in
from .db import db
from .models import Customer, OutboxMail, utcnow
from .realms import RealmInfo
from .settings import AppSettings

LIFETIME = timedelta(minutes=10)
AMR = ["otp"]
ACR = "1"


def offered(realm: RealmInfo, staff_realm: str) -> bool:
    """Is "Recevoir un code par email" on this realm's sign-in page?"""
    return bool(realm.settings.email_code_sign_in) and realm.slug != staff_realm


def configured_for(customer: Customer) -> bool:
    """The registry's question: is this a way in for the customer (a verified address)?"""
    return bool(customer.email and customer.email_verified and customer.deleted_at is None)


def _key(cfg: AppSettings) -> bytes:
    return hmac.new(cfg.code_key, b"idp-email-code", hashlib.sha256).digest()


def request(cfg: AppSettings, realm: RealmInfo, login: str, locale: str | None = None,
            now: datetime | None = None) -> OutboxMail | None:
    """Queue a code for the one account ``login`` names, when it may have one; None
    otherwise (the caller answers the same either way). The caller commits."""
    now = now or utcnow()
    found = credentials.find_customers(realm, login)
    if len(found) != 1:
        audit.record("email_code_refused", realm_id=realm.id,
                     reason="ambiguous_email" if found else "unknown")
        return None
    customer = found[0]
    reason = None
    if not configured_for(customer):
        reason = "no_verified_email"
    elif credentials.is_locked(customer):
        reason = "locked"
    elif (customer.email_code_sent_at is not None
          and now - customer.email_code_sent_at
          < timedelta(seconds=realm.settings.resend_cooldown)):
        reason = "cooldown"
    if reason:
        audit.record("email_code_refused", realm_id=realm.id, customer_id=customer.id,
                     reason=reason)
        return None
    code = credentials.new_temporary_code()
    customer.email_code_hash = credentials.hash_temporary_code(_key(cfg), code)
    customer.email_code_expires_at = now + LIFETIME
    customer.email_code_sent_at = now
    audit.record("email_code_sent", realm_id=realm.id, customer_id=customer.id)
    return mails.notify(realm, customer, customer.email or "", "email_code", locale,
                        code=code, minutes=int(LIFETIME.total_seconds() // 60))


@dataclass(frozen=True)
class Check:
    customer: Customer | None
    outcome: str  # success / bad_code / locked / unknown


def verify(cfg: AppSettings, realm: RealmInfo, login: str, code: str,
           now: datetime | None = None) -> Check:
    """Check ``code`` for ``login`` with the password's lockout; a success consumes the
    code (compare-and-swap: of two simultaneous right answers one wins). Commits."""
    now = now or utcnow()
    code = (code or "").strip().replace(" ", "")
    found = credentials.find_customers(realm, login)
    if len(found) != 1 or not configured_for(found[0]):
        audit.record("email_code_failed", realm_id=realm.id, reason="unknown")
        db.session.commit()
        return Check(None, "unknown")
    customer = found[0]
    stored, expires = customer.email_code_hash, customer.email_code_expires_at

    def matches() -> bool:
        return bool(stored and expires and expires > now and len(code) == 6
                    and credentials.verify_temporary_code(_key(cfg), stored, code))

    outcome = credentials.guarded(customer, realm.settings.brute_force, matches)
    if outcome == "success":
        won = db.session.execute(
            update(Customer).where(Customer.id == customer.id,
                                   Customer.email_code_hash == stored)
            .values(email_code_hash=None, email_code_expires_at=None)
            .execution_options(synchronize_session=False)).rowcount == 1
        if not won:
            outcome = "bad_code"
        else:
            customer.email_code_hash = None
            customer.email_code_expires_at = None
    if outcome != "success":
        audit.record("email_code_failed", realm_id=realm.id, customer_id=customer.id,
                     reason=outcome)
    db.session.commit()
    return Check(customer if outcome == "success" else None, outcome)


def forget(customer: Customer) -> list[str]:
    """A recovery or an erasure ends a code in flight (nothing to tell the customer)."""
    customer.email_code_hash = None
    customer.email_code_expires_at = None
    return []


class _EmailCodeWay:
    """The registry's view of the emailed code (amr ``otp``, acr ``1``).

    Like the forgotten-password mail, it rests on the mailbox and on the realm's switch,
    so it never counts for the last-way-in rule (:func:`ways_in.may_remove`): ``items``
    is empty; ``configured_for`` says whether the customer could ask for one."""

    kind = ways_in.Kind.EMAIL_CODE
    amr = tuple(AMR)
    first_factor = True

    def items(self, customer: Customer) -> list[ways_in.Item]:
        return []

    def configured_for(self, customer: Customer) -> bool:
        return configured_for(customer)

    def usable_now(self, customer: Customer, realm: object) -> bool:
        settings = getattr(realm, "settings", None)
        switched_on = bool(getattr(settings, "email_code_sign_in", True))
        return (configured_for(customer) and switched_on
                and ways_in.may_sign_in(customer, realm) is None
                and not credentials.is_locked(customer))

    def on_recovery(self, customer: Customer) -> list[str]:
        return forget(customer)


ways_in.register(_EmailCodeWay())
