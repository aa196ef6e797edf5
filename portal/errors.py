"""Error pages (French first, never a stack trace) and the Internet Explorer gate."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from flask import Flask, jsonify, make_response, render_template, request, session
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from shared import health
from shared.browsers import is_internet_explorer
from shared.logging_json import safe_path

from .extensions import db

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    """Register the IE gate and the 400/404/405/500 handlers."""

    @app.before_request
    def _unsupported_browser() -> Any:
        """Internet Explorer cannot run the sign-in pages correctly: say so plainly."""
        if request.path.startswith(("/api/", "/static/", "/auth/backchannel-logout")):
            return None
        if is_internet_explorer(request.headers.get("User-Agent")):
            return render_template("unsupported.html"), 200
        return None

    @app.before_request
    def _session_store_down() -> Any:
        """The session table could not be read: answer 503 rather than sign the user out."""
        if getattr(session, "unavailable", False) and request.path not in health.PROBE_PATHS:
            return _unavailable(None)
        return None

    def _unavailable(error: BaseException | None) -> Any:
        # Database outage: 503 + Retry-After, one log line, never a stack trace.
        if error is not None:
            log.warning("database unavailable on %s %s: %s", request.method, safe_path(),
                        health.describe(error))
        with contextlib.suppress(Exception):  # the connection may be gone already
            db.session.rollback()
        if _wants_json():
            return health.unavailable_json()
        try:
            page = render_template("error.html", status=503, kind="server")
            return health.with_retry_after(make_response(page))
        except Exception:
            return health.fallback_page(None)

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return render_template("error.html", status=400, kind="csrf"), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        status = error.code or 500
        if health.is_db_outage(error):  # raised while opening the session (no view yet)
            return _unavailable(error)
        if _wants_json():
            return jsonify(error=error.name.lower().replace(" ", "_")), status
        kind = {404: "not_found", 405: "not_allowed", 413: "too_large"}.get(status, "bad_request")
        if status >= 500:
            kind = "server"
        return render_template("error.html", status=status, kind=kind), status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        if health.is_db_outage(error):
            return _unavailable(error)
        log.exception("unhandled error")
        db.session.rollback()
        if _wants_json():
            return jsonify(error="server_error"), 500
        return render_template("error.html", status=500, kind="server"), 500
