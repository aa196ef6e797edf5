"""Reading the audit trail (filters, pages, CSV rows) and purging it after retention.

Filters are those of the console and the admin API: realm, customer identifier, actor,
event type, dates. A realm-admin only ever sees the events of their realms (the realm
filter is intersected with :func:`idp.core.staff.visible_realm_ids`); events without a
realm (platform events) are for super-admins only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from .. import audit
from ..db import db
from ..models import AuditEvent, Customer, Realm, utcnow
from ..realms import settings_of
from ..staff import Action, PermissionDenied, Principal, require, visible_realm_ids

PER_PAGE = 50
CSV_COLUMNS = ("time", "realm", "event", "actor", "customer", "client", "ip", "outcome",
               "detail")


@dataclass(frozen=True)
class Filters:
    realm: str | None = None
    customer: str | None = None
    actor: str | None = None
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Line:
    """One event as shown: names instead of ids, ``outcome`` the event's declared class."""

    id: int
    at: datetime
    realm: str
    event: str
    actor: str
    customer: str
    client: str
    ip: str
    outcome: str
    detail: dict[str, Any]


def _query(principal: Principal, staff_realm: str, f: Filters) -> Any:
    q = db.select(AuditEvent)
    allowed = visible_realm_ids(principal, staff_realm)
    if f.realm:
        require(principal, f.realm, Action.AUDIT_READ, staff_realm=staff_realm)
        realm = db.session.execute(db.select(Realm).filter_by(slug=f.realm)).scalar_one_or_none()
        if realm is None:  # a super-admin may read any realm, but not one that does not exist
            raise PermissionDenied(Action.AUDIT_READ, f.realm)
        q = q.where(AuditEvent.realm_id == realm.id)
    elif allowed is not None:
        if not allowed:
            raise PermissionDenied(Action.AUDIT_READ, None)
        q = q.where(AuditEvent.realm_id.in_(allowed))
    if f.customer:
        ids = db.select(Customer.id).where(Customer.identifier == f.customer.strip())
        if allowed is not None:
            ids = ids.where(Customer.realm_id.in_(allowed))
        q = q.where(AuditEvent.customer_id.in_(ids))
    if f.event:
        q = q.where(AuditEvent.event == f.event.strip())
    if f.actor:
        q = q.where(AuditEvent.detail["actor"].as_string() == f.actor.strip())
    if f.since:
        q = q.where(AuditEvent.created_at >= f.since)
    if f.until:
        q = q.where(AuditEvent.created_at < f.until + timedelta(days=1))
    return q


def _lines(rows: list[AuditEvent]) -> list[Line]:
    realm_ids = {r.realm_id for r in rows if r.realm_id}
    customer_ids = {r.customer_id for r in rows if r.customer_id}
    realms = dict(db.session.execute(db.select(Realm.id, Realm.slug)
                                     .where(Realm.id.in_(realm_ids))).all()) if realm_ids else {}
    customers = dict(db.session.execute(
        db.select(Customer.id, Customer.identifier).where(Customer.id.in_(customer_ids))
    ).all()) if customer_ids else {}
    out = []
    for r in rows:
        detail = dict(r.detail or {})
        out.append(Line(r.id, r.created_at, realms.get(r.realm_id, ""), r.event,
                        str(detail.pop("actor", "") or ""), customers.get(r.customer_id, ""),
                        str(detail.get("client_id", "") or ""), r.ip or "",
                        audit.event_class(r.event), detail))
    return out


def search(principal: Principal, staff_realm: str, f: Filters, before: int | None = None,
           per_page: int = PER_PAGE) -> tuple[list[Line], int | None]:
    """A page of events, newest first, and the cursor (``before``) of the next page."""
    q = _query(principal, staff_realm, f)
    if before:
        q = q.where(AuditEvent.id < before)
    rows = list(db.session.execute(q.order_by(AuditEvent.id.desc()).limit(per_page + 1))
                .scalars())
    nxt = rows[per_page - 1].id if len(rows) > per_page else None
    return _lines(rows[:per_page]), nxt


def csv_rows(principal: Principal, staff_realm: str, f: Filters, batch: int = 1000
             ) -> Iterator[dict[str, str]]:
    """Every matching event for a CSV export, streamed newest first."""
    before: int | None = None
    while True:
        lines, before = search(principal, staff_realm, f, before, batch)
        for line in lines:
            yield {"time": line.at.isoformat(timespec="seconds") + "Z", "realm": line.realm,
                   "event": line.event, "actor": line.actor, "customer": line.customer,
                   "client": line.client, "ip": line.ip, "outcome": line.outcome,
                   "detail": " ".join(f"{k}={v}" for k, v in sorted(line.detail.items()))}
        if before is None:
            return


def event_types(principal: Principal, staff_realm: str) -> list[str]:
    """The event names present (for the filter's list)."""
    q = db.select(AuditEvent.event).distinct().order_by(AuditEvent.event)
    allowed = visible_realm_ids(principal, staff_realm)
    if allowed is not None:
        q = q.where(AuditEvent.realm_id.in_(allowed))
    return list(db.session.execute(q.limit(500)).scalars())


def purge(principal: Principal, now: datetime | None = None, default_days: int = 400,
          days: int | None = None) -> dict[str, int]:
    """Delete events older than each realm's ``audit_retention_days`` (``days`` overrides
    every realm; 0 keeps forever). Events without a realm follow ``default_days``.
    Returns how many were deleted per realm slug ("" for platform events)."""
    require(principal, None, Action.AUDIT_PURGE)
    now = now or utcnow()
    deleted: dict[str, int] = {}
    for realm in db.session.execute(db.select(Realm)).scalars():
        keep = days if days is not None else settings_of(realm).audit_retention_days
        if keep:
            deleted[realm.slug] = _delete(AuditEvent.realm_id == realm.id,
                                          now - timedelta(days=keep))
    keep = days if days is not None else default_days
    if keep:
        deleted[""] = _delete(AuditEvent.realm_id.is_(None), now - timedelta(days=keep))
    audit.record("audit_purged", total=sum(deleted.values()), days=days)
    return deleted


def _delete(criterion: Any, older_than: datetime) -> int:
    return db.session.execute(
        db.delete(AuditEvent).where(criterion, AuditEvent.created_at < older_than)
        .execution_options(synchronize_session=False)).rowcount
