"""The mail outbox: mails are rows written in the caller's transaction, delivered after.

Delivery (rendering the templates, talking SMTP) belongs to the web layer and the worker;
the core only says which mail, to whom, in which language, with which values. A mail
that fails is retried with exponential backoff; after ``MAX_ATTEMPTS`` it is ``failed``
and shows in ``idp mail failed`` and the staff dashboard.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from shared import metrics

from . import audit
from .db import db
from .models import OutboxMail, utcnow

MAX_ATTEMPTS = 8
BASE_DELAY_SECONDS = 30
SENT, QUEUED, SENDING, FAILED = "sent", "queued", "sending", "failed"
#: Ids queued by the current request/command, so the caller can deliver them after commit.
_queued: ContextVar[tuple[int, ...]] = ContextVar("outbox_queued", default=())


def take_queued() -> tuple[int, ...]:
    """The ids queued since the last call (and forget them)."""
    ids = _queued.get()
    _queued.set(())
    return ids


def enqueue(*, realm_id: int | None, to: str, template: str, context: dict[str, Any],
            locale: str = "fr", customer_id: int | None = None) -> OutboxMail:
    """Queue one mail (the caller commits, with whatever caused the mail)."""
    row = OutboxMail(realm_id=realm_id, customer_id=customer_id, recipient=to,
                     template=template, context=context, locale=locale or "fr",
                     status=QUEUED, next_attempt_at=utcnow())
    db.session.add(row)
    db.session.flush()
    _queued.set((*_queued.get(), row.id))
    metrics.mail("queued")
    return row


def claim(row_id: int) -> OutboxMail | None:
    """Take a queued mail that is due for delivery, once (two workers never send the same
    mail). A mail waiting for its retry is not due: the request that just failed to send
    it (``deliver_now``) does not try it again right after the response."""
    done = db.session.execute(
        update(OutboxMail).where(OutboxMail.id == row_id, OutboxMail.status == QUEUED,
                                 OutboxMail.next_attempt_at <= utcnow())
        .values(status=SENDING, attempts=OutboxMail.attempts + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    if done != 1:
        return None
    row = db.session.get(OutboxMail, row_id)
    if row is not None:
        db.session.refresh(row)
    return row


def due(limit: int = 50) -> list[int]:
    rows = db.session.execute(
        db.select(OutboxMail.id).where(OutboxMail.status == QUEUED,
                                       OutboxMail.next_attempt_at <= utcnow())
        .order_by(OutboxMail.id).limit(limit)
    ).scalars()
    return list(rows)


def delivered(row: OutboxMail) -> None:
    row.status = SENT
    row.sent_at = utcnow()
    row.context = None  # link secrets do not outlive the delivery
    row.last_error = None
    metrics.mail("sent")


@dataclass(frozen=True)
class Retry:
    """How hard the outbox tries: ``max_attempts`` sends, waiting ``base_delay`` seconds,
    then twice as long after each failure (30 s, 1 min, 2 min… about an hour in all by
    default: an SMTP relay restart or a short outage costs no mail)."""

    max_attempts: int = MAX_ATTEMPTS
    base_delay: float = BASE_DELAY_SECONDS


DEFAULT_RETRY = Retry()


def failed(row: OutboxMail, error: str, retry: Retry = DEFAULT_RETRY) -> None:
    """Schedule a retry with exponential backoff, or give up after ``max_attempts``."""
    row.last_error = error[:255]
    metrics.mail("failed")
    audit.record("mail_failed", realm_id=row.realm_id, customer_id=row.customer_id,
                 template=row.template, attempt=row.attempts)
    if row.attempts >= retry.max_attempts:
        row.status = FAILED
        return
    row.status = QUEUED
    row.next_attempt_at = utcnow() + timedelta(
        seconds=retry.base_delay * 2 ** max(0, row.attempts - 1))


def deliver(row_id: int, send: Callable[[OutboxMail], None],
            retry: Retry = DEFAULT_RETRY) -> bool:
    """Claim and send one mail with ``send`` (raises on failure); commits; ``True`` if sent."""
    row = claim(row_id)
    if row is None:
        return False
    try:
        send(row)
    except Exception as exc:  # any transport error: retried later, never lost
        failed(row, f"{type(exc).__name__}: {exc}", retry)
        db.session.commit()
        return False
    delivered(row)
    db.session.commit()
    return True


def run_once(send: Callable[[OutboxMail], None], limit: int = 50,
             retry: Retry = DEFAULT_RETRY) -> tuple[int, int]:
    """Deliver what is due; ``(sent, not sent)``."""
    sent = unsent = 0
    for row_id in due(limit):
        if deliver(row_id, send, retry):
            sent += 1
        else:
            unsent += 1
    return sent, unsent


def counts(realm_id: int | None = None) -> dict[str, int]:
    q = db.select(OutboxMail.status, db.func.count()).group_by(OutboxMail.status)
    if realm_id is not None:
        q = q.where(OutboxMail.realm_id == realm_id)
    return {status: n for status, n in db.session.execute(q)}


def failures(limit: int = 100) -> list[OutboxMail]:
    return list(db.session.execute(
        db.select(OutboxMail).where(OutboxMail.status == FAILED)
        .order_by(OutboxMail.id.desc()).limit(limit)).scalars())
