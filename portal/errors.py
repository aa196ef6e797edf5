"""Error pages (French first, never a stack trace) and the Internet Explorer gate."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from shared.browsers import is_internet_explorer

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

    @app.errorhandler(CSRFError)
    def _csrf(error: CSRFError) -> Any:
        return render_template("error.html", status=400, kind="csrf"), 400

    @app.errorhandler(HTTPException)
    def _http(error: HTTPException) -> Any:
        status = error.code or 500
        if _wants_json():
            return jsonify(error=error.name.lower().replace(" ", "_")), status
        kind = {404: "not_found", 405: "not_allowed", 413: "too_large"}.get(status, "bad_request")
        if status >= 500:
            kind = "server"
        return render_template("error.html", status=status, kind=kind), status

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Any:
        log.exception("unhandled error")
        db.session.rollback()
        if _wants_json():
            return jsonify(error="server_error"), 500
        return render_template("error.html", status=500, kind="server"), 500
