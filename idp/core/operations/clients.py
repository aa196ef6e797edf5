"""Client operations: list, read, create, update, enable/disable, rotate, delete.

The one way the console, the admin API and the ``idp clients`` commands change a client
(Dynamic Client Registration has its own, narrower rules in :mod:`idp.core.registration`;
realm import is the platform operator's). Each operation checks the principal, then the
one client schema (:mod:`idp.core.clients.metadata`), then writes through
:mod:`idp.core.clients`. Beyond the action itself (``clients:write``…):

* nobody grants a scope they do not hold: an ``admin:*`` scope only by a principal that
  may do every action of that scope on every realm the client will administer (a
  super-admin, a realm-admin of those realms, a service client holding the scope);
* a client's ``admin_realms`` stay within the actor's own realms (never the staff realm),
  and a client that administers realms beyond the actor's cannot be changed by them at
  all (no rotating its secret to borrow its reach);
* changing a confidential client's authentication (method, ``jwks``, ``jwks_uri``) needs
  what a secret rotation needs: ``clients:secret`` with a fresh second factor.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import audit, clients
from ..clients import CLIENT_DEFAULTS, ClientMetadataError, snapshot
from ..clients.metadata import (
    ADMIN_API_AUDIENCE,
    ADMIN_SCOPE_NAMES,
    GRANTS,
    admin_scopes,
    authentication,
)
from ..db import db
from ..models import Client, Customer, Token
from ..realms import RealmInfo, find_realm
from ..settings import AppSettings
from ..staff import SYSTEM, Action, PermissionDenied, Principal, can_manage, require
from .base import AdminError, acting

A = Action
#: Admin API scope → the staff actions it allows (docs/admin-api.md). The admin API's
#: bearer check and the grant check below read this one table.
ADMIN_SCOPES: dict[str, frozenset[Action]] = {
    "admin:customers:read": frozenset({A.CUSTOMERS_READ}),
    "admin:customers:write": frozenset({A.CUSTOMERS_READ, A.CUSTOMERS_WRITE}),
    "admin:clients": frozenset({A.CLIENTS_READ, A.CLIENTS_WRITE, A.CLIENT_SECRET,
                                A.CLIENT_DELETE}),
    "admin:realm": frozenset({A.SETTINGS_READ, A.SETTINGS_WRITE}),
    "admin:events:read": frozenset({A.AUDIT_READ}),
    "admin:migration:read": frozenset({A.MIGRATION_READ, A.CUSTOMERS_READ}),
}
assert set(ADMIN_SCOPES) == set(ADMIN_SCOPE_NAMES)  # one list of admin scopes

#: The client fields the console edits (RFC 7591 names) and how.
LIST_FIELDS = ("redirect_uris", "post_logout_redirect_uris", "grant_types")
TEXT_FIELDS = ("client_name", "scope", "token_endpoint_auth_method",
               "id_token_signed_response_alg", "backchannel_logout_uri")


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
    row = clients.row_of(realm.id, client_id)
    if row is None:
        raise AdminError("not_found", f"unknown client: {client_id}")
    return row


def get_client(principal: Principal, realm: RealmInfo, client_id: str) -> ClientLine:
    require(principal, realm.slug, Action.CLIENTS_READ)
    return _client_line(_client_row(realm, client_id))


def administered_realms(realm_slug: str, meta: dict[str, Any]) -> list[str]:
    """The realms a client's admin API tokens reach: none without an admin scope, else its
    ``admin_realms`` (default: its own realm)."""
    if not admin_scopes(meta):
        return []
    return list(meta.get("admin_realms") or [realm_slug])


def check_reach(principal: Principal, cfg: AppSettings, realm: RealmInfo,
                meta: dict[str, Any], *, new: bool = True) -> None:
    """Raise PermissionDenied unless the principal holds every admin scope of ``meta``
    on every realm the client administers (see the module's rules). ``new``: metadata
    about to be stored, whose ``admin_realms`` must also name existing customer realms."""
    for slug in meta.get("admin_realms") or []:
        if new and (slug == cfg.staff_realm or find_realm(slug) is None):
            raise PermissionDenied(Action.CLIENTS_WRITE, realm.slug, "admin_realms_refused")
        if not can_manage(principal, slug, Action.CLIENTS_WRITE, cfg.staff_realm):
            raise PermissionDenied(Action.CLIENTS_WRITE, realm.slug, "admin_realms_refused")
    if ADMIN_API_AUDIENCE in (meta.get("audiences") or []) and not (
            principal.super_admin or principal.role == SYSTEM):
        # Staff-realm tokens of such a client are admin API credentials.
        raise PermissionDenied(Action.CLIENTS_WRITE, realm.slug, "audience_not_held")
    for scope in admin_scopes(meta):
        for slug in administered_realms(realm.slug, meta):
            for action in sorted(ADMIN_SCOPES[scope]):
                if not can_manage(principal, slug, action, cfg.staff_realm):
                    raise PermissionDenied(action, realm.slug, "scope_not_held")


def _validated(data: dict[str, Any]) -> dict[str, Any]:
    try:
        return clients.validate(data)
    except ClientMetadataError as exc:
        raise AdminError("invalid_client", exc.description) from None


def clean_client_meta(data: dict[str, Any]) -> dict[str, Any]:
    """Console/API input → RFC 7591 metadata fields: a textarea's lines become a list, an
    empty text field means "remove" (None). Checked later by the one schema."""
    meta: dict[str, Any] = {}
    for name, value in data.items():
        if name in LIST_FIELDS and isinstance(value, str):
            value = [v.strip() for v in value.splitlines() if v.strip()]
        elif isinstance(value, str):
            value = value.strip() or None
        meta[name] = value
    return meta


def create_client(principal: Principal, cfg: AppSettings, realm: RealmInfo, client_id: str,
                  data: dict[str, Any]) -> str | None:
    """A new client; returns its generated secret (shown once) or None (public client)."""
    require(principal, realm.slug, Action.CLIENTS_WRITE)
    client_id = (client_id or "").strip()
    if not client_id or len(client_id) > 255 or any(ch.isspace() for ch in client_id):
        raise AdminError("invalid_client", "client_id: 1 to 255 characters, no spaces")
    if clients.row_of(realm.id, client_id) is not None:
        raise AdminError("exists", f"client {client_id} already exists")
    given = {k: v for k, v in clean_client_meta(data).items() if v is not None}
    given.setdefault("first_party", False)
    meta = _validated(given)
    check_reach(principal, cfg, realm, meta)
    with acting(principal):
        _row, secret = clients.store(cfg.client_secret_key, realm.id, client_id, meta)
        audit.record("admin_client_created", realm_id=realm.id, client_id=client_id)
    return secret


def update_client(principal: Principal, cfg: AppSettings, realm: RealmInfo, client_id: str,
                  data: dict[str, Any], now: float | None = None) -> None:
    """Change the given fields (None: remove the field). Changing a confidential
    client's authentication is as sensitive as rotating its secret."""
    require(principal, realm.slug, Action.CLIENTS_WRITE)
    row = _client_row(realm, client_id)
    old = dict(row.meta or {})
    check_reach(principal, cfg, realm, old, new=False)
    merged = dict(old)
    for name, value in clean_client_meta(data).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    meta = _validated(merged)
    check_reach(principal, cfg, realm, meta)
    if (old.get("token_endpoint_auth_method", CLIENT_DEFAULTS["token_endpoint_auth_method"])
            != "none" and authentication(old) != authentication(meta)):
        require(principal, realm.slug, Action.CLIENT_SECRET, now=now)
    with acting(principal):
        clients.store(cfg.client_secret_key, realm.id, client_id, meta)
        audit.record("admin_client_updated", realm_id=realm.id, client_id=client_id)


def set_client_enabled(principal: Principal, cfg: AppSettings, realm: RealmInfo,
                       client_id: str, enabled: bool) -> None:
    require(principal, realm.slug, Action.CLIENTS_WRITE)
    row = _client_row(realm, client_id)
    check_reach(principal, cfg, realm, row.meta or {}, new=False)
    with acting(principal):
        clients.set_enabled(row, enabled)
        audit.record("admin_client_enabled" if enabled else "admin_client_disabled",
                     realm_id=realm.id, client_id=client_id)


def rotate_secret(principal: Principal, cfg: AppSettings, realm: RealmInfo, client_id: str,
                  now: float | None = None) -> str:
    """A new secret (returned once); the old one stops working at once. Sensitive."""
    require(principal, realm.slug, Action.CLIENT_SECRET, now=now)
    row = _client_row(realm, client_id)
    check_reach(principal, cfg, realm, row.meta or {}, new=False)
    method = (row.meta or {}).get("token_endpoint_auth_method",
                                  CLIENT_DEFAULTS["token_endpoint_auth_method"])
    if method in ("none", "private_key_jwt"):
        raise AdminError("no_secret", "this client does not use a secret")
    with acting(principal):
        secret = clients.rotate(cfg.client_secret_key, row)
        audit.record("admin_client_secret_rotated", realm_id=realm.id, client_id=client_id)
    return secret


def delete_client(principal: Principal, cfg: AppSettings, realm: RealmInfo, client_id: str,
                  now: float | None = None) -> None:
    """Delete a client and, by cascade, its tokens and codes. Sensitive."""
    require(principal, realm.slug, Action.CLIENT_DELETE, now=now)
    row = _client_row(realm, client_id)
    check_reach(principal, cfg, realm, row.meta or {}, new=False)
    with acting(principal):
        clients.remove(row)
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


__all__ = [
    "ADMIN_SCOPES", "GRANTS", "ClientLine", "SignIn", "administered_realms", "check_reach",
    "clean_client_meta", "create_client", "delete_client", "get_client", "list_clients",
    "recent_sign_ins", "rotate_secret", "set_client_enabled", "update_client",
]
