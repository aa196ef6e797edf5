"""Activité du compte: the customer's last sign-ins and account changes, read from the
audit trail (the one record of what happened), worded by the web layer.

Each entry names the method (password, passkey, social provider, emailed code), the
device (browser and system, recorded with the sign-in) and the address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .db import db
from .models import AuditEvent, Customer

LIMIT = 20
#: The events a customer sees in Mon compte: sign-ins and changes to the account.
SHOWN = (
    "login", "password_changed", "password_reset", "email_changed", "email_verified",
    "passkey_registered", "passkey_removed", "passkey_renamed",
    "federated_identity_linked", "federated_identity_unlinked", "consent_revoked",
    "customer_deletion_requested", "customer_deletion_cancelled", "not_me_reported",
    "admin_temporary_password_set", "admin_email_set",
)


@dataclass(frozen=True)
class Entry:
    id: int
    at: datetime
    event: str
    #: password / passkey / social:<alias> / email_code / temporary_code / "" (a change)
    method: str
    device: str
    ip: str


def method_of(amr: list[str] | None, idp: str | None) -> str:
    """How a sign-in was proven, from its ``amr`` and ``idp``."""
    amr = list(amr or [])
    if idp:
        return f"social:{idp}"
    if "hwk" in amr or "swk" in amr or "passkey" in amr:
        return "passkey"
    if "otp" in amr and "pwd" not in amr:
        return "email_code"
    return "password"


def entry(row: AuditEvent) -> Entry:
    detail = row.detail or {}
    method = method_of(detail.get("amr"), detail.get("idp")) if row.event == "login" else ""
    return Entry(id=row.id, at=row.created_at, event=row.event, method=method,
                 device=str(detail.get("device") or ""), ip=row.ip or "")


def recent(customer: Customer, limit: int = LIMIT) -> list[Entry]:
    """The last ``limit`` sign-ins and account changes, newest first (one indexed query)."""
    rows = db.session.execute(
        db.select(AuditEvent)
        .where(AuditEvent.customer_id == customer.id, AuditEvent.event.in_(SHOWN))
        .order_by(AuditEvent.id.desc()).limit(limit)).scalars()
    return [entry(r) for r in rows]


def sign_ins(customer: Customer) -> list[Entry]:
    """Every sign-in the audit trail still holds (the data export), newest first: plain
    rows, not ORM objects (a thousand events stay a few milliseconds)."""
    rows = db.session.execute(
        db.select(AuditEvent.id, AuditEvent.created_at, AuditEvent.ip, AuditEvent.detail)
        .where(AuditEvent.customer_id == customer.id, AuditEvent.event == "login")
        .order_by(AuditEvent.id.desc())).all()
    out = []
    for row_id, at, ip, detail in rows:
        detail = detail or {}
        out.append(Entry(id=row_id, at=at, event="login",
                         method=method_of(detail.get("amr"), detail.get("idp")),
                         device=str(detail.get("device") or ""), ip=ip or ""))
    return out
