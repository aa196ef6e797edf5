"""Per-request context: the realm of the URL, the app settings, the audit context."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, g, request

from ..core import audit
from ..core.realms import RealmInfo, find_realm
from ..core.settings import AppSettings, RealmSettings


def app_settings() -> AppSettings:
    """The app's typed settings (built once by ``create_app``)."""
    return current_app.extensions["idp.settings"]


def realm() -> RealmInfo:
    return g.realm


def realm_settings() -> RealmSettings:
    return g.realm.settings


def issuer() -> str:
    return app_settings().issuer(g.realm.slug)


def client_ip() -> str:
    """The client address as seen by the WSGI server (ProxyFix sets it behind a proxy)."""
    return request.remote_addr or "unknown"


def load_realm(slug: str) -> RealmInfo:
    """Set ``g.realm`` for a request under ``/realms/<slug>``; 404 when unknown or disabled."""
    info = find_realm(slug)
    if info is None or not info.enabled:
        abort(404)
    g.realm = info
    return info


def realm_blueprint(name: str, import_name: str, path: str = "") -> Blueprint:
    """A blueprint under ``/realms/<realm>{path}`` whose views see ``g.realm`` and whose
    ``url_for`` calls fill ``realm`` from the current request."""
    bp = Blueprint(name, import_name, url_prefix=f"/realms/<realm>{path}")

    @bp.url_value_preprocessor
    def _realm(endpoint: str | None, values: dict[str, Any] | None) -> None:
        load_realm((values or {}).pop("realm"))

    @bp.url_defaults
    def _realm_default(endpoint: str, values: dict[str, Any]) -> None:
        if "realm" not in values and "realm" in g:
            values["realm"] = g.realm.slug

    return bp


def bind_audit_context() -> None:
    """before_request: who is asking, for the audit rows the core writes."""
    audit.context.set(audit.AuditContext(ip=request.remote_addr))
