"""Audit trail: one row per security-relevant event, and a log line without secrets.

Who and from where (the client address, the staff member acting) is request context the
core does not read itself: the web layer sets :data:`context` once per request.

Every event name is declared in :data:`EVENTS` with its class (:class:`EventClass`): the
console's audit log, its CSV and the admin API show that class, never a guess from the
name (``admin_customer_unlocked`` holds "locked" and is a change, not a failure). A new
event is declared here first: with :func:`set_strict` on (the test suite turns it on),
:func:`record` refuses an undeclared name.
"""

from __future__ import annotations

import logging
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from .db import db
from .models import AuditEvent

log = logging.getLogger("idp.audit")


class EventClass(StrEnum):
    """What an audit event says happened."""

    SUCCESS = "success"     # someone proved who they are, or a mail/link did its job
    FAILURE = "failure"     # an attempt refused: wrong secret, bad link, provider error
    CHANGE = "change"       # data or settings changed (by the customer, staff or a client)
    SECURITY = "security"   # a protection fired: lock, replay, reuse, spraying


S, F, C, X = EventClass.SUCCESS, EventClass.FAILURE, EventClass.CHANGE, EventClass.SECURITY

#: Every event name the idp records, with its class.
EVENTS: dict[str, EventClass] = {
    # sign-in and sign-out
    "login": S, "login_failed": F, "logout": S, "legacy_password_rehashed": C,
    "customer_activated": C,
    "passkey_used": S, "passkey_offered": S, "passkey_offer_declined": S,
    "federation_failure": F, "federated_identity_unknown": F,
    "federated_link_reauth_failed": F,
    # second factor (staff)
    "totp_verified": S, "totp_failed": F, "totp_enrolled": C, "totp_enrolment_failed": F,
    "totp_reset": C, "recovery_code_used": S, "step_up": S, "step_up_failed": F,
    # protections
    "account_locked": X, "totp_locked": X, "totp_replay_refused": X, "code_reused": X,
    "refresh_token_reused": X, "password_spray_suspected": X,
    # mails and links
    "verify_email_sent": S, "reset_sent": S, "reset_refused": F, "action_link_renewed": S,
    "mail_failed": F, "email_verified": S,
    # the customer's own changes
    "password_changed": C, "password_reset": C, "password_change_failed": F,
    "email_set": C, "email_change_requested": C, "email_changed": C,
    "email_change_failed": F,
    "passkey_registered": C, "passkey_removed": C, "passkey_renamed": C,
    "passkey_refused": F, "passkey_remove_refused": F,
    "federated_identity_linked": C, "federated_identity_unlinked": C,
    "federated_link_refused": F, "federated_unlink_refused": F,
    "consent_granted": C, "consent_revoked": C,
    # dynamic client registration
    "client_registered": C, "client_registration_updated": C, "client_deregistered": C,
    # staff and platform administration
    "admin_customer_created": C, "admin_customer_enabled": C, "admin_customer_disabled": C,
    "admin_customer_unlocked": C, "admin_customers_imported": C, "admin_email_set": C,
    "admin_sessions_ended": C, "admin_temporary_password_set": C,
    "admin_verification_resent": C,
    "admin_client_created": C, "admin_client_updated": C, "admin_client_deleted": C,
    "admin_client_enabled": C, "admin_client_disabled": C,
    "admin_client_secret_rotated": C,
    "admin_identity_provider_saved": C, "admin_realm_settings_changed": C,
    "admin_realm_imported": C, "admin_keys_rotated": C, "admin_secrets_reencrypted": C,
    "admin_initial_token_issued": C, "admin_initial_token_revoked": C,
    "staff_created": C, "staff_enrolment_link_issued": C, "audit_purged": C,
    # ways in and fresh proof (Mon compte)
    "proof_renewed": S, "proof_failed": F, "way_in_removed": C, "way_in_remove_refused": F,
    # the customer's privacy (docs/privacy.md)
    "data_exported": S, "new_device_signed_in": S, "not_me_reported": X,
    "email_code_sent": S, "email_code_failed": F, "email_code_refused": F,
    "customer_deletion_requested": C, "customer_deletion_cancelled": C,
    "customer_deletion_refused": C, "customer_deleted": C,
}


class UnknownEvent(ValueError):
    """An event name missing from :data:`EVENTS` (strict mode only)."""


_strict = False


def set_strict(on: bool) -> None:
    """Refuse undeclared event names in :func:`record` (tests). Off in production: a
    missing declaration must not fail a customer's sign-in; it shows as ``unknown``."""
    global _strict
    _strict = on


def event_class(event: str) -> str:
    """The declared class of ``event``; ``unknown`` for a name no longer (or never)
    declared, e.g. an old row written by an earlier version."""
    found = EVENTS.get(event)
    return found.value if found is not None else "unknown"


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
    if _strict and event not in EVENTS:
        raise UnknownEvent(f"audit event {event!r} is not declared in idp.core.audit.EVENTS")
    ctx = context.get()
    if ctx.actor and "actor" not in detail:
        detail["actor"] = ctx.actor
    db.session.add(AuditEvent(event=event, realm_id=realm_id, customer_id=customer_id,
                              ip=ctx.ip, detail=detail))
    log.info("audit event=%s realm=%s customer=%s ip=%s", event, realm_id, customer_id, ctx.ip)
