"""Realm import for tests, keyed with the running app's client-secret key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import Flask, current_app

from idp import create_app
from idp.core import cache
from idp.core.db import db
from idp.core.realm_io import RealmImportError
from idp.core.realm_io import import_realm as _import_realm
from tests.support.tables import create_tables, empty_tables

__all__ = ["RealmImportError", "fresh_idp", "import_realm"]


def import_realm(data: dict[str, Any]) -> Any:
    return _import_realm(current_app.extensions["idp.settings"].client_secret_key, data)


@contextmanager
def fresh_idp(config: dict[str, Any]) -> Iterator[Flask]:
    """An idp app on empty tables (inside its app context while the ``with`` body sets
    it up); the tables are dropped (SQLite) or emptied (PostgreSQL) and the cache emptied
    afterwards."""
    application = create_app(config)
    with application.app_context():
        create_tables(db)
    try:
        yield application
    finally:
        with application.app_context():
            db.session.remove()
            empty_tables(db)
            db.engine.dispose()
        cache.clear_all()
