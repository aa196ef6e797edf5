"""WSGI entry point: ``python config/serve.py idp.wsgi:app``."""

from idp import create_app

app = create_app()
