"""Flask extensions, created unbound so every module can import them without cycles."""

from __future__ import annotations

import os

from flask import Flask, request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_mail import Mail
from flask_wtf import CSRFProtect

from .core.db import db

__all__ = ["babel", "csrf", "db", "init_migrations", "limiter", "mail"]


def client_ip() -> str:
    """The client address as seen by the WSGI server (ProxyFix sets it behind a proxy)."""
    return request.remote_addr or "unknown"


def init_migrations(app: Flask, directory: str) -> None:
    """Flask-Migrate (the ``db`` commands), except in a web worker of the server.

    Why: Flask-Migrate brings Alembic, about 11 MiB of every worker's memory (issue 21: a
    worker under 128 MiB), and a web worker never migrates; ``config/serve.py`` marks its
    workers with ``ESPACE_WEB_WORKER``. The CLI (``idp db upgrade``) and tests build the
    app without it and get the commands as before.
    """
    if os.environ.get(WEB_WORKER_ENV):
        return
    from flask_migrate import Migrate

    Migrate().init_app(app, db, directory=directory)


#: Set by config/serve.py for the apps it serves.
WEB_WORKER_ENV = "ESPACE_WEB_WORKER"
csrf = CSRFProtect()
babel = Babel()
mail = Mail()
limiter = Limiter(key_func=client_ip)
