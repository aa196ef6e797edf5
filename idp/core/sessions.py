"""The SSO session: which customer a browser signed in as, and since when.

The browser holds only the session id (``sid``, in the web layer's signed cookie); the
row is the truth, so ending a session anywhere (logout, password reset, staff) takes
effect at once on every instance.
"""

from __future__ import annotations

import time
from datetime import timedelta

from . import audit, devices, ways_in
from .db import db
from .models import Customer, SsoSession, random_id, utcnow
from .settings import RealmSettings


def alive(row: SsoSession, realm_id: int, settings: RealmSettings) -> bool:
    """Not ended, in this realm, customer enabled, within idle and absolute lifetimes."""
    if row.ended_at is not None or row.realm_id != realm_id:
        return False
    if ways_in.may_sign_in(row.customer, realm_id) is not None:
        return False
    now = utcnow()
    if now - row.last_seen > timedelta(seconds=settings.sso_session_idle):
        return False
    return now - row.created_at <= timedelta(seconds=settings.sso_session_max)


def find_alive(sid: str | None, realm_id: int, settings: RealmSettings) -> SsoSession | None:
    if not sid:
        return None
    row = db.session.get(SsoSession, sid)
    return row if row is not None and alive(row, realm_id, settings) else None


def live_sessions(customer: Customer, settings: RealmSettings) -> list[SsoSession]:
    rows = db.session.execute(
        db.select(SsoSession).filter_by(customer_id=customer.id, ended_at=None)
        .order_by(SsoSession.created_at.desc())
    ).scalars()
    return [r for r in rows if alive(r, customer.realm_id, settings)]


def start(customer: Customer, amr: list[str], idp: str | None, *, user_agent: str,
          ip: str | None, replaces: str | None = None, acr: str = "1") -> SsoSession:
    """A new session row (the caller sets the new cookie: no session fixation)."""
    if replaces:
        previous = db.session.get(SsoSession, replaces)
        if previous is not None and previous.ended_at is None:
            previous.ended_at = utcnow()
    now = int(time.time())
    row = SsoSession(
        id=random_id(),  # known now: the row is written with the sign-in's other rows
        realm_id=customer.realm_id,
        customer_id=customer.id,
        auth_time=now,
        proved_at=now,
        amr=amr,
        acr=acr,
        idp=idp,
        user_agent=(user_agent or "")[:255],
        ip=ip,
    )
    db.session.add(row)
    audit.record("login", realm_id=customer.realm_id, customer_id=customer.id, amr=amr, idp=idp,
                 acr=acr, device=devices.describe(user_agent))
    return row


def touch(row: SsoSession) -> None:
    """Keep an active session alive (idle timeout) without a write on every request."""
    now = utcnow()
    if now - row.last_seen > timedelta(seconds=60):
        row.last_seen = now


#: How recent a proof must be before Mon compte adds a way in (or hands out the data).
FRESH_PROOF_WINDOW = 300


def proved(row: SsoSession, now: float | None = None) -> None:
    """A credential was proved again in this session (Mon compte's confirm page); the
    caller audits and commits."""
    row.proved_at = int(now if now is not None else time.time())


def has_fresh_proof(row: SsoSession | None, now: float | None = None,
                    window: int = FRESH_PROOF_WINDOW) -> bool:
    """Was a credential proved in this session within ``window`` seconds? A stolen cookie
    or a shared computer left signed in then cannot add a way in without the secret.
    Rows older than the column fall back to their sign-in time."""
    if row is None:
        return False
    at = row.proved_at if row.proved_at is not None else row.auth_time
    moment = now if now is not None else time.time()
    return at is not None and 0 <= moment - at <= window
