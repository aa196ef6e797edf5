"""Realm JSON import/export (README, Configuration): idempotent, updates in place, validated first.

Client fields use RFC 7591 names. A given ``client_secret`` is kept (stored hashed);
a confidential client without one gets a generated secret, reported once.
"""

from __future__ import annotations

from typing import Any

from . import clients, crypto, keys
from .clients import snapshot
from .db import db
from .models import Client, IdentityProvider, Realm
from .providers import PROVIDERS, get_adapter
from .realms import forget_realm
from .settings import RealmSettings, SettingsError

REALM_FIELDS = ("realm", "display_name", "clients", "identity_providers", "enabled")
PROVIDER_ALIASES = tuple(PROVIDERS)
PROVIDER_OVERRIDES = (
    "issuer", "discovery_url", "authorization_url", "token_url", "userinfo_url", "jwks_url",
    "graph_version", "scope", "email_capability",
)


class RealmImportError(ValueError):
    pass


def upsert_client(secret_key: bytes, realm: Realm, data: dict[str, Any]
                  ) -> tuple[Client, str | None]:
    """Create or update a client from its realm JSON entry, checked by the one client
    schema (:mod:`idp.core.clients.metadata`); returns it and a newly generated secret
    (else None). The platform operator importing a file may set every field."""
    client_id = data.get("client_id") if isinstance(data, dict) else None
    if not client_id or not isinstance(client_id, str):
        raise RealmImportError("client without client_id")
    secret = data.get("client_secret")
    if secret is not None and not isinstance(secret, str):
        raise RealmImportError(f"client {client_id}: client_secret must be a string")
    try:
        meta = clients.validate(data)
        return clients.store(secret_key, realm.id, client_id, meta, client_secret=secret)
    except clients.ClientMetadataError as exc:
        raise RealmImportError(f"client {client_id}: {exc.description}") from None


def import_realm(secret_key: bytes, data: dict[str, Any]) -> tuple[Realm, dict[str, str]]:
    """Create or update a realm from its JSON; returns it and any generated client secrets.

    Every realm-level key other than the structural ones is a setting checked against
    :class:`RealmSettings`: a typo (``resend_coldown``) is refused, nothing is written.
    """
    slug = data.get("realm")
    if not slug or not isinstance(slug, str):
        raise RealmImportError("missing 'realm' (slug)")
    try:
        RealmSettings.parse({k: v for k, v in data.items() if k not in REALM_FIELDS},
                            where="realm")
    except SettingsError as exc:
        raise RealmImportError(str(exc)) from None
    realm = db.session.execute(db.select(Realm).filter_by(slug=slug)).scalar_one_or_none()
    if realm is None:
        realm = Realm(slug=slug, display_name=data.get("display_name") or slug, settings={})
        db.session.add(realm)
        db.session.flush()
    if data.get("display_name") and realm.display_name != data["display_name"]:
        realm.display_name = data["display_name"]
    if "enabled" in data:
        realm.enabled = bool(data["enabled"])
    settings = {k: v for k, v in data.items() if k not in REALM_FIELDS}
    if settings and settings != realm.settings:
        realm.settings = {**(realm.settings or {}), **settings}
    keys.ensure_keys(realm)
    secrets: dict[str, str] = {}
    client_list = data.get("clients", [])
    if not isinstance(client_list, list):
        raise RealmImportError("clients must be a list")
    for client_data in client_list:
        _row, secret = upsert_client(secret_key, realm, client_data)
        if secret:
            secrets[client_data["client_id"]] = secret
    for provider in data.get("identity_providers", []):
        upsert_provider(realm, provider)
    db.session.commit()
    forget_realm(slug)
    return realm, secrets


def upsert_provider(realm: Realm, data: dict[str, Any]) -> IdentityProvider:
    alias = data.get("alias")
    if alias not in PROVIDER_ALIASES:
        raise RealmImportError(f"identity provider alias must be one of {PROVIDER_ALIASES}")
    if not data.get("client_id") or not data.get("client_secret"):
        raise RealmImportError(f"identity provider {alias}: client_id and client_secret needed")
    validate_provider(alias, data)
    row = db.session.execute(
        db.select(IdentityProvider).filter_by(realm_id=realm.id, alias=alias)
    ).scalar_one_or_none()
    if row is None:
        row = IdentityProvider(realm_id=realm.id, alias=alias, settings={})
        db.session.add(row)
    row.client_id = data["client_id"]
    # Stored encrypted (idp.core.crypto); re-sealed only when it changed, so a repeated
    # import stays a no-op.
    if row.client_secret is None or crypto.decrypt(row.client_secret) != data["client_secret"]:
        row.client_secret = crypto.encrypt(data["client_secret"])
    row.enabled = bool(data.get("enabled", True))
    overrides = {k: data[k] for k in PROVIDER_OVERRIDES if k in data}
    if "request_email" in data and "email_capability" not in data:  # X: documented alias
        overrides["email_capability"] = data["request_email"]
    if row.settings != overrides:
        row.settings = overrides
    return row


def validate_provider(alias: str, data: dict[str, Any]) -> None:
    """Build the adapter once so a bad entry is refused at import, not at sign-in."""
    unknown = sorted(set(data) - {"alias", "client_id", "client_secret", "enabled",
                                  "request_email", *PROVIDER_OVERRIDES})
    if unknown:
        raise RealmImportError(f"identity provider {alias}: unknown field(s) {', '.join(unknown)}")
    try:
        get_adapter(alias, data)
    except (KeyError, ValueError) as exc:
        message = exc.args[0] if exc.args else str(exc)
        raise RealmImportError(f"identity provider {alias}: {message}") from None


def export_realm(realm: Realm) -> dict[str, Any]:
    """The realm as JSON. Client secrets are never exported (only their hash is stored)."""
    clients = db.session.execute(
        db.select(Client).filter_by(realm_id=realm.id).order_by(Client.client_id)
    ).scalars()
    providers = db.session.execute(
        db.select(IdentityProvider).filter_by(realm_id=realm.id).order_by(IdentityProvider.alias)
    ).scalars()
    data: dict[str, Any] = {"realm": realm.slug, "display_name": realm.display_name}
    data.update(realm.settings or {})
    data["clients"] = [snapshot(c).public_metadata() for c in clients]
    data["identity_providers"] = [
        {"alias": p.alias, "client_id": p.client_id,
         "client_secret": crypto.decrypt(p.client_secret),
         "enabled": p.enabled, **(p.settings or {})}
        for p in providers
    ]
    return data
