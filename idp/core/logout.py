"""Ending sessions: RP-initiated logout and back-channel logout (OIDC Back-Channel 1.0).

Every client that received tokens in a session gets a signed ``logout+jwt`` POSTed to its
``backchannel_logout_uri``; the session's tokens are revoked. The POSTs go through
:mod:`idp.core.outbound` (public addresses only, no redirect, short timeout) on a small
background pool once the session's end is committed: the customer's request never waits
for a client's answer. :func:`wait_for_deliveries` lets a test (or a command about to
exit) observe them deterministically.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_all
from typing import Any

from sqlalchemy import update

from . import audit, interaction, outbound, tokens
from .clients import snapshot
from .db import db
from .models import Client, SessionClient, SsoSession, Token, utcnow

log = logging.getLogger(__name__)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="backchannel")
_pending: set[Future[bool]] = set()
_pending_lock = threading.Lock()


def revoke_where(*criteria: Any) -> int:
    """Revoke every live token row matching ``criteria`` in one statement; how many."""
    return db.session.execute(
        update(Token).where(*criteria, Token.revoked_at.is_(None)).values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount


def logout_token(realm_id: int, issuer: str, client_id: str, sid: str, sub: str) -> str:
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": client_id,
        "iat": now,
        "exp": now + 120,
        "jti": tokens.opaque()[:22],
        "sid": sid,
        "sub": sub,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    return tokens.sign(realm_id, claims, "RS256", typ="logout+jwt")


def _post(uri: str, token: str) -> bool:
    try:
        answer = outbound.post_form(uri, {"logout_token": token})
    except outbound.OutboundRefused as exc:
        log.warning("back-channel logout not delivered: %s", exc)
        return False
    if not answer.ok:
        log.warning("back-channel logout to %s answered %s", uri, answer.status)
    return answer.ok


def _submit(uri: str, token: str) -> None:
    future = _pool.submit(_post, uri, token)
    with _pending_lock:
        _pending.add(future)
    future.add_done_callback(_forget)


def _forget(future: Future[bool]) -> None:
    with _pending_lock:
        _pending.discard(future)


def wait_for_deliveries(timeout: float = 30.0) -> None:
    """Block until every back-channel POST submitted so far has been answered or failed."""
    with _pending_lock:
        pending = set(_pending)
    wait_all(pending, timeout=timeout)


def end_session(sso: SsoSession, reason: str, issuer: str, wait: bool = False) -> None:
    """End ``sso``: revoke its tokens and notify its clients over the back channel (in the
    background; ``wait``: block until delivered, for commands only)."""
    if sso.ended_at is None:
        sso.ended_at = utcnow()
    revoke_where(Token.sid == sso.id)
    client_rows = db.session.execute(
        db.select(Client).join(SessionClient, SessionClient.client_pk == Client.id)
        .where(SessionClient.sid == sso.id)
    ).scalars().all()
    jobs = []
    for row in client_rows:
        uri = snapshot(row).get("backchannel_logout_uri")
        if uri:
            jobs.append((uri, logout_token(sso.realm_id, issuer, row.client_id, sso.id,
                                           sso.customer.sub)))
    audit.record("logout", realm_id=sso.realm_id, customer_id=sso.customer_id, reason=reason,
                 clients=len(jobs))
    db.session.commit()
    for uri, token in jobs:
        _submit(uri, token)
    if wait:
        wait_for_deliveries()


def end_all_sessions(customer_id: int, reason: str, issuer: str) -> int:
    """End every live session and sign-in in progress of a customer and revoke all their
    tokens (password reset, staff action, disable); returns how many sessions."""
    rows = db.session.execute(
        db.select(SsoSession).filter_by(customer_id=customer_id, ended_at=None)
    ).scalars().all()
    for row in rows:
        end_session(row, reason, issuer)
    revoke_where(Token.customer_id == customer_id)
    interaction.end_for_customer(customer_id)
    db.session.commit()
    return len(rows)


def notify_clients(realm_id: int, issuer: str, client_rows: list[Client], sub: str) -> int:
    """A logout token naming only ``sub`` (no session: every session of that subject, e.g.
    an erased account) to each of ``client_rows`` with a back-channel URI; how many."""
    jobs = []
    for row in client_rows:
        uri = snapshot(row).get("backchannel_logout_uri")
        if uri:
            now = int(time.time())
            claims = {"iss": issuer, "aud": row.client_id, "iat": now, "exp": now + 120,
                      "jti": tokens.opaque()[:22], "sub": sub,
                      "events": {BACKCHANNEL_EVENT: {}}}
            jobs.append((uri, tokens.sign(realm_id, claims, "RS256", typ="logout+jwt")))
    for future in [_pool.submit(_post, uri, token) for uri, token in jobs]:
        future.result()
    return len(jobs)
