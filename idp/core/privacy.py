"""Mes données (right of access and portability): everything the idp holds about a
customer, as one JSON document (schema: ``docs/privacy.md``, version :data:`VERSION`).

The same document feeds the JSON download, the readable HTML page in Mon compte, the
console and the admin API (:mod:`idp.core.operations.privacy`): one export, whoever asks.
No secret is ever in it (hashes, codes and keys are named, never shown).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from . import (
    activity,
    consents,
    deletion,
    devices,
    email_code,
    linking,
    links,
    sessions,
    totp,
)
from .db import db
from .models import AuditEvent, Customer, KnownDevice, utcnow
from .passkeys import list_passkeys
from .realms import RealmInfo

VERSION = 1
FORMAT = "espace-client/mes-donnees"


def _iso(moment: datetime | None) -> str | None:
    return moment.replace(microsecond=0).isoformat() + "Z" if moment else None


def _last(customer: Customer, *events: str) -> datetime | None:
    return db.session.execute(
        db.select(AuditEvent.created_at)
        .where(AuditEvent.customer_id == customer.id, AuditEvent.event.in_(events))
        .order_by(AuditEvent.id.desc()).limit(1)).scalar_one_or_none()


def export(realm: RealmInfo, customer: Customer, now: datetime | None = None
           ) -> dict[str, Any]:
    """The whole document (plain JSON types)."""
    now = now or utcnow()
    verified_at = None
    if customer.email and customer.email_verified:
        verified_at = (_last(customer, "email_verified", "email_changed")
                       or customer.activated_at or customer.created_at)
    emails = []
    if customer.email:
        emails.append({"address": customer.email, "verified": bool(customer.email_verified),
                       "verified_at": _iso(verified_at), "use": "current"})
    pending = links.pending_change(customer)
    if pending:
        emails.append({"address": pending, "verified": False, "verified_at": None,
                       "use": "pending_change"})
    password_changed = (_last(customer, "password_changed", "password_reset")
                        or (customer.activated_at if customer.password_hash else None))
    otp = totp.credential(customer.id)
    live = sessions.live_sessions(customer, realm.settings)
    known = db.session.execute(db.select(KnownDevice).filter_by(customer_id=customer.id)
                                 .order_by(KnownDevice.first_seen)).scalars()
    return {
        "format": FORMAT,
        "version": VERSION,
        "generated_at": _iso(now),
        "realm": {"slug": realm.slug, "display_name": realm.display_name},
        "account": {
            "identifier": customer.identifier,
            "subject": customer.sub,
            "given_name": customer.given_name,
            "family_name": customer.family_name,
            "phone_number": customer.phone_number,
            "locale": customer.locale,
            "created_at": _iso(customer.created_at),
            "activated_at": _iso(customer.activated_at),
            "enabled": bool(customer.enabled),
            "required_actions": list(customer.required_actions or []),
        },
        "emails": emails,
        "ways_in": {
            "password": {"set": bool(customer.password_hash or customer.legacy_hash),
                         "last_changed_at": _iso(password_changed)},
            "temporary_code": {"pending": bool(customer.temporary_code_hash)},
            "email_code": {"available": email_code.configured_for(customer)},
            "passkeys": [{"name": p.name, "created_at": _iso(p.created_at),
                          "last_used_at": _iso(p.last_used_at)}
                         for p in list_passkeys(customer)],
            "social_accounts": [{"provider": f.provider, "email": f.email,
                                 "linked_at": _iso(f.created_at)}
                                for f in linking.identities_of(customer)],
            "totp": ({"enrolled_at": _iso(otp.confirmed_at or otp.created_at),
                      "last_used_at": _iso(otp.last_used_at)} if otp else None),
        },
        "sessions": [{"started_at": _iso(s.created_at), "last_seen_at": _iso(s.last_seen),
                      "method": activity.method_of(s.amr, s.idp),
                      "device": devices.describe(s.user_agent), "ip": s.ip}
                     for s in live],
        "devices": [{"device": d.label, "first_seen_at": _iso(d.first_seen),
                     "last_seen_at": _iso(d.last_seen)} for d in known],
        "consents": [{"client_id": v.client_id, "client_name": v.client_name,
                      "scopes": list(v.scopes), "granted_at": _iso(v.granted_at)}
                     for v in consents.list_for(customer.id)],
        "deletion": {
            "requested_at": _iso(customer.deletion_requested_at),
            "erase_on": _iso(deletion.erase_on(customer, realm.settings)),
            "refused_at": _iso(customer.deletion_refused_at),
            "refused_reason": customer.deletion_refused_reason,
        },
        "sign_ins": [{"at": _iso(e.at), "method": e.method, "device": e.device,
                      "ip": e.ip or None} for e in activity.sign_ins(customer)],
    }
