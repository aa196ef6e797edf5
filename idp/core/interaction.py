"""The sign-in state (oidc-provider's "Interaction"): one typed object, kept server-side.

Created by the authorization endpoint (or by the sign-in page when there is no client),
advanced by each step (password, social, required actions), completed once. The browser
holds only its random id; the row lives ``interaction_lifetime`` seconds (15 minutes by
default) and is bound to the customer's credential version, so a reset, a new temporary
code, a lock or a disable ends it everywhere.
"""

from __future__ import annotations

import dataclasses
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, update

from .credentials import is_locked
from .db import db
from .models import Customer, utcnow
from .models import Interaction as InteractionRow


@dataclass
class Interaction:
    """Everything a sign-in in progress knows. Saved with :func:`save` after each step."""

    id: str
    realm_id: int
    #: The client's authorization request to resume (None: sign-in to Mon compte).
    request: dict[str, str] | None = None
    #: Authenticated but still owing steps (required actions).
    customer_id: int | None = None
    credential_version: int | None = None
    amr: list[str] = field(default_factory=list)
    #: The SSO session's ``acr`` once completed: "2" after a passkey, None (= "1") else.
    acr: str | None = None
    idp: str | None = None
    used_temporary: bool = False
    #: The locale asked by ``ui_locales`` (every screen and mail of the flow follows it).
    locale: str | None = None
    login_hint: str | None = None
    #: A social identity to link once the customer proved the identifier.
    link: dict[str, Any] | None = None
    #: Where the verification mail went, and whether the last send failed.
    verify_sent_to: str | None = None
    mail_failed: bool = False
    #: A WebAuthn challenge in flight (single use).
    passkey_challenge: dict[str, Any] | None = None
    #: Set by :func:`complete`: the SSO session this sign-in started.
    sid: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data.pop("id")
        data.pop("realm_id")
        return data

    @property
    def completed(self) -> bool:
        return self.sid is not None


_FIELDS = {f.name for f in dataclasses.fields(Interaction)}


def _from_row(row: InteractionRow) -> Interaction:
    data = {k: v for k, v in (row.data or {}).items() if k in _FIELDS}
    return Interaction(id=row.id, realm_id=row.realm_id, **data)


def start(realm_id: int, lifetime: int, request: dict[str, str] | None = None,
          locale: str | None = None, login_hint: str | None = None) -> Interaction:
    """A new sign-in state; the caller commits and puts ``id`` in the browser's cookie."""
    ix = Interaction(id=secrets.token_urlsafe(32), realm_id=realm_id, request=request,
                     locale=locale, login_hint=login_hint)
    now = utcnow()
    row = InteractionRow(id=ix.id, realm_id=realm_id, data=ix.as_dict(), created_at=now,
                         expires_at=now + timedelta(seconds=lifetime))
    db.session.add(row)
    return _holding(ix, row)


def load(interaction_id: str | None, realm_id: int) -> Interaction | None:
    """The live (not expired, not completed) sign-in state ``interaction_id`` of the realm."""
    if not interaction_id or len(interaction_id) > 64:
        return None
    row = db.session.get(InteractionRow, interaction_id)
    if (row is None or row.realm_id != realm_id or row.completed_at is not None
            or row.expires_at <= utcnow()):
        return None
    return _holding(_from_row(row), row)


def _holding(ix: Interaction, row: InteractionRow) -> Interaction:
    """The state keeps its row for :func:`save` (not a field: never serialised). Why: the
    session holds a written row only weakly, so a state started and advanced in the same
    request (a sign-in owing nothing) would otherwise be read back to be saved."""
    ix.__dict__["_row"] = row
    return ix


def save(ix: Interaction) -> None:
    """Write the state back (the caller commits)."""
    row = ix.__dict__.get("_row") or db.session.get(InteractionRow, ix.id)
    if row is not None:
        row.data = ix.as_dict()
        row.customer_id = ix.customer_id


def authenticated(ix: Interaction, customer: Customer, amr: list[str], idp: str | None = None,
                  used_temporary: bool = False, acr: str | None = None) -> None:
    """A credential was proven: bind the state to this customer and credential version.

    ``acr`` is set (not kept) so a password proof after a passkey one drops back to "1".
    """
    ix.customer_id = customer.id
    ix.credential_version = customer.credential_version or 0
    ix.amr = list(amr)
    ix.acr = acr
    ix.idp = idp
    ix.used_temporary = used_temporary
    save(ix)


def pending_customer(ix: Interaction) -> Customer | None:
    """The customer this state authenticated, re-checked at every step: same realm,
    enabled, not locked, and no credential change since the proof."""
    if ix.customer_id is None:
        return None
    customer = db.session.get(Customer, ix.customer_id)
    if (customer is None or customer.realm_id != ix.realm_id or is_locked(customer)
            or (customer.credential_version or 0) != ix.credential_version):
        return None
    return customer


def complete(ix: Interaction, sid: str) -> bool:
    """Mark the state completed, once: ``False`` if another request completed it first."""
    ix.sid = sid
    done = db.session.execute(
        update(InteractionRow)
        .where(InteractionRow.id == ix.id, InteractionRow.completed_at.is_(None))
        .values(completed_at=utcnow(), data=ix.as_dict())
        .execution_options(synchronize_session=False)
    ).rowcount
    return done == 1


def resume(interaction_id: str | None, realm_id: int) -> Interaction | None:
    """The completed state, consumed: the authorization endpoint resumes the client's
    request from it exactly once (no second code from a replayed redirect)."""
    if not interaction_id or len(interaction_id) > 64:
        return None
    row = db.session.get(InteractionRow, interaction_id)
    if row is None or row.realm_id != realm_id or row.completed_at is None:
        return None
    ix = _from_row(row)
    gone = db.session.execute(
        delete(InteractionRow).where(InteractionRow.id == interaction_id)
        .execution_options(synchronize_session=False)
    ).rowcount
    return ix if gone == 1 else None


def discard(interaction_id: str | None) -> None:
    if interaction_id:
        db.session.execute(delete(InteractionRow).where(InteractionRow.id == interaction_id)
                           .execution_options(synchronize_session=False))


def end_for_customer(customer_id: int) -> int:
    """End every sign-in in progress of a customer (password reset, lock, disable)."""
    return db.session.execute(
        delete(InteractionRow).where(InteractionRow.customer_id == customer_id)
        .execution_options(synchronize_session=False)
    ).rowcount


def purge_expired() -> int:
    return db.session.execute(
        delete(InteractionRow).where(InteractionRow.expires_at <= utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
