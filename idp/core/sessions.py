"""The SSO session: which customer this browser signed in as, and since when.

The browser holds only the session id (``sid``) in the signed ``idp_session`` cookie;
the row is the truth, so ending a session anywhere (logout, password reset, admin)
takes effect at once.
"""

from __future__ import annotations

import time
from datetime import timedelta

from flask import g, request, session

from . import audit
from .core.models import Customer, SsoSession, utcnow
from .extensions import db


def current_sso() -> SsoSession | None:
    """The live SSO session of this browser in the current realm, if any."""
    if "sso" in g:
        return g.sso
    sso = None
    sid = session.get("sid")
    if sid:
        row = db.session.get(SsoSession, sid)
        if row is not None and _alive(row):
            sso = row
    g.sso = sso
    return sso


def _alive(row: SsoSession) -> bool:
    if row.ended_at is not None or row.realm_id != g.realm.id:
        return False
    if not row.customer.enabled:
        return False
    settings = g.realm_settings
    now = utcnow()
    if now - row.last_seen > timedelta(seconds=settings["sso_session_idle"]):
        return False
    return now - row.created_at <= timedelta(seconds=settings["sso_session_max"])


def start_sso(customer: Customer, amr: list[str], idp: str | None = None) -> SsoSession:
    """Sign the browser in: a new ``sid`` and a fresh cookie (no session fixation)."""
    keep = {k: session[k] for k in ("locale",) if k in session}
    old = session.get("sid")
    session.clear()
    session.update(keep)
    if old:
        previous = db.session.get(SsoSession, old)
        if previous is not None and previous.ended_at is None:
            previous.ended_at = utcnow()
    row = SsoSession(
        realm_id=customer.realm_id,
        customer_id=customer.id,
        auth_time=int(time.time()),
        amr=amr,
        acr="1",
        idp=idp,
        user_agent=(request.user_agent.string or "")[:255],
        ip=request.remote_addr,
    )
    db.session.add(row)
    db.session.flush()
    session["sid"] = row.id
    session.permanent = False
    g.sso = row
    audit.record(
        "login", realm_id=customer.realm_id, customer_id=customer.id, amr=amr, idp=idp
    )
    return row


def touch(row: SsoSession) -> None:
    """Keep an active session alive (idle timeout) without a write on every request."""
    now = utcnow()
    if now - row.last_seen > timedelta(seconds=60):
        row.last_seen = now
