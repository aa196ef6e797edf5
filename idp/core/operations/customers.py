"""Customer operations for staff: search, the customer file and one function per action.

Each calls the customer rules (:mod:`idp.core.customers`, :mod:`idp.core.linking`) after
the permission check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_

from .. import customers, linking, sessions
from ..db import db
from ..models import AuditEvent, Customer, FederatedIdentity, SsoSession
from ..realms import RealmInfo
from ..settings import AppSettings
from ..staff import Action, Principal, require
from .base import AdminError, acting

PER_PAGE = 25
#: Counting matches stops here: "more than 1000" is all a search page needs to say.
COUNT_CAP = 1000

@dataclass(frozen=True)
class SearchPage:
    items: list[Customer]
    page: int
    has_next: bool
    total: int
    capped: bool


def _like(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def search_customers(principal: Principal, realm: RealmInfo, query: str, page: int = 1,
                     per_page: int = PER_PAGE) -> SearchPage:
    """Customers whose identifier, email or family/given name starts with ``query``
    (case-insensitive for names and email), by identifier, one page at a time."""
    require(principal, realm.slug, Action.CUSTOMERS_READ)
    q = (query or "").strip()[:320]
    page = max(1, page)
    stmt = db.select(Customer).where(Customer.realm_id == realm.id)
    if q:
        pattern = _like(q)
        lowered = _like(q.lower())
        if "@" in q:
            stmt = stmt.where(Customer.email_normalized.like(lowered, escape="\\"))
        else:
            stmt = stmt.where(or_(
                Customer.identifier.like(pattern, escape="\\"),
                func.lower(Customer.family_name).like(lowered, escape="\\"),
                func.lower(Customer.given_name).like(lowered, escape="\\"),
                Customer.email_normalized.like(lowered, escape="\\"),
            ))
    capped_q = stmt.with_only_columns(Customer.id).limit(COUNT_CAP + 1).subquery()
    total = int(db.session.execute(db.select(func.count()).select_from(capped_q)).scalar()
                or 0)
    rows = list(db.session.execute(
        stmt.order_by(Customer.identifier).offset((page - 1) * per_page).limit(per_page + 1)
    ).scalars())
    return SearchPage(items=rows[:per_page], page=page, has_next=len(rows) > per_page,
                      total=min(total, COUNT_CAP), capped=total > COUNT_CAP)


def customer(principal: Principal, realm: RealmInfo, identifier: str,
             write: bool = False) -> Customer:
    require(principal, realm.slug, Action.CUSTOMERS_WRITE if write else Action.CUSTOMERS_READ)
    try:
        return customers.get(realm, identifier)
    except customers.CustomerError as exc:
        raise AdminError("not_found", str(exc)) from None


@dataclass(frozen=True)
class CustomerFile:
    """Everything the customer page shows."""

    customer: Customer
    status: str
    identities: list[FederatedIdentity]
    sessions: list[SsoSession]
    sign_ins: list[AuditEvent]
    trail: list[AuditEvent]


def customer_file(principal: Principal, realm: RealmInfo, identifier: str) -> CustomerFile:
    c = customer(principal, realm, identifier)
    events = db.select(AuditEvent).where(AuditEvent.realm_id == realm.id,
                                         AuditEvent.customer_id == c.id)
    sign_ins = list(db.session.execute(
        events.where(AuditEvent.event == "login").order_by(AuditEvent.id.desc()).limit(10))
        .scalars())
    trail = list(db.session.execute(events.order_by(AuditEvent.id.desc()).limit(50))
                 .scalars())
    return CustomerFile(c, customers.status(c), linking.identities_of(c),
                        sessions.live_sessions(c, realm.settings), sign_ins, trail)


def _wrap(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except customers.CustomerError as exc:
        raise AdminError(exc.code, str(exc)) from None


def resend_verification(principal: Principal, cfg: AppSettings, realm: RealmInfo,
                        identifier: str, locale: str | None = None) -> int:
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        return _wrap(customers.resend_verification, cfg, realm, c, locale)


def issue_temporary_code(principal: Principal, cfg: AppSettings, realm: RealmInfo,
                         identifier: str) -> str:
    """A new 6-digit temporary code, returned once (to read out on the phone)."""
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        return _wrap(customers.issue_temporary_code, cfg, realm, c)


def unlock(principal: Principal, realm: RealmInfo, identifier: str) -> None:
    with acting(principal):
        customers.unlock(realm, customer(principal, realm, identifier, write=True))


def set_enabled(principal: Principal, cfg: AppSettings, realm: RealmInfo, identifier: str,
                enabled: bool) -> None:
    with acting(principal):
        customers.set_enabled(cfg, realm, customer(principal, realm, identifier, write=True),
                              enabled)


def end_sessions(principal: Principal, cfg: AppSettings, realm: RealmInfo,
                 identifier: str) -> int:
    with acting(principal):
        return customers.end_sessions(cfg, realm,
                                      customer(principal, realm, identifier, write=True))


def unlink(principal: Principal, realm: RealmInfo, identifier: str, provider: str) -> None:
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        try:
            if not linking.unlink(c, provider):
                raise AdminError("not_linked", f"no {provider} account linked")
        except linking.LastWayIn:
            raise AdminError("last_way_in", "the customer would have no way to sign in"
                             ) from None


def set_email(principal: Principal, cfg: AppSettings, realm: RealmInfo, identifier: str,
              email: str) -> int:
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        return _wrap(customers.set_email, cfg, realm, c, email)


