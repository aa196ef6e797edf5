"""The migration dashboard's numbers: how far a realm's customers are in their première
connexion.

At a million customers nothing is recounted per view: "imported", "done", "disabled" and
"locked for good" are kept per realm by the database in the same transaction as each
change (:mod:`idp.core.customer_counts`); the rest are small indexed reads: customers
with a verification link out (the action tokens, not the customers, are scanned),
temporary lockouts still running (index on ``locked_until``) and the outbox's unsent
mails (index on realm and status). :func:`recount` is the old full count, kept to prove
the kept figures right.

Definitions (the console and the admin API show the same):

* **imported**: every customer of the realm;
* **first connection done**: ``activated_at`` is set (the première connexion finished), or
  the customer already has a verified email and an argon2 password (created active);
* **pending, never started**: neither, and no verification link was ever issued;
* **pending, started**: neither, but a verification mail went out (email still unverified);
* **locked** / **disabled**: whatever their progress;
* **mails failed / queued**: the realm's outbox.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import and_, exists, func, not_, or_

from .. import customer_counts, links, outbox
from ..db import db
from ..models import ActionToken, Customer, OutboxMail, utcnow
from ..realms import RealmInfo
from ..staff import Action, Principal, require


@dataclass(frozen=True)
class Counts:
    imported: int
    done: int
    pending_never_started: int
    pending_started: int
    locked: int
    disabled: int
    mails_failed: int
    mails_queued: int

    @property
    def pending(self) -> int:
        return self.pending_never_started + self.pending_started

    def as_dict(self) -> dict[str, int]:
        return {**self.__dict__, "pending": self.pending}


def _done() -> Any:
    return or_(Customer.activated_at.is_not(None),
               and_(Customer.password_hash.is_not(None), Customer.email_verified.is_(True)))


def _started() -> Any:
    return exists().where(ActionToken.customer_id == Customer.id,
                          ActionToken.kind == links.VERIFY_EMAIL)


def counts(principal: Principal, realm: RealmInfo) -> Counts:
    require(principal, realm.slug, Action.MIGRATION_READ)
    now = utcnow()
    in_realm = Customer.realm_id == realm.id
    kept = customer_counts.kept(db.session.connection(), realm.id)
    started = int(db.session.execute(
        db.select(func.count(func.distinct(ActionToken.customer_id)))
        .join(Customer, Customer.id == ActionToken.customer_id)
        .where(ActionToken.kind == links.VERIFY_EMAIL, in_realm, not_(_done()))
    ).scalar() or 0)
    locked_for_now = int(db.session.execute(
        db.select(func.count()).select_from(Customer).where(
            in_realm, Customer.locked_until > now, Customer.enabled.is_(True),
            Customer.locked_permanently.is_(False))).scalar() or 0)
    mails = dict(db.session.execute(
        db.select(OutboxMail.status, func.count())
        .where(OutboxMail.realm_id == realm.id,
               OutboxMail.status.in_((outbox.FAILED, outbox.QUEUED, outbox.SENDING)))
        .group_by(OutboxMail.status)).all())
    return Counts(
        imported=kept["imported"],
        done=kept["done"],
        pending_never_started=kept["imported"] - kept["done"] - started,
        pending_started=started,
        locked=kept["locked"] + locked_for_now,
        disabled=kept["disabled"],
        mails_failed=mails.get(outbox.FAILED, 0),
        mails_queued=mails.get(outbox.QUEUED, 0) + mails.get(outbox.SENDING, 0),
    )


def recount(realm: RealmInfo) -> Counts:
    """Every figure counted from the rows (no permission check: tests and repair)."""
    now = utcnow()
    in_realm = Customer.realm_id == realm.id

    def n(*criteria: Any) -> int:
        return int(db.session.execute(
            db.select(func.count()).select_from(Customer).where(in_realm, *criteria)
        ).scalar() or 0)

    mails = outbox.counts(realm.id)
    return Counts(
        imported=n(),
        done=n(_done()),
        pending_never_started=n(not_(_done()), not_(_started())),
        pending_started=n(not_(_done()), _started()),
        locked=n(Customer.enabled.is_(True), or_(Customer.locked_permanently.is_(True),
                                                 Customer.locked_until > now)),
        disabled=n(Customer.enabled.is_(False)),
        mails_failed=mails.get(outbox.FAILED, 0),
        mails_queued=mails.get(outbox.QUEUED, 0) + mails.get(outbox.SENDING, 0),
    )


def first_connections_per_day(principal: Principal, realm: RealmInfo, days: int = 30
                              ) -> list[tuple[date, int]]:
    """``(day, first connections)`` for the last ``days`` days, zero days included."""
    require(principal, realm.slug, Action.MIGRATION_READ)
    today = utcnow().date()
    start = today - timedelta(days=days - 1)
    day = func.date(Customer.activated_at)
    rows = db.session.execute(
        db.select(day, func.count()).where(Customer.realm_id == realm.id,
                                           Customer.activated_at >= start)
        .group_by(day))
    found = {str(d)[:10]: int(c) for d, c in rows}
    return [(start + timedelta(days=i), found.get((start + timedelta(days=i)).isoformat(), 0))
            for i in range(days)]


PENDING_COLUMNS = ("identifier", "email", "given_name", "family_name", "started")


def pending_rows(principal: Principal, realm: RealmInfo, batch: int = 2000
                 ) -> Iterator[dict[str, str]]:
    """Customers still owing their première connexion (enabled ones), for a reminder
    mailing; streamed by primary key so 500,000 rows never sit in memory."""
    require(principal, realm.slug, Action.CUSTOMERS_READ)
    last = 0
    while True:
        rows = db.session.execute(
            db.select(Customer.id, Customer.identifier, Customer.email, Customer.given_name,
                      Customer.family_name, _started().label("started"))
            .where(Customer.realm_id == realm.id, Customer.id > last,
                   Customer.enabled.is_(True), not_(_done()))
            .order_by(Customer.id).limit(batch)).all()
        if not rows:
            return
        for row in rows:
            last = row.id
            yield {"identifier": row.identifier, "email": row.email or "",
                   "given_name": row.given_name or "", "family_name": row.family_name or "",
                   "started": "yes" if row.started else "no"}
