"""Server-side sessions: the cookie holds a random id, the data lives in the database.

Why not Flask's signed-cookie session: back-channel logout must end a browser's portal
session *at once*, from a request the browser is not part of. With the session in a table
keyed by the idp's ``sid``/``sub``, the logout endpoint deletes the row and the browser's next
request finds nothing. It also keeps tokens out of the browser.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import secrets
from typing import Any

from flask import Flask, Request, Response
from flask.sessions import NullSession, SessionInterface, SessionMixin
from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.datastructures import CallbackDict

from shared.health import is_db_outage

from .extensions import db
from .models import ServerSession, utcnow

AUTH_COLUMNS = ("issuer", "sub", "sid", "customer_id")
#: The bearer-token API (``portal.api``): no browser session there, see ``open_session``.
API_PATH_PREFIX = "/api/"


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class PortalSession(CallbackDict, SessionMixin):
    """The session dict of one request, remembering whether it must be written back."""

    def __init__(self, initial: dict | None = None, session_id: str | None = None) -> None:
        def on_update(_self: Any) -> None:
            self.modified = True

        super().__init__(initial or {}, on_update)
        self.session_id = session_id
        self.stored = session_id is not None  # a row existed when the request started
        self.modified = False
        self.regenerate_requested = False
        self.destroy_requested = False
        # The session table could not be read (database outage): the request gets a 503,
        # and nothing is written back, so the browser keeps its session for later.
        self.unavailable = False

    def regenerate(self) -> None:
        """Give the session a fresh id (at sign-in: defeats session fixation)."""
        self.regenerate_requested = True
        self.modified = True

    def destroy(self) -> None:
        """Forget everything and drop the row (sign-out)."""
        self.clear()
        self.destroy_requested = True
        self.modified = True


class ServerSessionInterface(SessionInterface):
    """Flask ``SessionInterface`` backed by the ``server_session`` table."""

    def open_session(self, app: Flask, request: Request) -> PortalSession | NullSession:  # type: ignore[override]
        """The browser's session; a null session (read-only, never saved) on the API.

        Why none on the API: its callers prove who they are with a bearer token on every
        call. A session cookie sent along (a browser) would only cost a read of the session
        table and a write-back that slides the session's expiry without the customer
        having seen a page.
        """
        if request.path.startswith(API_PATH_PREFIX):
            return self.make_null_session(app)
        session_id = request.cookies.get(self.get_cookie_name(app))
        if session_id and len(session_id) < 100:
            try:
                row = db.session.get(ServerSession, _hash(session_id))
            except SQLAlchemyError as error:
                if not is_db_outage(error):
                    raise
                with contextlib.suppress(SQLAlchemyError):
                    db.session.rollback()
                unavailable = PortalSession()
                unavailable.unavailable = True
                return unavailable
            if row is not None and row.expires_at > utcnow():
                return PortalSession(dict(row.data or {}), session_id)
        return PortalSession()

    def save_session(self, app: Flask, session: PortalSession, response: Response) -> None:  # type: ignore[override]
        if session.unavailable:
            return
        name = self.get_cookie_name(app)
        domain = self.get_cookie_domain(app)
        path = self.get_cookie_path(app)
        if session.destroy_requested or (not session and session.stored and session.modified):
            if session.session_id:
                db.session.execute(
                    delete(ServerSession).where(ServerSession.id_hash == _hash(session.session_id))
                )
                db.session.commit()
            response.delete_cookie(name, domain=domain, path=path)
            return
        if not session or (not session.stored and not _worth_keeping(session)):
            # Anonymous traffic (crawlers, probes, a forged callback) creates no row: one
            # is written only when there is something to keep.
            return
        if not session.modified and not self.should_set_cookie(app, session):
            return
        expires = utcnow() + app.permanent_session_lifetime
        data = dict(session)
        columns = {c: data.get(c) for c in AUTH_COLUMNS}
        if session.regenerate_requested and session.session_id:
            db.session.execute(
                delete(ServerSession).where(ServerSession.id_hash == _hash(session.session_id))
            )
            session.session_id, session.stored = None, False
        if session.stored and session.session_id:
            # UPDATE only: if back-channel logout deleted the row meanwhile, it stays deleted.
            result = db.session.execute(
                update(ServerSession)
                .where(ServerSession.id_hash == _hash(session.session_id))
                .values(data=data, expires_at=expires, **columns)
            )
            db.session.commit()
            if result.rowcount == 0:
                response.delete_cookie(name, domain=domain, path=path)
                return
        else:
            session.session_id = secrets.token_urlsafe(32)
            db.session.add(
                ServerSession(
                    id_hash=_hash(session.session_id), data=data, expires_at=expires, **columns
                )
            )
            db.session.commit()
        response.set_cookie(
            name,
            session.session_id,
            expires=expires.replace(tzinfo=dt.UTC),
            httponly=True,
            domain=domain,
            path=path,
            secure=self.get_cookie_secure(app),
            samesite=self.get_cookie_samesite(app),
        )


#: Keys that alone are not worth a row: every page builds the (signed-in only) sign-out
#: form, whose CSRF token lands in the session even for anonymous visitors, who have no
#: form to post.
_NOT_WORTH_A_ROW = frozenset({"csrf_token"})


def _worth_keeping(session: PortalSession) -> bool:
    """Whether a new session holds anything to keep (an emptied ``pending_auth`` or a
    lone CSRF token does not)."""
    return any(value not in (None, "", {}, []) for key, value in session.items()
               if key not in _NOT_WORTH_A_ROW)


def end_sessions(issuer: str, *, sid: str | None = None, sub: str | None = None) -> int:
    """Delete the sessions a back-channel logout names; return how many ended.

    With ``sid``, only that idp session's portal sessions end (restricted to ``sub`` when
    given too, plus that ``sub``'s sessions that never got a sid); with ``sub`` alone, all
    of that user's sessions end (Back-Channel Logout §2.4).
    """
    conditions = [ServerSession.issuer == issuer]
    if sid:
        by_sid = ServerSession.sid == sid
        if sub:
            by_sid = and_(by_sid, or_(ServerSession.sub == sub, ServerSession.sub.is_(None)))
            # An OP that puts no sid in id_tokens (pyoidc) still names one here: sessions
            # for which it never gave a sid can only be recognised by their sub.
            by_sid = or_(by_sid, and_(ServerSession.sid.is_(None), ServerSession.sub == sub))
        conditions.append(by_sid)
    elif sub:
        conditions.append(ServerSession.sub == sub)
    else:
        return 0
    result = db.session.execute(delete(ServerSession).where(*conditions))
    db.session.commit()
    return int(result.rowcount or 0)


def purge_expired(batch_size: int = 5000) -> int:
    """Delete expired sessions (``portal sessions purge`` from a periodic job; also done
    lazily at sign-in); return how many went.

    In batches, each its own transaction: a purge after a long pause never holds one huge
    delete (and its locks) while customers are signing in.
    """
    total = 0
    while True:
        batch = (
            select(ServerSession.id_hash)
            .where(ServerSession.expires_at <= utcnow())
            .limit(batch_size)
            .scalar_subquery()
        )
        result = db.session.execute(delete(ServerSession).where(ServerSession.id_hash.in_(batch)))
        db.session.commit()
        deleted = int(result.rowcount or 0)
        total += deleted
        if deleted < batch_size:
            return total
