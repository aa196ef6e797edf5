"""Bearer tokens of the admin API: our own RFC 9068 access tokens, checked locally.

Two kinds of callers, one permission model (:mod:`idp.core.staff`):

* a **service client** (client credentials grant) of a customer realm, whose token carries
  admin scopes (``admin:customers:read`` …, see :data:`SCOPES`). It administers its own
  realm; a client whose metadata lists ``admin_realms`` administers those realms instead
  (never the staff realm). It has no second factor, so it can never do a sensitive action
  (secret rotation, client deletion).
* a **staff member** signed in to the staff realm, through a staff-realm client meant
  for the admin API: its metadata lists :data:`ADMIN_API_AUDIENCE` in ``audiences``, so
  the token's ``aud`` names the API. A token of any other staff-realm client (a wiki, a
  mail tool signing staff in) is refused: it was issued for someone else, and whoever
  holds it must not administer realms with it. The staff role boundaries apply
  (realm-admin: their realms only; super-admin: all), and the sign-in's TOTP time counts
  as the second factor for sensitive actions.

A token of a customer (code flow in a customer realm) never carries an admin scope: the
authorization endpoint keeps only the OIDC scopes. Every token must also still be live in
the token table (revocation, a customer disabled, a session ended all apply at once).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import NoReturn

from flask import request

from ..core import staff, tokens
from ..core.clients import find_client
from ..core.clients import metadata as clients_metadata
from ..core.db import db
from ..core.models import Customer, Token, utcnow
from ..core.operations.clients import ADMIN_SCOPES
from ..core.realms import find_realm
from ..web.context import app_settings
from .problems import Problem

A = staff.Action
#: Admin scope → the staff actions it allows (docs/admin-api.md): the operations' table,
#: so who may grant a scope and what it allows are one rule.
SCOPES: dict[str, frozenset[staff.Action]] = ADMIN_SCOPES
#: The scope an operation needing an action documents (the narrowest that grants it).
SCOPE_OF_ACTION: dict[staff.Action, str] = {
    A.CUSTOMERS_READ: "admin:customers:read",
    A.CUSTOMERS_WRITE: "admin:customers:write",
    A.CLIENTS_READ: "admin:clients", A.CLIENTS_WRITE: "admin:clients",
    A.CLIENT_SECRET: "admin:clients", A.CLIENT_DELETE: "admin:clients",
    A.SETTINGS_READ: "admin:realm", A.SETTINGS_WRITE: "admin:realm",
    A.AUDIT_READ: "admin:events:read",
    A.MIGRATION_READ: "admin:migration:read",
}


#: A staff-realm client whose ``audiences`` list the admin API's gets tokens the API
#: accepts; no other staff-realm token is.
ADMIN_API_AUDIENCE = clients_metadata.ADMIN_API_AUDIENCE


@dataclass(frozen=True)
class Caller:
    principal: staff.Principal
    kind: str  # "service" or "staff"


def _unauthorized(detail: str) -> Problem:
    return Problem("unauthorized", detail,
                   headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def bearer() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Problem("unauthorized", "Authorization: Bearer <access token> is required",
                      headers={"WWW-Authenticate": 'Bearer realm="admin"'})
    return value.strip()


def _unverified_issuer(token: str) -> str | None:
    """The ``iss`` claim before verification, only to pick the realm whose keys verify."""
    parts = token.split(".")
    if len(parts) != 3 or len(token) > 8192:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, UnicodeDecodeError):
        return None
    iss = payload.get("iss") if isinstance(payload, dict) else None
    return iss if isinstance(iss, str) else None


def authenticate() -> Caller:
    """The caller of this request, or a 401 problem."""
    token = bearer()
    cfg = app_settings()
    iss = _unverified_issuer(token)
    prefix = cfg.public_url.rstrip("/") + "/realms/"
    if not iss or not iss.startswith(prefix):
        raise _unauthorized("The token was not issued by this identity provider")
    realm = find_realm(iss[len(prefix):])
    if realm is None or not realm.enabled:
        raise _unauthorized("The token's realm is unknown or disabled")
    decoded = tokens.decode_own(realm.id, token)
    if decoded is None:
        raise _unauthorized("The token's signature is invalid")
    header, claims = decoded
    now = utcnow().timestamp()
    if str(header.get("typ", "")).lower().removeprefix("application/") != "at+jwt":
        raise _unauthorized("Only access tokens (typ at+jwt) are accepted")
    if claims.get("iss") != cfg.issuer(realm.slug):
        raise _unauthorized("Wrong issuer")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or exp < now:
        raise _unauthorized("The token has expired")
    row = db.session.execute(
        db.select(Token).filter_by(access_jti=str(claims.get("jti", "")))
    ).scalar_one_or_none()
    if row is not None and (row.revoked_at is not None or row.realm_id != realm.id):
        raise _unauthorized("The token has been revoked")
    if row is None:
        # Client-credentials tokens without an admin scope are stateless (no row): valid,
        # but they administer nothing. An admin-scoped token always has a row.
        if not any(s.startswith("admin:") for s in str(claims.get("scope", "")).split()):
            raise Problem("insufficient_scope", "The token carries no admin scope",
                          headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
        raise _unauthorized("The token has been revoked")
    if realm.slug == cfg.staff_realm:
        _check_admin_audience(claims, realm.id)
        return _staff_caller(row, realm.slug, cfg.staff_realm)
    return _service_caller(row, claims, realm.id, realm.slug, cfg.staff_realm)


def _check_admin_audience(claims: dict, realm_id: int) -> None:
    """A staff token administers only if it was issued for the admin API: its ``aud``
    names the API and its client still lists that audience now (taking it away from a
    client acts at once, as taking a scope away from a service client does)."""
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    client = find_client(realm_id, str(claims.get("client_id", "")))
    meant = client is not None and ADMIN_API_AUDIENCE in (client.get("audiences") or [])
    if ADMIN_API_AUDIENCE not in audiences or not meant:
        # RFC 6750 §3.1: a token for another audience is an invalid token here.
        raise _unauthorized("The token was not issued for the admin API (its audience "
                            f"must include {ADMIN_API_AUDIENCE})")


def _staff_caller(row: Token, realm_slug: str, staff_realm: str) -> Caller:
    customer = db.session.get(Customer, row.customer_id) if row.customer_id else None
    otp_at = row.auth_time if "otp" in (row.amr or []) else None
    principal = staff.principal_of(customer, staff_realm, otp_at=otp_at) if customer else None
    if principal is None:
        raise Problem("forbidden", "The token's account is not an agency staff member")
    return Caller(principal, "staff")


def _service_caller(row: Token, claims: dict, realm_id: int, realm_slug: str,
                    staff_realm: str) -> Caller:
    if row.customer_id is not None:
        raise Problem("insufficient_scope", "A customer's token never administers anything",
                      headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
    client = find_client(realm_id, str(claims.get("client_id", "")))
    if client is None:
        raise _unauthorized("The token's client is unknown or disabled")
    # Within the client's scopes *now*: taking a scope away from a client acts at once.
    registered = set(str(client.get("scope") or "").split())
    granted = [s for s in str(claims.get("scope", "")).split() if s in registered]
    allowed: set[staff.Action] = set()
    for scope in granted:
        allowed |= SCOPES.get(scope, frozenset())
    if not allowed:
        raise Problem("insufficient_scope", "The token carries no admin scope",
                      headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'})
    realms = client.get("admin_realms") or [realm_slug]
    realms = [r for r in realms if isinstance(r, str) and r != staff_realm]
    principal = staff.service_principal(client.client_id, realms, allowed)
    return Caller(principal, "service")


def authorize(caller: Caller, realm_slug: str, action: staff.Action) -> None:
    """The permission check of :mod:`idp.core.staff`, before anything is read (the core
    functions check again)."""
    try:
        staff.require(caller.principal, realm_slug, action,
                      staff_realm=app_settings().staff_realm)
    except staff.PermissionDenied as exc:
        raise_denied(caller, exc, action)


def raise_denied(caller: Caller, exc: staff.PermissionDenied, action: staff.Action) -> NoReturn:
    """A denial as a problem: a realm the caller may not see is 404 (its existence is not
    revealed), a missing scope 403 ``insufficient_scope``, a stale second factor 403
    ``step_up_required``."""
    if isinstance(exc, staff.StepUpRequired):
        raise Problem("step_up_required", "This action needs a staff sign-in with TOTP "
                      f"within the last {staff.STEP_UP_SECONDS // 60} minutes") from None
    if exc.reason == "unknown_realm":
        raise Problem("not_found", "No such realm") from None
    principal = caller.principal
    if principal.allowed is not None and staff.Action(exc.action) not in principal.allowed:
        raise Problem("insufficient_scope", "This operation needs the scope "
                      f"{SCOPE_OF_ACTION.get(staff.Action(exc.action), 'admin')}",
                      headers={"WWW-Authenticate": 'Bearer error="insufficient_scope"'}
                      ) from None
    raise Problem("forbidden", str(exc)) from None
