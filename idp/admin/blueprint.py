"""The console blueprint and its gate: who is signed in, as which staff member.

Every console request first loads the staff realm's SSO session of this browser; no
session (or a customer's session in another realm) goes to the staff sign-in page, a
session without a proven second factor is refused, an account without a staff role gets
403. The :class:`~idp.core.staff.Principal` built here is what every core call checks.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ..core import audit, sessions, staff
from ..core import operations as ops
from ..core.db import db
from ..core.realms import RealmInfo, find_realm
from ..web.context import app_settings, client_ip
from ..web.session import current_sso

bp = Blueprint("admin", __name__, url_prefix="/admin/console", static_folder="static",
               static_url_path="/static")
STEP_UP_KEY = "admin_step_up"


class ActionForm(FlaskForm):
    """A button: nothing but the CSRF token."""


def staff_slug() -> str:
    return app_settings().staff_realm


@bp.before_request
def _gate() -> Response | None:
    if request.endpoint == "admin.static":
        return None
    info = find_realm(staff_slug())
    if info is None or not info.enabled:
        abort(404)
    g.realm = info
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login", realm=info.slug))
    if "otp" not in (sso.amr or []):
        abort(403)  # an otp_required realm never completes without it: defence in depth
    sessions.touch(sso)
    db.session.commit()
    principal = staff.principal_of(sso.customer, info.slug, otp_at=_otp_at(sso.id,
                                                                           sso.auth_time))
    if principal is None:
        abort(403)
    g.principal = principal
    g.staff_account = sso.customer
    audit.context.set(audit.AuditContext(ip=client_ip(), actor=principal.actor))
    return None


def _otp_at(sid: str, auth_time: int) -> int:
    """The last second-factor proof: the sign-in, or a later step-up in this session."""
    step = session.get(STEP_UP_KEY) or {}
    if step.get("sid") == sid:
        return max(auth_time, int(step.get("at", 0)))
    return auth_time


def record_step_up() -> None:
    sso = current_sso()
    if sso is not None:
        session[STEP_UP_KEY] = {"sid": sso.id, "at": int(time.time())}


def principal() -> staff.Principal:
    return g.principal


def target(slug: str, action: staff.Action) -> RealmInfo:
    """The managed realm of the URL, once the principal may do ``action`` on it."""
    return ops.realm_for(principal(), slug, action, staff_slug())


@bp.errorhandler(staff.PermissionDenied)
def _denied(exc: staff.PermissionDenied) -> Any:
    db.session.rollback()
    if isinstance(exc, staff.StepUpRequired):
        return redirect(url_for("admin.step_up", next=request.form.get("back")
                                or request.path))
    status = 404 if exc.reason == "unknown_realm" else 403
    return render_template("error.html", status=status, message=None), status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    """Console pages answer errors as pages (the admin API beside answers problems)."""
    return render_template("error.html", status=exc.code, message=None), exc.code or 500


@bp.app_context_processor
def _console_globals() -> dict[str, Any]:
    return {"staff_principal": g.get("principal")}
