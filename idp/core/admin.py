"""What agency staff do, behind the permission model: one function per console action.

Every function takes the :class:`~idp.core.staff.Principal` first and checks it with
:func:`idp.core.staff.require` before reading or writing anything, so a realm-admin
cannot reach another realm whatever the web layer (console or admin API) forgets. Each
runs with the principal as the audit actor (:func:`acting`) and calls the same services
as the CLI (:mod:`customers`, :mod:`realm_io`, :mod:`linking`); the caller commits.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Index, func, or_

from . import audit, customers, linking, sessions
from .clients import CLIENT_DEFAULTS, forget_client, hash_secret, new_secret, snapshot
from .db import db
from .models import (
    AuditEvent,
    Client,
    Customer,
    FederatedIdentity,
    IdentityProvider,
    Realm,
    SsoSession,
    Token,
)
from .realm_io import RealmImportError, upsert_client, upsert_provider, validate_client_meta
from .realms import RealmInfo, find_realm, forget_realm, realm_row
from .settings import AppSettings, RealmSettings, SettingsError
from .staff import Action, PermissionDenied, Principal, require

PER_PAGE = 25
#: Counting matches stops here: "more than 1000" is all a search page needs to say.
COUNT_CAP = 1000

# Search indexes (also created by the Alembic migration): prefix searches on identifier,
# email and names stay index scans on 500,000 customers. text_pattern_ops lets
# PostgreSQL use them for LIKE 'prefix%' whatever the database collation.
_PATTERN = {"postgresql_ops": {"identifier": "text_pattern_ops",
                               "email_normalized": "text_pattern_ops",
                               "family_lower": "text_pattern_ops",
                               "given_lower": "text_pattern_ops"}}
Index("ix_customer_search_identifier", Customer.realm_id, Customer.identifier, **_PATTERN)
Index("ix_customer_search_email", Customer.realm_id, Customer.email_normalized, **_PATTERN)
Index("ix_customer_search_family", Customer.realm_id,
      func.lower(Customer.family_name).label("family_lower"), **_PATTERN)
Index("ix_customer_search_given", Customer.realm_id,
      func.lower(Customer.given_name).label("given_lower"), **_PATTERN)
Index("ix_customer_realm_activated", Customer.realm_id, Customer.activated_at)
Index("ix_audit_event_created", AuditEvent.created_at)
Index("ix_audit_event_realm_created", AuditEvent.realm_id, AuditEvent.created_at)
Index("ix_token_client_created", Token.client_pk, Token.created_at)


class AdminError(ValueError):
    """A request the data refuses (``code`` stable, message in English for logs/API)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@contextmanager
def acting(principal: Principal) -> Iterator[None]:
    """Audit rows written inside carry the principal as actor (whatever the caller set)."""
    previous = audit.context.get()
    token = audit.context.set(audit.AuditContext(ip=previous.ip, actor=principal.actor))
    try:
        yield
    finally:
        audit.context.reset(token)


def realm_for(principal: Principal, slug: str, action: Action, staff_realm: str,
              now: float | None = None) -> RealmInfo:
    """The realm ``slug`` once the principal may do ``action`` on it (else
    PermissionDenied, also for a realm that does not exist: no oracle)."""
    require(principal, slug, action, now=now, staff_realm=staff_realm)
    info = find_realm(slug)
    if info is None:
        raise PermissionDenied(action, slug, "unknown_realm")
    return info


# --- customers ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SearchPage:
    items: list[Customer]
    page: int
    has_next: bool
    total: int
    capped: bool


def _like(prefix: str) -> str:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"{escaped}%"


