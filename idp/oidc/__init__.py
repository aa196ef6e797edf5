"""The OpenID Provider's protocol endpoints, one module each: discovery (and JWKS),
authorize, token, userinfo, end_session, revocation, introspection; client
authentication by assertion in client_auth; the Authlib server in server."""

from __future__ import annotations

from flask import Flask

from ..extensions import limiter
from . import (
    authorize,
    discovery,
    end_session,
    introspection,
    registration,
    revocation,
    token,
    userinfo,
)
from .blueprint import bp
from .server import init_server

__all__ = ["authorize", "discovery", "end_session", "init_app", "introspection",
           "registration", "revocation", "token", "userinfo"]


def init_app(app: Flask) -> None:
    init_server(app)
    # Protocol endpoints are bounded by client authentication and single-use codes and
    # tokens, not per-address budgets: Flask-Limiter's per-request check stays off them.
    limiter.exempt(bp)
    app.register_blueprint(bp)
