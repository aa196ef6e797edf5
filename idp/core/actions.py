"""Required actions: steps a customer owes before a sign-in completes (Keycloak's model).

The core knows their names and order; the web flow maps each to the page that performs
it. Order matters: an email must be set before it is verified.
"""

from __future__ import annotations

from . import audit
from .models import Customer, utcnow

SET_EMAIL = "SET_EMAIL"
VERIFY_EMAIL = "VERIFY_EMAIL"
UPDATE_PASSWORD = "UPDATE_PASSWORD"
CONFIGURE_TOTP = "CONFIGURE_TOTP"

ORDER: tuple[str, ...] = (SET_EMAIL, VERIFY_EMAIL, UPDATE_PASSWORD, CONFIGURE_TOTP)


def first_pending(names: list[str]) -> str | None:
    for action in ORDER:
        if action in names:
            return action
    return None


def add(current: list[str], name: str) -> list[str]:
    """A new list (so SQLAlchemy sees the JSON change) with ``name`` added once."""
    return [*current, name] if name not in current else list(current)


def remove(current: list[str], name: str) -> list[str]:
    return [n for n in current if n != name]


def owe(customer: Customer, name: str) -> None:
    customer.required_actions = add(list(customer.required_actions or []), name)


def finish(customer: Customer, name: str) -> None:
    """Drop a done action; the first time none is left, the account is activated."""
    customer.required_actions = remove(list(customer.required_actions or []), name)
    if not customer.required_actions and customer.activated_at is None:
        customer.activated_at = utcnow()
        audit.record("customer_activated", realm_id=customer.realm_id, customer_id=customer.id)
