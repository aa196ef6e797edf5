"""Realm import for tests, keyed with the running app's client-secret key."""

from __future__ import annotations

from typing import Any

from flask import current_app

from idp.core.realm_io import RealmImportError
from idp.core.realm_io import import_realm as _import_realm

__all__ = ["RealmImportError", "import_realm"]


def import_realm(data: dict[str, Any]) -> Any:
    return _import_realm(current_app.extensions["idp.settings"].client_secret_key, data)
