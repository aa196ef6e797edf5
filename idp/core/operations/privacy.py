"""Staff operations of the privacy features: a customer's data export (a request by
letter), the pending deletion requests and their refusal."""

from __future__ import annotations

from typing import Any

from .. import audit, deletion, privacy
from ..models import Customer, OutboxMail
from ..realms import RealmInfo
from ..staff import Action, Principal, require
from .base import AdminError, acting
from .customers import customer


def export_customer(principal: Principal, realm: RealmInfo, identifier: str
                    ) -> dict[str, Any]:
    """The customer's Mes données document, as they would download it (audited)."""
    with acting(principal):
        c = customer(principal, realm, identifier)
        audit.record("data_exported", realm_id=realm.id, customer_id=c.id, by="staff")
        return privacy.export(realm, c)


def pending_deletions(principal: Principal, realm: RealmInfo) -> list[Customer]:
    require(principal, realm.slug, Action.CUSTOMERS_READ)
    return deletion.pending_in(realm)


def refuse_deletion(principal: Principal, realm: RealmInfo, identifier: str, reason: str,
                    locale: str | None = None) -> OutboxMail | None:
    """Keep the account (a live lease...): the reason is shown to the customer."""
    with acting(principal):
        c = customer(principal, realm, identifier, write=True)
        try:
            return deletion.refuse(realm, c, reason, locale)
        except deletion.DeletionError as exc:
            raise AdminError(exc.code, str(exc)) from None
