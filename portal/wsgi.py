"""WSGI entry point: ``python config/serve.py portal.wsgi:app``."""

from __future__ import annotations

from . import create_app

app = create_app()
