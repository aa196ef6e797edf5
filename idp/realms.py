"""Realm lookup and per-realm settings with their defaults."""

from __future__ import annotations

import copy
from typing import Any

from flask import abort, current_app, g

from .extensions import db
from .models import Realm

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


def settings_of(realm: Realm) -> dict[str, Any]:
    """The realm's settings merged over the defaults (nested dicts merged one level)."""
    merged = copy.deepcopy(DEFAULT_SETTINGS)
    for key, value in (realm.settings or {}).items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key].update(value)
        else:
            merged[key] = value
    return merged


def issuer_of(realm: Realm | str) -> str:
    slug = realm if isinstance(realm, str) else realm.slug
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/realms/{slug}"


def load_realm(slug: str) -> Realm:
    """Set ``g.realm`` for a request under ``/realms/<slug>``; 404 when unknown or disabled."""
    realm = db.session.execute(db.select(Realm).filter_by(slug=slug)).scalar_one_or_none()
    if realm is None or not realm.enabled:
        abort(404)
    g.realm = realm
    g.realm_settings = settings_of(realm)
    return realm


def current_realm() -> Realm:
    return g.realm
