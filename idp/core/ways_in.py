"""A customer and their ways in: one registry of credential kinds, one set of rules.

Keycloak's ``CredentialProvider.isConfiguredFor`` is the model. Each kind of way in
(password, legacy hash, temporary code, social link, passkey, TOTP, recovery codes, and
whatever a later feature adds) is a :class:`WayIn` registered here by the module that
owns its rows (:mod:`idp.core.credentials`, :mod:`idp.core.passkeys`,
:mod:`idp.core.linking`; TOTP is described below, the staff module owns its rows). Each
answers three questions:

- ``configured_for(customer)``: is this a way in for this customer?
- ``usable_now(customer, realm)``: may this customer sign in with it right now?
- ``on_recovery(customer)``: what does the agency's recovery (a new temporary code,
  ``disable``) do to it? It does it and returns short labels for the customer's mail.

On top of the kinds, the rules every entry point (flow, Mon compte, console, API, CLI)
calls, so that no two copies can disagree:

- :func:`may_sign_in`: may this customer sign in at all (enabled, not locked for good,
  right realm, plus checks other features register, e.g. a pending deletion);
- :func:`may_remove`: the one "last way in" rule for every removal;
- :func:`recover`: the agency's recovery effect on every kind.

Registration happens when the owning module is imported; :func:`ways` imports the
built-in owners first, so a caller never sees a half-filled registry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from . import audit
from .models import Customer

__all__ = [
    "Item",
    "Kind",
    "RemovalRefused",
    "WayIn",
    "items_for",
    "kinds_for",
    "may_remove",
    "may_sign_in",
    "recover",
    "recover_items",
    "register",
    "register_sign_in_check",
    "remove",
    "usable",
    "way",
    "ways",
]


class Kind(StrEnum):
    """The kinds of way in. ``email_code`` is registered by the feature that adds it."""

    PASSWORD = "password"
    LEGACY_PASSWORD = "legacy_password"
    TEMPORARY_CODE = "temporary_code"
    SOCIAL = "social"
    PASSKEY = "passkey"
    TOTP = "totp"
    RECOVERY_CODES = "recovery_codes"
    EMAIL_CODE = "email_code"


@dataclass(frozen=True)
class Item:
    """One concrete way in of a customer, for lists and removals.

    ``key`` names it within its kind (a passkey id, a provider alias; ``""`` for the
    password, which is one of a kind); ``label`` is what the customer reads (French, the
    web layer may word it again); ``removable_by_customer`` says whether Mon compte offers
    to remove it at all (a password is changed, not removed).
    """

    kind: Kind
    key: str
    label: str
    created_at: datetime | None = None
    last_used_at: datetime | None = None
    removable_by_customer: bool = False
    #: The bare name (a passkey's name, a provider's brand) for pages and mails that word
    #: the kind themselves, in the reader's language.
    name: str = ""


@runtime_checkable
class WayIn(Protocol):
    """A kind of way in. ``first_factor``: it signs in on its own (a second factor such
    as TOTP only completes a sign-in, so it never counts for the last-way-in rule)."""

    kind: Kind
    amr: tuple[str, ...]
    first_factor: bool

    def items(self, customer: Customer) -> list[Item]:
        """The customer's ways in of this kind (empty: not configured)."""
        ...

    def configured_for(self, customer: Customer) -> bool:
        """Is this a way in for this customer?"""
        ...

    def usable_now(self, customer: Customer, realm: Any) -> bool:
        """May this customer sign in with it now (configured, and nothing forbids it)?"""
        ...

    def on_recovery(self, customer: Customer) -> list[str]:
        """The agency's recovery: remove what the previous holder may have added; the
        labels of what went, for the customer's mail. Flushes; the caller commits."""
        ...


_REGISTRY: dict[Kind, WayIn] = {}
SignInCheck = Callable[[Customer], str | None]
_SIGN_IN_CHECKS: list[SignInCheck] = []
_loaded = False


def register(way: WayIn) -> None:
    """Add (or replace: a module reloaded in tests) the way of ``way.kind``."""
    _REGISTRY[Kind(way.kind)] = way


def register_sign_in_check(check: SignInCheck) -> None:
    """An extra "may this customer sign in" rule (returns a reason code or None), e.g.
    ``deletion_pending``. Registered once by the owning module at import."""
    if check not in _SIGN_IN_CHECKS:
        _SIGN_IN_CHECKS.append(check)


def _load() -> None:
    """Import the built-in owners: each registers its kinds at import."""
    global _loaded
    if _loaded:
        return
    from . import (  # noqa: F401  (each owner registers its kinds at import)
        credentials,
        deletion,
        email_code,
        linking,
        passkeys,
        totp,
    )

    _loaded = True


def ways() -> list[WayIn]:
    """Every registered kind, in :class:`Kind` order."""
    _load()
    return [_REGISTRY[k] for k in Kind if k in _REGISTRY]


