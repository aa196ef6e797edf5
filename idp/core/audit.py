"""Audit trail: one row per security-relevant event, and a log line without secrets.

Who and from where (the client address, the staff member acting) is request context the
core does not read itself: the web layer sets :data:`context` once per request.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from .db import db
from .models import AuditEvent

log = logging.getLogger("idp.audit")


@dataclass(frozen=True)
class AuditContext:
    ip: str | None = None
    actor: str | None = None


_NOBODY = AuditContext()  # frozen: safe to share as the default
context: ContextVar[AuditContext] = ContextVar("audit_context", default=_NOBODY)


def record(
    event: str,
    *,
    realm_id: int | None = None,
    customer_id: int | None = None,
    **detail: Any,
) -> None:
    """Add an audit event to the current transaction (the caller commits)."""
    ctx = context.get()
    if ctx.actor and "actor" not in detail:
        detail["actor"] = ctx.actor
    db.session.add(AuditEvent(event=event, realm_id=realm_id, customer_id=customer_id,
                              ip=ctx.ip, detail=detail))
    log.info("audit event=%s realm=%s customer=%s ip=%s", event, realm_id, customer_id, ctx.ip)


# --- declared events of the privacy features (issue 22) ------------------------------------
# To be folded into the declared event classes when they land here; until then this list
# is the declaration: each name with its outcome (the console's success/failure column).
PRIVACY_EVENTS: dict[str, str] = {
    "data_exported": "success",
    "customer_deletion_requested": "success",
    "customer_deletion_cancelled": "success",
    "customer_deletion_refused": "success",
    "customer_deleted": "success",
    "new_device_signed_in": "success",
    "not_me_reported": "success",
    "email_code_sent": "success",
    "email_code_refused": "failure",
    "email_code_failed": "failure",
}
