"""Realm operations for staff: settings and social providers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import audit
from ..db import db
from ..models import IdentityProvider, Realm
from ..realm_io import RealmImportError, upsert_provider
from ..realms import RealmInfo, forget_realm, realm_row
from ..settings import RealmSettings, SettingsError
from ..staff import Action, Principal, require
from .base import AdminError, acting

#: Realm setting keys the settings page edits (every other key is kept as is).
EDITABLE = ("action_token_lifetime", "resend_cooldown", "access_token_lifetime",
            "id_token_lifetime", "refresh_token_lifetime", "code_lifetime",
            "sso_session_idle", "sso_session_max", "password_policy", "brute_force",
            "mail_sender", "agency_contact", "logo_url", "brand_color",
            "audit_retention_days")
MASK = "••••••••"


@dataclass(frozen=True)
class ProviderLine:
    alias: str
    client_id: str
    enabled: bool
    secret_mask: str
    settings: dict[str, Any]


def realm_settings(principal: Principal, realm: RealmInfo
                   ) -> tuple[str, RealmSettings, list[ProviderLine]]:
    """Display name, typed settings and social providers (secrets masked: write-only)."""
    require(principal, realm.slug, Action.SETTINGS_READ)
    rows = db.session.execute(db.select(IdentityProvider).filter_by(realm_id=realm.id)
                              .order_by(IdentityProvider.alias)).scalars()
    providers = [ProviderLine(p.alias, p.client_id, p.enabled,
                              MASK + (p.client_secret[-2:] if len(p.client_secret) > 12 else ""),
                              dict(p.settings or {})) for p in rows]
    return realm.display_name, realm.settings, providers


def update_settings(principal: Principal, realm: RealmInfo, display_name: str,
                    changes: dict[str, Any]) -> RealmSettings:
    """Apply settings exactly as ``idp realms import`` validates them (unknown key, wrong
    type, bad colour: SettingsError naming the key, nothing written)."""
    require(principal, realm.slug, Action.SETTINGS_WRITE)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise SettingsError(f"settings: {unknown[0]!r} cannot be changed here")
    row = realm_row(realm)
    merged = {**(row.settings or {}), **changes}
    parsed = RealmSettings.parse(merged, where="realm")
    name = (display_name or "").strip()
    if not name or len(name) > 200:
        raise SettingsError("display_name: 1 to 200 characters")
    with acting(principal):
        row.settings = merged
        row.display_name = name
        audit.record("admin_realm_settings_changed", realm_id=realm.id,
                     keys=sorted(changes) + (["display_name"] if name != realm.display_name
                                             else []))
    forget_realm(realm.slug)
    return parsed


def save_provider(principal: Principal, realm: RealmInfo, alias: str, client_id: str,
                  client_secret: str, enabled: bool) -> None:
    """Create or update a social provider. An empty secret keeps the stored one (the
    console never shows it back)."""
    require(principal, realm.slug, Action.SETTINGS_WRITE)
    row = db.session.execute(db.select(IdentityProvider).filter_by(realm_id=realm.id,
                                                                   alias=alias)
                             ).scalar_one_or_none()
    secret = client_secret or (row.client_secret if row is not None else "")
    data = {"alias": alias, "client_id": client_id.strip(), "client_secret": secret,
            "enabled": enabled, **((row.settings or {}) if row is not None else {})}
    with acting(principal):
        try:
            upsert_provider(realm_row(realm), data)
        except RealmImportError as exc:
            raise AdminError("invalid_provider", str(exc)) from None
        audit.record("admin_identity_provider_saved", realm_id=realm.id, provider=alias,
                     secret_changed=bool(client_secret))


# --- realms overview ------------------------------------------------------------------------

def realm_by_slug(slug: str) -> Realm | None:
    return db.session.execute(db.select(Realm).filter_by(slug=slug)).scalar_one_or_none()

