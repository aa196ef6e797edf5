"""Supprimer mon compte (right to erasure): request, grace period, refusal, purge.

A request (fresh proof, in Mon compte) starts a grace period (``deletion_grace_days``,
30 by default): every session and token ends at once and no way in completes a sign-in
(the sign-in flow offers to cancel instead); a mail confirms with a cancel link. The
agency may refuse a request with a reason the customer sees (a live lease may oblige it
to keep the account). Once the period is over, :func:`purge_due` (``idp customers
purge-deleted``, also run by the mail worker) erases personal data, keeps the identifier
and the dates, sends back-channel logout to every app the customer used and records
``customer_deleted`` (read by the apps through the admin API's events, by cursor).
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import delete, update

from . import audit, credentials, logout, mails, ways_in
from .db import db
from .models import (
    ActionToken,
    AuditEvent,
    Client,
    Consent,
    Customer,
    Interaction,
    KnownDevice,
    OutboxMail,
    Realm,
    SessionClient,
    SsoSession,
    Token,
    epoch,
    utcnow,
)
from .realms import RealmInfo, settings_of
from .settings import AppSettings, RealmSettings
from .totp import RecoveryCode, TotpCredential


class DeletionError(ValueError):
    """A deletion step the account's state refuses (``code`` stable)."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def pending(customer: Customer) -> bool:
    return customer.deletion_requested_at is not None and customer.deleted_at is None


#: True only while :func:`prove` checks the password of a pending account.
_proving: ContextVar[bool] = ContextVar("deletion_proving", default=False)


def _sign_in_check(customer: Customer) -> str | None:
    """The registry's "may this customer sign in" rule: not while a deletion is pending
    (every way in, every session, every token), except to prove the password that
    cancels it (:func:`prove`)."""
    if pending(customer) and not _proving.get():
        return "deletion_pending"
    return None


ways_in.register_sign_in_check(_sign_in_check)


def prove(cfg: AppSettings, realm: RealmInfo, login: str, password: str) -> Customer | None:
    """The sign-in page during the grace period: the password of a pending account,
    with the usual lockout; the customer when right (nothing starts: the caller offers
    to cancel), else None. Commits the attempt's bookkeeping."""
    token = _proving.set(True)
    try:
        attempt = credentials.authenticate(cfg, realm, login, password)
    finally:
        _proving.reset(token)
    found = attempt.customer
    return found if found is not None and pending(found) else None


def pending_for(found: list[Customer]) -> bool:
    """Do the accounts a login names (:func:`credentials.find_customers`) come down to
    exactly one whose deletion is pending?"""
    return len(found) == 1 and pending(found[0])


def erase_on(customer: Customer, settings: RealmSettings) -> datetime | None:
    """When a pending request is carried out."""
    if customer.deletion_requested_at is None:
        return None
    return customer.deletion_requested_at + timedelta(days=settings.deletion_grace_days)


# --- cancel link --------------------------------------------------------------------------

def _serializer(cfg: AppSettings) -> URLSafeSerializer:
    return URLSafeSerializer(cfg.secret_key, salt="idp-cancel-deletion")


def cancel_token(cfg: AppSettings, customer: Customer) -> str:
    """Bound to this request (its time): a later request needs its own link."""
    assert customer.deletion_requested_at is not None
    return str(_serializer(cfg).dumps({"sub": customer.sub,
                                       "at": epoch(customer.deletion_requested_at)}))


def customer_of_cancel_token(cfg: AppSettings, realm: RealmInfo, token: str
                             ) -> Customer | None:
    """The customer whose *current* pending request the link cancels, else None."""
    try:
        data = _serializer(cfg).loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    row = db.session.execute(db.select(Customer).filter_by(
        sub=str(data.get("sub")), realm_id=realm.id)).scalar_one_or_none()
    if row is None or not pending(row) or row.deletion_requested_at is None:
        return None
    return row if epoch(row.deletion_requested_at) == data.get("at") else None


# --- request, cancel, refuse --------------------------------------------------------------

def request(cfg: AppSettings, realm: RealmInfo, customer: Customer, issuer: str,
            locale: str | None = None, now: datetime | None = None) -> OutboxMail | None:
    """Start the grace period: every session, sign-in in progress and token ends now.
    Commits; returns the confirmation mail (None without an address)."""
    if customer.deleted_at is not None:
        raise DeletionError("deleted")
    if pending(customer):
        raise DeletionError("already_pending")
    now = (now or utcnow()).replace(microsecond=0)
    customer.deletion_requested_at = now
    customer.deletion_refused_at = None
    customer.deletion_refused_reason = None
    audit.record("customer_deletion_requested", realm_id=customer.realm_id,
                 customer_id=customer.id)
    mail = None
    if customer.email:
        when = erase_on(customer, realm.settings)
        assert when is not None
        mail = mails.notify(realm, customer, customer.email, "deletion_requested", locale,
                            erase_on=when.strftime("%d/%m/%Y"),
                            link=f"{issuer}/account-deletion/cancel/"
                                 f"{cancel_token(cfg, customer)}")
    db.session.commit()
    logout.end_all_sessions(customer.id, "deletion_requested", issuer)
    return mail


