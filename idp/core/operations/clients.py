"""Client operations for staff: list, read, create, update, enable, rotate, delete."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import audit
from ..clients import CLIENT_DEFAULTS, forget_client, hash_secret, new_secret, snapshot
from ..db import db
from ..models import Client, Customer, Token
from ..realm_io import RealmImportError, upsert_client, validate_client_meta
from ..realms import RealmInfo, realm_row
from ..settings import AppSettings
from ..staff import Action, Principal, require
from .base import AdminError, acting

#: The client fields the console edits (RFC 7591 names) and how.
LIST_FIELDS = ("redirect_uris", "post_logout_redirect_uris", "grant_types")
TEXT_FIELDS = ("client_name", "scope", "token_endpoint_auth_method",
               "id_token_signed_response_alg", "backchannel_logout_uri")
GRANTS = ("authorization_code", "refresh_token", "client_credentials")


@dataclass(frozen=True)
class ClientLine:
    client_id: str
    name: str
    enabled: bool
    first_party: bool
    auth_method: str
    meta: dict[str, Any]


def _client_line(row: Client) -> ClientLine:
    info = snapshot(row)
    return ClientLine(row.client_id, str(info.get("client_name") or row.client_id),
                      info.enabled, bool(info.get("first_party")),
                      str(info.get("token_endpoint_auth_method")), info.public_metadata())


def list_clients(principal: Principal, realm: RealmInfo) -> list[ClientLine]:
    require(principal, realm.slug, Action.CLIENTS_READ)
    rows = db.session.execute(db.select(Client).filter_by(realm_id=realm.id)
                              .order_by(Client.client_id)).scalars()
    return [_client_line(r) for r in rows]


def _client_row(realm: RealmInfo, client_id: str) -> Client:
    row = db.session.execute(db.select(Client).filter_by(realm_id=realm.id,
                                                         client_id=client_id)
                             ).scalar_one_or_none()
    if row is None:
        raise AdminError("not_found", f"unknown client: {client_id}")
    return row


def get_client(principal: Principal, realm: RealmInfo, client_id: str) -> ClientLine:
    require(principal, realm.slug, Action.CLIENTS_READ)
    return _client_line(_client_row(realm, client_id))


def clean_client_meta(data: dict[str, Any]) -> dict[str, Any]:
    """Console/API input → RFC 7591 metadata, checked as realm import checks it."""
    meta: dict[str, Any] = {}
    for name in LIST_FIELDS:
        value = data.get(name) or []
        if isinstance(value, str):
            value = [v.strip() for v in value.splitlines() if v.strip()]
        meta[name] = value
    for name in TEXT_FIELDS:
        value = data.get(name)
        if isinstance(value, str) and value.strip():
            meta[name] = value.strip()
    meta["first_party"] = bool(data.get("first_party"))
    if "enabled" in data:
        meta["enabled"] = bool(data["enabled"])
    unknown = [g for g in meta["grant_types"] if g not in GRANTS]
    if unknown:
        raise AdminError("invalid_client", f"unsupported grant type: {unknown[0]}")
    for uri in [*meta["redirect_uris"], *meta["post_logout_redirect_uris"],
                meta.get("backchannel_logout_uri") or ""]:
        if uri and not uri.startswith(("https://", "http://127.0.0.1", "http://localhost")):
            raise AdminError("invalid_client", f"not an https URI: {uri}")
    try:
        validate_client_meta(meta)
    except RealmImportError as exc:
        raise AdminError("invalid_client", str(exc)) from None
    return meta


def create_client(principal: Principal, cfg: AppSettings, realm: RealmInfo, client_id: str,
                  data: dict[str, Any]) -> str | None:
    """A new client; returns its generated secret (shown once) or None (public client)."""
    require(principal, realm.slug, Action.CLIENTS_WRITE)
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 255 or any(ch.isspace() for ch in client_id):
        raise AdminError("invalid_client", "client_id: 1 to 255 characters, no spaces")
    if db.session.execute(db.select(Client.id).filter_by(realm_id=realm.id,
                                                         client_id=client_id)).first():
        raise AdminError("exists", f"client {client_id} already exists")
    meta = clean_client_meta(data)
    with acting(principal):
        try:
            _row, secret = upsert_client(cfg.client_secret_key, realm_row(realm),
                                         {"client_id": client_id, **meta})
        except RealmImportError as exc:
            raise AdminError("invalid_client", str(exc)) from None
        audit.record("admin_client_created", realm_id=realm.id, client_id=client_id)
    return secret


def update_client(principal: Principal, cfg: AppSettings, realm: RealmInfo, client_id: str,
                  data: dict[str, Any]) -> None:
    require(principal, realm.slug, Action.CLIENTS_WRITE)
    row = _client_row(realm, client_id)
    meta = {**{k: v for k, v in (row.meta or {}).items() if k not in LIST_FIELDS + TEXT_FIELDS},
            **clean_client_meta({"enabled": (row.meta or {}).get("enabled", True), **data})}
    with acting(principal):
        row.meta = meta
        if meta.get("token_endpoint_auth_method") == "none":
            row.secret_hash = None
        forget_client(realm.id, client_id)
        audit.record("admin_client_updated", realm_id=realm.id, client_id=client_id)


def set_client_enabled(principal: Principal, realm: RealmInfo, client_id: str,
                       enabled: bool) -> None:
    require(principal, realm.slug, Action.CLIENTS_WRITE)
    row = _client_row(realm, client_id)
    with acting(principal):
        row.meta = {**(row.meta or {}), "enabled": enabled}
        forget_client(realm.id, client_id)
        audit.record("admin_client_enabled" if enabled else "admin_client_disabled",
                     realm_id=realm.id, client_id=client_id)


def rotate_secret(principal: Principal, cfg: AppSettings, realm: RealmInfo, client_id: str,
                  now: float | None = None) -> str:
    """A new secret (returned once); the old one stops working at once. Sensitive."""
    require(principal, realm.slug, Action.CLIENT_SECRET, now=now)
    row = _client_row(realm, client_id)
    method = (row.meta or {}).get("token_endpoint_auth_method",
                                  CLIENT_DEFAULTS["token_endpoint_auth_method"])
    if method in ("none", "private_key_jwt"):
        raise AdminError("no_secret", "this client does not use a secret")
    secret = new_secret()
    with acting(principal):
        row.secret_hash = hash_secret(cfg.client_secret_key, secret)
        forget_client(realm.id, client_id)
        audit.record("admin_client_secret_rotated", realm_id=realm.id, client_id=client_id)
    return secret


def delete_client(principal: Principal, realm: RealmInfo, client_id: str,
                  now: float | None = None) -> None:
    """Delete a client and, by cascade, its tokens and codes. Sensitive."""
    require(principal, realm.slug, Action.CLIENT_DELETE, now=now)
    row = _client_row(realm, client_id)
    with acting(principal):
        db.session.delete(row)
        forget_client(realm.id, client_id)
        audit.record("admin_client_deleted", realm_id=realm.id, client_id=client_id)


@dataclass(frozen=True)
class SignIn:
    identifier: str
    at: Any
    scope: str


def recent_sign_ins(principal: Principal, realm: RealmInfo, client_id: str,
                    limit: int = 20) -> list[SignIn]:
    """Customers who got tokens through the client lately, newest first."""
    require(principal, realm.slug, Action.CLIENTS_READ)
    row = _client_row(realm, client_id)
    rows = db.session.execute(
        db.select(Customer.identifier, Token.created_at, Token.scope)
        .join(Customer, Customer.id == Token.customer_id)
        .where(Token.client_pk == row.id).order_by(Token.created_at.desc()).limit(limit))
    return [SignIn(i, at, scope) for i, at, scope in rows]