def way(kind: Kind | str) -> WayIn:
    _load()
    return _REGISTRY[Kind(kind)]


def kinds_for(customer: Customer) -> list[Kind]:
    """The kinds configured for this customer (first and second factors)."""
    return [w.kind for w in ways() if w.configured_for(customer)]


def items_for(customer: Customer, *, first_factor_only: bool = False) -> list[Item]:
    """Every way in of the customer, kind by kind (Mon compte's list, the mails)."""
    out: list[Item] = []
    for w in ways():
        if first_factor_only and not w.first_factor:
            continue
        out.extend(w.items(customer))
    return out


def _realm_id(realm: Any) -> int | None:
    if realm is None:
        return None
    return int(realm) if isinstance(realm, int) else int(realm.id)


def may_sign_in(customer: Customer | None, realm: Any = None) -> str | None:
    """The one "may this customer sign in at all" check, whatever the way in.

    ``None`` means yes; otherwise a stable reason code: ``unknown``, ``wrong_realm``,
    ``disabled``, ``locked`` (locked for good: a temporary code guessed too often), or
    what a registered check answers (``deletion_pending``…). ``realm``: a
    :class:`~idp.core.realms.RealmInfo`, a realm id, or None (no realm check). A
    temporary lock after wrong passwords is not here: it belongs to the password kinds
    (a passkey is not guessed, so password guessing must not lock it out).
    """
    if customer is None:
        return "unknown"
    realm_id = _realm_id(realm)
    if realm_id is not None and customer.realm_id != realm_id:
        return "wrong_realm"
    if not customer.enabled:
        return "disabled"
    if customer.locked_permanently:
        return "locked"
    for check in _SIGN_IN_CHECKS:
        reason = check(customer)
        if reason:
            return reason
    return None


def usable(customer: Customer, kind: Kind | str, realm: Any = None) -> bool:
    """May the customer sign in with ``kind`` now (the kind's own rule, which starts
    with :func:`may_sign_in`)?"""
    return way(kind).usable_now(customer, realm)


def recovery_pending(customer: Customer) -> bool:
    """A temporary code waits to be used: until the première connexion is done again,
    it is the only first factor that signs in (the agency's recovery decided so)."""
    return bool(customer.temporary_code_hash)


def may_remove(customer: Customer, kind: Kind | str, item: str | int | None = None) -> bool:
    """The one "last way in" rule: may ``item`` of ``kind`` (all of that kind when None)
    go, leaving the customer at least one first factor? Second factors (TOTP, recovery
    codes) never count as a way in on their own, and removing one never strands anyone.

    A pending temporary code counts (the agency's letter signs in); a forgotten-password
    mail does not (it needs a verified mailbox the customer may not have).
    """
    target = way(kind)
    if not target.first_factor:
        return True
    key = None if item is None else str(item)
    left = 0
    for w in ways():
        if not w.first_factor:
            continue
        for it in w.items(customer):
            if w.kind == target.kind and (key is None or it.key == key):
                continue
            left += 1
    return left > 0


class RemovalRefused(Exception):
    """A removal refused; ``code``: ``not_found``, ``not_removable`` (a password is
    changed, not removed; a second factor is the staff's), ``last_way_in``."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def remove(customer: Customer, kind: Kind | str, key: str) -> Item:
    """Remove one of the customer's ways in (Mon compte's one-click removal), under the
    one last-way-in rule; the owning module deletes, this records the outcome. Returns
    what went; a refusal is recorded then raised (the caller commits either way)."""
    target = way(kind)
    item = next((i for i in target.items(customer) if i.key == str(key)), None)
    remover = getattr(target, "remove", None)
    code = ("not_found" if item is None
            else "not_removable" if not item.removable_by_customer or remover is None
            else "last_way_in" if not may_remove(customer, target.kind, item.key)
            else None)
    if code is not None or item is None or remover is None:
        audit.record("way_in_remove_refused", realm_id=customer.realm_id,
                     customer_id=customer.id, kind=str(kind), code=code or "not_found")
        raise RemovalRefused(code or "not_found")
    remover(customer, item.key)
    audit.record("way_in_removed", realm_id=customer.realm_id, customer_id=customer.id,
                 kind=str(item.kind), label=item.label)
    return item


def recover_items(customer: Customer, *, keep: tuple[Kind, ...] = ()) -> list[Item]:
    """The agency's recovery: every kind not in ``keep`` removes what the previous holder
    of the account may have added. Returns what went, as items (the mail words them in
    the customer's language)."""
    removed: list[Item] = []
    for w in ways():
        if w.kind in keep:
            continue
        before = w.items(customer)
        if w.on_recovery(customer):
            removed.extend(before)
    return removed


def recover(customer: Customer, *, keep: tuple[Kind, ...] = ()) -> list[str]:
    """:func:`recover_items`, as short French labels (logs, the CLI)."""
    return [item.label for item in recover_items(customer, keep=keep)]
