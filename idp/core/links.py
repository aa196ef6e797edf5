"""Action links (verify email, reset password, change email): issue, look up, consume.

An action token is single use, bound to one customer and to the address it was mailed
to, lives ``action_token_lifetime`` seconds, and is superseded by the next one of the same
kind. Only its SHA-256 is stored: the link itself is the secret, so a database dump opens
nothing. Sending the mail is the web layer's job (templates, locale).
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update

from .db import db
from .models import ActionToken, Customer, utcnow
from .settings import RealmSettings

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"
CHANGE_EMAIL = "change_email"
#: Kinds whose dead link may be renewed by anyone holding it — always to the customer's
#: *current* address. A change-email link is never renewed from the link itself.
RENEWABLE = (VERIFY_EMAIL, RESET_PASSWORD)


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(customer: Customer, kind: str, email: str, settings: RealmSettings) -> str:
    """A new link secret for ``kind``; every earlier live one of that kind is superseded."""
    now = utcnow()
    supersede(customer.id, kind)
    raw = secrets.token_urlsafe(32)
    db.session.add(ActionToken(id=digest(raw), customer_id=customer.id, kind=kind,
                               email=email, created_at=now,
                               expires_at=now + timedelta(seconds=settings.action_token_lifetime)))
    return raw


def supersede(customer_id: int, *kinds: str) -> None:
    """Kill every live link of ``kinds`` (all kinds when none given)."""
    criteria = [ActionToken.customer_id == customer_id, ActionToken.used_at.is_(None),
                ActionToken.superseded_at.is_(None)]
    if kinds:
        criteria.append(ActionToken.kind.in_(kinds))
    db.session.execute(update(ActionToken).where(*criteria).values(superseded_at=utcnow())
                       .execution_options(synchronize_session=False))


def drop(raw: str) -> None:
    """Forget a link that was never delivered (the mail could not be sent)."""
    db.session.execute(db.delete(ActionToken).filter_by(id=digest(raw)))


@dataclass
class Lookup:
    """What a link is worth: ``status`` is ok, expired, used, superseded or unknown."""

    status: str
    token: ActionToken | None = None
    customer: Customer | None = None


def lookup(raw: str, realm_id: int) -> Lookup:
    row = db.session.get(ActionToken, digest(raw)) if raw and len(raw) < 100 else None
    if row is None:
        return Lookup("unknown")
    customer = db.session.get(Customer, row.customer_id)
    if customer is None or customer.realm_id != realm_id:
        return Lookup("unknown")
    if row.used_at is not None:
        return Lookup("used", row, customer)
    if row.superseded_at is not None:
        return Lookup("superseded", row, customer)
    if row.expires_at <= utcnow():
        return Lookup("expired", row, customer)
    if row.kind != CHANGE_EMAIL and (customer.email_normalized or "") != row.email.lower():
        # The address changed since the mail left: the link proves nothing any more.
        return Lookup("superseded", row, customer)
    return Lookup("ok", row, customer)


def consume(token: ActionToken) -> bool:
    """Use the link, once: ``False`` when a concurrent request used it first."""
    done = db.session.execute(
        update(ActionToken).where(ActionToken.id == token.id, ActionToken.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)
    ).rowcount
    return done == 1


def last_sent(customer: Customer, kind: str) -> datetime | None:
    return db.session.execute(
        db.select(db.func.max(ActionToken.created_at)).filter_by(customer_id=customer.id,
                                                                 kind=kind)
    ).scalar()


def cooldown_left(customer: Customer, kind: str, settings: RealmSettings) -> int:
    """Seconds before another mail of ``kind`` may be sent (realm ``resend_cooldown``)."""
    sent = last_sent(customer, kind)
    if sent is None:
        return 0
    left = (sent + timedelta(seconds=settings.resend_cooldown) - utcnow()).total_seconds()
    return max(0, math.ceil(left))


def pending_change(customer: Customer) -> str | None:
    """The address a live change-email link would set, if any."""
    row = db.session.execute(
        db.select(ActionToken).filter_by(customer_id=customer.id, kind=CHANGE_EMAIL,
                                         used_at=None, superseded_at=None)
        .where(ActionToken.expires_at > utcnow())
    ).scalars().first()
    return row.email if row else None


def lifetime_minutes(settings: RealmSettings) -> int:
    return max(1, math.ceil(settings.action_token_lifetime / 60))