def search_customers(principal: Principal, realm: RealmInfo, query: str, page: int = 1,
                     per_page: int = PER_PAGE) -> SearchPage:
    """Customers whose identifier, email or family/given name starts with ``query``
    (case-insensitive for names and email), by identifier, one page at a time."""
    require(principal, realm.slug, Action.CUSTOMERS_READ)
    q = (query or "").strip()[:320]
    page = max(1, page)
    stmt = db.select(Customer).where(Customer.realm_id == realm.id)
    if q:
        pattern = _like(q)
        lowered = _like(q.lower())
        if "@" in q:
            stmt = stmt.where(Customer.email_normalized.like(lowered, escape="\\"))
        else:
            stmt = stmt.where(or_(
                Customer.identifier.like(pattern, escape="\\"),
                func.lower(Customer.family_name).like(lowered, escape="\\"),
                func.lower(Customer.given_name).like(lowered, escape="\\"),
                Customer.email_normalized.like(lowered, escape="\\"),
            ))
    capped_q = stmt.with_only_columns(Customer.id).limit(COUNT_CAP + 1).subquery()
    total = int(db.session.execute(db.select(func.count()).select_from(capped_q)).scalar()
                or 0)
    rows = list(db.session.execute(
        stmt.order_by(Customer.identifier).offset((page - 1) * per_page).limit(per_page + 1)
    ).scalars())
    return SearchPage(items=rows[:per_page], page=page, has_next=len(rows) > per_page,
                      total=min(total, COUNT_CAP), capped=total > COUNT_CAP)


def customer(principal: Principal, realm: RealmInfo, identifier: str,
             write: bool = False) -> Customer:
    require(principal, realm.slug, Action.CUSTOMERS_WRITE if write else Action.CUSTOMERS_READ)
    try:
        return customers.get(realm, identifier)
    except customers.CustomerError as exc:
        raise AdminError("not_found", str(exc)) from None


@dataclass(frozen=True)
class CustomerFile:
    """Everything the customer page shows."""

    customer: Customer
    status: str
    identities: list[FederatedIdentity]
    sessions: list[SsoSession]
    sign_ins: list[AuditEvent]
    trail: list[AuditEvent]


def customer_file(principal: Principal, realm: RealmInfo, identifier: str) -> CustomerFile:
    c = customer(principal, realm, identifier)
    events = db.select(AuditEvent).where(AuditEvent.realm_id == realm.id,
                                         AuditEvent.customer_id == c.id)
    sign_ins = list(db.session.execute(
        events.where(AuditEvent.event == "login").order_by(AuditEvent.id.desc()).limit(10))
        .scalars())
    trail = list(db.session.execute(events.order_by(AuditEvent.id.desc()).limit(50))
                 .scalars())
    return CustomerFile(c, customers.status(c), linking.identities_of(c),
                        sessions.live_sessions(c, realm.settings), sign_ins, trail)


def _wrap(fn: Any, *args: Any, **kwargs: Any) -> Any:
    try:
        return fn(*args, **kwargs)
    except customers.CustomerError as exc:
        raise AdminError(exc.code, str(exc)) from None


def resend_verification(principal: Principal, cfg: AppSettings, realm: RealmInfo,
                        identifier: str, locale: str | None = None) -> int:
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        return _wrap(customers.resend_verification, cfg, realm, c, locale)


def issue_temporary_code(principal: Principal, cfg: AppSettings, realm: RealmInfo,
                         identifier: str) -> str:
    """A new 6-digit temporary code, returned once (to read out on the phone)."""
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        return _wrap(customers.issue_temporary_code, cfg, realm, c)


def unlock(principal: Principal, realm: RealmInfo, identifier: str) -> None:
    with acting(principal):
        customers.unlock(realm, customer(principal, realm, identifier, write=True))


def set_enabled(principal: Principal, cfg: AppSettings, realm: RealmInfo, identifier: str,
                enabled: bool) -> None:
    with acting(principal):
        customers.set_enabled(cfg, realm, customer(principal, realm, identifier, write=True),
                              enabled)


def end_sessions(principal: Principal, cfg: AppSettings, realm: RealmInfo,
                 identifier: str) -> int:
    with acting(principal):
        return customers.end_sessions(cfg, realm,
                                      customer(principal, realm, identifier, write=True))


def unlink(principal: Principal, realm: RealmInfo, identifier: str, provider: str) -> None:
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        try:
            if not linking.unlink(c, provider):
                raise AdminError("not_linked", f"no {provider} account linked")
        except linking.LastWayIn:
            raise AdminError("last_way_in", "the customer would have no way to sign in"
                             ) from None


def set_email(principal: Principal, cfg: AppSettings, realm: RealmInfo, identifier: str,
              email: str) -> int:
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        return _wrap(customers.set_email, cfg, realm, c, email)


# --- client applications ------------------------------------------------------------------

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


# --- realm settings -----------------------------------------------------------------------

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


def epoch_now() -> float:
    return time.time()
