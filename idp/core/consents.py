"""Consent: what a customer allowed a third-party app to read, remembered per client.

First-party clients (the agency's own apps) never ask: the agency is the data holder.
A third-party client asks once per scope set; asking for more asks again, ``prompt=consent``
asks again regardless. Withdrawing a consent (Mon compte, or the customer's request to
the agency) also revokes every token the app holds for the customer, so the app loses
access at its next refresh rather than keeping it until the refresh token expires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from . import audit
from .clients import ClientInfo, snapshot
from .db import db
from .logout import revoke_where
from .models import Client, Consent, Token, utcnow

#: Scopes that need no consent of their own: ``openid`` only says "sign me in".
SILENT_SCOPES = frozenset({"openid"})


def needs_consent(client: ClientInfo, customer_id: int, scope: str, *,
                  ask_again: bool = False) -> bool:
    """Whether the customer must be asked before ``client`` gets ``scope``."""
    if client.get("first_party"):
        return False
    if ask_again:
        return True
    row = db.session.get(Consent, (customer_id, client.pk))
    wanted = set(scope.split())
    return row is None or not wanted <= set(row.scope.split())


def grant(customer_id: int, client: ClientInfo, scope: str) -> Consent:
    """Remember the customer's yes; scopes add up over successive consents. The caller
    commits (with the code it issues)."""
    row = db.session.get(Consent, (customer_id, client.pk))
    if row is None:
        row = Consent(customer_id=customer_id, client_pk=client.pk, scope="")
        db.session.add(row)
    row.scope = " ".join(sorted(set(row.scope.split()) | set(scope.split())))
    row.granted_at = utcnow()
    audit.record("consent_granted", realm_id=client.realm_id, customer_id=customer_id,
                 client_id=client.client_id, scope=row.scope)
    return row


@dataclass(frozen=True)
class ConsentView:
    """One remembered consent, as Mon compte and the admin API show it."""

    client_id: str
    client_name: str
    logo_uri: str | None
    client_uri: str | None
    scopes: tuple[str, ...]
    granted_at: datetime


def list_for(customer_id: int) -> list[ConsentView]:
    """The customer's consents, most recent first."""
    rows = db.session.execute(
        db.select(Consent, Client).join(Client, Client.id == Consent.client_pk)
        .where(Consent.customer_id == customer_id)
        .order_by(Consent.granted_at.desc(), Client.client_id)
    ).all()
    views = []
    for consent, client_row in rows:
        info = snapshot(client_row)
        views.append(ConsentView(
            client_id=info.client_id,
            client_name=info.get("client_name") or info.client_id,
            logo_uri=info.get("logo_uri"), client_uri=info.get("client_uri"),
            scopes=tuple(s for s in consent.scope.split() if s not in SILENT_SCOPES),
            granted_at=consent.granted_at))
    return views


def revoke(realm_id: int, customer_id: int, client_id: str, *, by: str = "customer") -> bool:
    """Withdraw the consent and revoke the app's tokens for the customer; ``False`` when
    there was no such consent. The caller commits."""
    client_row = db.session.execute(
        db.select(Client).filter_by(realm_id=realm_id, client_id=client_id)
    ).scalar_one_or_none()
    if client_row is None:
        return False
    row = db.session.get(Consent, (customer_id, client_row.id))
    if row is None:
        return False
    db.session.delete(row)
    revoked = revoke_where(Token.customer_id == customer_id, Token.client_pk == client_row.id)
    audit.record("consent_revoked", realm_id=realm_id, customer_id=customer_id,
                 client_id=client_id, revoked_tokens=revoked, by=by)
    return True
