"""Realm lookup and per-realm settings with their defaults."""

from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, abort, current_app, g

from .core.models import Realm
from .extensions import db

DEFAULT_SETTINGS: dict[str, Any] = {
    "action_token_lifetime": 300,
    "resend_cooldown": 30,
    "access_token_lifetime": 300,
    "id_token_lifetime": 3600,
    "refresh_token_lifetime": 30 * 24 * 3600,
    "code_lifetime": 60,
    "sso_session_idle": 30 * 60,
    "sso_session_max": 10 * 3600,
    "password_policy": {
        "min_length": 8,
        "uppercase": 1,
        "digits": 1,
        "special": 1,
        "not_identifier": True,
        "not_email": True,
    },
    "brute_force": {
        "failure_factor": 5,
        "wait_increment_seconds": 60,
        "max_wait_seconds": 900,
        "failure_reset_seconds": 12 * 3600,
        "temporary_code_max_failures": 10,
    },
    "mail_sender": None,
    "agency_contact": "",
}


def settings_of(realm: Realm | RealmInfo) -> dict[str, Any]:
    """The realm's settings merged over the defaults (nested dicts merged one level)."""
    merged = copy.deepcopy(DEFAULT_SETTINGS)
    for key, value in (realm.settings or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def issuer_of(realm: Realm | RealmInfo | str) -> str:
    slug = realm if isinstance(realm, str) else realm.slug
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/realms/{slug}"


@dataclass(frozen=True)
class RealmInfo:
    """A detached snapshot of a realm row: what requests need, cacheable across requests."""

    id: int
    slug: str
    display_name: str
    settings: dict[str, Any]
    enabled: bool


CACHE_TTL_SECONDS = 10.0
_cache: dict[str, tuple[float, RealmInfo | None, dict[str, Any] | None]] = {}
_lock = threading.Lock()


def load_realm(slug: str) -> RealmInfo:
    """Set ``g.realm`` for a request under ``/realms/<slug>``; 404 when unknown or disabled.

    Cached briefly per process (one query saved on every request, the token endpoint
    included); changes made here are seen at once, other workers within the TTL.
    """
    now = time.monotonic()
    hit = _cache.get(slug)
    if hit is None or hit[0] <= now:
        row = db.session.execute(db.select(Realm).filter_by(slug=slug)).scalar_one_or_none()
        info = settings = None
        if row is not None:
            info = RealmInfo(row.id, row.slug, row.display_name, dict(row.settings or {}),
                             row.enabled)
            settings = settings_of(row)
        hit = (now + CACHE_TTL_SECONDS, info, settings)
        with _lock:
            _cache[slug] = hit
    _expiry, info, settings = hit
    if info is None or not info.enabled:
        abort(404)
    g.realm = info
    g.realm_settings = settings  # shared: read-only by convention
    return info


def forget_realm(slug: str | None = None) -> None:
    with _lock:
        if slug is None:
            _cache.clear()
        else:
            _cache.pop(slug, None)


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
