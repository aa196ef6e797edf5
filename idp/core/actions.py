"""Required actions: steps a customer owes before a sign-in completes (Keycloak's model).

Each action names the view that performs it; the machine sends the customer to the first
one pending. Order matters: an email must be set before it is verified.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RequiredAction:
    name: str
    endpoint: str  # the flow view that performs it


SET_EMAIL = RequiredAction("SET_EMAIL", "journey.set_email")
VERIFY_EMAIL = RequiredAction("VERIFY_EMAIL", "journey.verify_email")
UPDATE_PASSWORD = RequiredAction("UPDATE_PASSWORD", "journey.update_password")
LINK_ACCOUNT = RequiredAction("LINK_ACCOUNT", "flow.link_account")

ORDER: tuple[RequiredAction, ...] = (SET_EMAIL, VERIFY_EMAIL, UPDATE_PASSWORD)
BY_NAME = {a.name: a for a in ORDER}


def first_pending(names: list[str]) -> RequiredAction | None:
    for action in ORDER:
        if action.name in names:
            return action
    return None


def add(current: list[str], name: str) -> list[str]:
    """A new list (so SQLAlchemy sees the JSON change) with ``name`` added once."""
    return [*current, name] if name not in current else list(current)


def remove(current: list[str], name: str) -> list[str]:
    return [n for n in current if n != name]
