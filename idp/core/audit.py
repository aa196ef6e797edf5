"""Audit trail: one row per security-relevant event, and a log line without secrets."""

from __future__ import annotations

import logging
from typing import Any

from flask import has_request_context, request

from .core.models import AuditEvent
from .extensions import db

log = logging.getLogger("idp.audit")


def record(
    event: str,
    *,
    realm_id: int | None = None,
    customer_id: int | None = None,
    **detail: Any,
) -> None:
    """Add an audit event to the current transaction (the caller commits)."""
    ip = request.remote_addr if has_request_context() else None
    db.session.add(
        AuditEvent(event=event, realm_id=realm_id, customer_id=customer_id, ip=ip, detail=detail)
    )
    log.info("audit event=%s realm=%s customer=%s ip=%s", event, realm_id, customer_id, ip)
