"""Claims by scope (OIDC Core §5.4) and the ``claims`` request parameter (§5.5).

Only claims with a value are returned: no null, no empty string (conformance checks this).
"""

from __future__ import annotations

import calendar
from typing import Any

from .models import Customer

SCOPE_CLAIMS: dict[str, tuple[str, ...]] = {
    "profile": (
        "name", "given_name", "family_name", "preferred_username", "locale", "updated_at",
    ),
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "address": ("address",),
    "customer": ("customer_id", "preferred_username"),
}
SUPPORTED_SCOPES = ("openid", *SCOPE_CLAIMS, "offline_access")
SUPPORTED_CLAIMS = sorted(
    {"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "idp"}
    | {c for claims in SCOPE_CLAIMS.values() for c in claims}
)


def customer_claims(customer: Customer) -> dict[str, Any]:
    """Every claim we know for a customer, leaving out unknown values."""
    values: dict[str, Any] = {
        "sub": customer.sub,
        "given_name": customer.given_name,
        "family_name": customer.family_name,
        "preferred_username": customer.identifier,
        "customer_id": customer.identifier,
        "locale": customer.locale,
        "updated_at": calendar.timegm(customer.updated_at.timetuple())
        if customer.updated_at
        else None,
    }
    name = " ".join(n for n in (customer.given_name, customer.family_name) if n)
    values["name"] = name or None
    if customer.email:
        values["email"] = customer.email
        values["email_verified"] = bool(customer.email_verified)
    if customer.phone_number:
        values["phone_number"] = customer.phone_number
        values["phone_number_verified"] = False
    return {k: v for k, v in values.items() if v is not None and v != ""}


def _scope_names(scope: str) -> set[str]:
    names: set[str] = {"sub"}
    for item in scope.split():
        names.update(SCOPE_CLAIMS.get(item, ()))
    return names


def claims_for_scope(
    customer: Customer, scope: str, requested: dict[str, Any] | None = None,
    granted: str | None = None,
) -> dict[str, Any]:
    """Claims of ``scope`` plus those individually requested via ``claims`` — the latter
    only within what the *granted* scope (default: ``scope``) allows, so the ``claims``
    parameter never reveals more than the customer consented to."""
    available = customer_claims(customer)
    names = _scope_names(scope)
    allowed = _scope_names(granted if granted is not None else scope)
    names.update(k for k in (requested or {}) if k in allowed)
    return {k: v for k, v in available.items() if k in names}


def requested_claims(claims_param: dict[str, Any] | None, target: str) -> dict[str, Any]:
    """The ``userinfo`` or ``id_token`` member of a parsed ``claims`` parameter."""
    if not isinstance(claims_param, dict):
        return {}
    section = claims_param.get(target)
    return section if isinstance(section, dict) else {}
