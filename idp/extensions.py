"""Flask extensions, created unbound so every module can import them without cycles."""

from __future__ import annotations

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from .core.db import db

__all__ = ["babel", "csrf", "db", "limiter", "mail", "migrate"]


def client_ip() -> str:
    """The client address as seen by the WSGI server (ProxyFix sets it behind a proxy)."""
    return request.remote_addr or "unknown"


migrate = Migrate()
csrf = CSRFProtect()
babel = Babel()
mail = Mail()
limiter = Limiter(key_func=client_ip)
