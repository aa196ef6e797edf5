"""The token endpoint (RFC 6749 §3.2): Authlib's server runs the grants (grants.py)."""

from __future__ import annotations

from flask import Response, request

from ..core.db import db
from .blueprint import PROTOCOL, bp, no_store, oauth_server
from .errors import MISSING_GRANT, with_description


@bp.route(f"{PROTOCOL}/token", methods=["POST"])
def token() -> Response:
    resp = oauth_server().create_token_response()
    # One transaction per grant: token rows and session links together. A stateless
    # client-credentials grant opened none (not even a Session): nothing to commit.
    registry = db.session.registry
    session = registry() if registry.has() else None
    if session is not None and session.in_transaction():
        if resp.status_code == 200:
            session.commit()
        else:
            session.rollback()
    missing = MISSING_GRANT if not request.form.get("grant_type") else None
    return no_store(with_description(resp, missing))