def cancel(customer: Customer, how: str) -> bool:
    """Cancel a pending request (sign-in, mail link); False when none was pending.
    The caller commits."""
    if not pending(customer):
        return False
    customer.deletion_requested_at = None
    audit.record("customer_deletion_cancelled", realm_id=customer.realm_id,
                 customer_id=customer.id, how=how)
    return True


def refuse(realm: RealmInfo, customer: Customer, reason: str, locale: str | None = None
           ) -> OutboxMail | None:
    """The agency keeps the account (a live lease...): the request ends, the reason is
    shown to the customer in Mon compte and mailed. The caller checks the permission
    (:mod:`idp.core.operations.privacy`) and commits."""
    reason = (reason or "").strip()
    if not reason:
        raise DeletionError("reason_required")
    if not pending(customer):
        raise DeletionError("not_pending")
    customer.deletion_requested_at = None
    customer.deletion_refused_at = utcnow()
    customer.deletion_refused_reason = reason[:500]
    audit.record("customer_deletion_refused", realm_id=customer.realm_id,
                 customer_id=customer.id)
    if customer.email:
        return mails.notify(realm, customer, customer.email, "deletion_refused", locale,
                            reason=customer.deletion_refused_reason)
    return None


def pending_in(realm: RealmInfo) -> list[Customer]:
    """The realm's pending requests, oldest first (the console's list)."""
    return list(db.session.execute(
        db.select(Customer).where(Customer.realm_id == realm.id,
                                  Customer.deletion_requested_at.is_not(None),
                                  Customer.deleted_at.is_(None))
        .order_by(Customer.deletion_requested_at)).scalars())


# --- purge --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Purged:
    identifier: str
    realm: str
    apps_notified: int


def _apps_of(customer: Customer) -> list[Client]:
    """Every client the customer used: tokens, sessions, consents."""
    ids: set[int] = set(db.session.execute(
        db.select(Token.client_pk).where(Token.customer_id == customer.id)).scalars())
    ids |= set(db.session.execute(
        db.select(SessionClient.client_pk).join(SsoSession, SsoSession.id == SessionClient.sid)
        .where(SsoSession.customer_id == customer.id)).scalars())
    ids |= set(db.session.execute(
        db.select(Consent.client_pk).where(Consent.customer_id == customer.id)).scalars())
    if not ids:
        return []
    return list(db.session.execute(db.select(Client).where(Client.id.in_(ids))).scalars())


def erase(customer: Customer, issuer: str, now: datetime | None = None) -> Purged:
    """Erase the personal data of ``customer`` now; keep the row, its identifier, ``sub``
    and dates. Commits."""
    now = now or utcnow()
    apps = _apps_of(customer)
    cid = customer.id
    # Each way in's owner removes its own (passkeys, social links, an emailed code...),
    # the credentials module its columns; then what is only this module's business.
    ways_in.recover(customer)
    credentials.forget_all(customer)
    for model in (TotpCredential, RecoveryCode, Consent, ActionToken, Interaction,
                  KnownDevice, OutboxMail, Token):
        db.session.execute(delete(model).where(model.customer_id == cid)
                           .execution_options(synchronize_session=False))
    sids = db.select(SsoSession.id).where(SsoSession.customer_id == cid)
    db.session.execute(delete(SessionClient).where(SessionClient.sid.in_(sids))
                       .execution_options(synchronize_session=False))
    db.session.execute(delete(SsoSession).where(SsoSession.customer_id == cid)
                       .execution_options(synchronize_session=False))
    # The trail keeps what happened and when, nothing of who or from where.
    db.session.execute(update(AuditEvent).where(AuditEvent.customer_id == cid)
                       .values(ip=None, detail={})
                       .execution_options(synchronize_session=False))
    for name in ("email", "email_normalized", "given_name", "family_name", "phone_number",
                 "locale", "email_code_hash", "email_code_expires_at", "email_code_sent_at",
                 "deletion_refused_reason"):
        setattr(customer, name, None)
    customer.email_verified = False
    customer.required_actions = []
    customer.enabled = False
    customer.deleted_at = now
    audit.record("customer_deleted", realm_id=customer.realm_id, customer_id=cid,
                 sub=customer.sub, identifier=customer.identifier,
                 requested_at=customer.deletion_requested_at.isoformat()
                 if customer.deletion_requested_at else None)
    db.session.commit()
    notified = logout.notify_clients(customer.realm_id, issuer, apps, customer.sub)
    return Purged(customer.identifier, customer.realm.slug, notified)


def due(now: datetime | None = None) -> list[Customer]:
    """Pending requests whose grace period is over, every realm."""
    now = now or utcnow()
    result: list[Customer] = []
    for realm in db.session.execute(db.select(Realm)).scalars():
        cutoff = now - timedelta(days=settings_of(realm).deletion_grace_days)
        result += db.session.execute(
            db.select(Customer).where(Customer.realm_id == realm.id,
                                      Customer.deletion_requested_at.is_not(None),
                                      Customer.deletion_requested_at <= cutoff,
                                      Customer.deleted_at.is_(None))
            .order_by(Customer.id)).scalars()
    return result


def purge_due(cfg: AppSettings, now: datetime | None = None) -> list[Purged]:
    """Carry out every request whose grace period is over (idempotent: run it often)."""
    return [erase(c, cfg.issuer(c.realm.slug), now) for c in due(now)]
