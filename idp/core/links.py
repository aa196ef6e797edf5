"""Action links (verify email, reset password, change email) and the mails that carry them.

An action token is single use, bound to one customer and to the address it was mailed
to, lives ``action_token_lifetime`` seconds (realm setting, 300 by default), and is
superseded by the next one of the same kind. Only its SHA-256 is stored: the link itself
is the secret, so a database dump opens nothing.
"""

from __future__ import annotations

import hashlib
import logging
import math
import secrets
import smtplib
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, render_template, url_for
from flask_babel import force_locale, get_locale
from flask_babel import gettext as _
from flask_mail import Message

from .core.models import ActionToken, Customer, Realm, utcnow
from .extensions import db, mail
from .realms import settings_of

log = logging.getLogger(__name__)

VERIFY_EMAIL = "verify_email"
RESET_PASSWORD = "reset_password"
CHANGE_EMAIL = "change_email"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(customer: Customer, kind: str, email: str) -> str:
    """A new link secret for ``kind``; every earlier live one of that kind is superseded."""
    now = utcnow()
    live = db.session.execute(
        db.select(ActionToken).filter_by(customer_id=customer.id, kind=kind, used_at=None,
                                         superseded_at=None)
    ).scalars()
    for row in live:
        row.superseded_at = now
    raw = secrets.token_urlsafe(32)
    lifetime = int(settings_of(customer.realm)["action_token_lifetime"])
    db.session.add(ActionToken(id=_digest(raw), customer_id=customer.id, kind=kind,
                               email=email, created_at=now,
                               expires_at=now + timedelta(seconds=lifetime)))
    return raw


@dataclass
class Lookup:
    """What a link is worth: ``status`` is ok, expired, used, superseded or unknown."""

    status: str
    token: ActionToken | None = None
    customer: Customer | None = None


def lookup(raw: str, realm: Realm) -> Lookup:
    row = db.session.get(ActionToken, _digest(raw)) if raw and len(raw) < 100 else None
    if row is None:
        return Lookup("unknown")
    customer = db.session.get(Customer, row.customer_id)
    if customer is None or customer.realm_id != realm.id:
        return Lookup("unknown")
    if row.used_at is not None:
        return Lookup("used", row, customer)
    if row.superseded_at is not None:
        return Lookup("superseded", row, customer)
    if row.expires_at <= utcnow():
        return Lookup("expired", row, customer)
    if row.kind != CHANGE_EMAIL and (customer.email_normalized or "") != row.email.lower():
        # The address changed since the mail left: the link proves nothing any more.
        return Lookup("superseded", row, customer)
    return Lookup("ok", row, customer)


def consume(token: ActionToken) -> None:
    token.used_at = utcnow()


def last_sent(customer: Customer, kind: str) -> datetime | None:
    return db.session.execute(
        db.select(db.func.max(ActionToken.created_at)).filter_by(customer_id=customer.id,
                                                                 kind=kind)
    ).scalar()


def cooldown_left(customer: Customer, kind: str) -> int:
    """Seconds before another mail of ``kind`` may be sent (realm ``resend_cooldown``)."""
    sent = last_sent(customer, kind)
    if sent is None:
        return 0
    wait = int(settings_of(customer.realm)["resend_cooldown"])
    left = (sent + timedelta(seconds=wait) - utcnow()).total_seconds()
    return max(0, math.ceil(left))


def sender_for(realm: Realm) -> str:
    return settings_of(realm).get("mail_sender") or current_app.config["MAIL_DEFAULT_SENDER"]


def action_url(realm: Realm, raw: str) -> str:
    path = url_for("journey.action", realm=realm.slug, token=raw)
    return current_app.config["PUBLIC_URL"].rstrip("/") + path


SUBJECTS = {
    VERIFY_EMAIL: "Mon espace client - Vérification de votre adresse de messagerie",
    CHANGE_EMAIL: "Mon espace client - Vérification de votre adresse de messagerie",
    RESET_PASSWORD: "Mon espace client - Réinitialisation de votre mot de passe",
    "password_changed": "Mon espace client - Votre mot de passe a été modifié",
    "email_changed": "Mon espace client - Votre adresse de messagerie a été modifiée",
}


def send(realm: Realm, to: str, template: str, **context: Any) -> bool:
    """Send one mail (text + HTML). False when the SMTP server cannot take it."""
    context = {"realm": realm, **context}
    locale = str(get_locale() or "fr")
    with force_locale(locale):
        msg = Message(
            subject=_(SUBJECTS[template]),
            sender=sender_for(realm),
            recipients=[to],
            body=render_template(f"mail/{template}.txt", **context),
            html=render_template(f"mail/{template}.html", **context),
        )
    try:
        mail.send(msg)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail %s not sent: %s", template, type(exc).__name__)
        return False
    return True


def send_action(customer: Customer, kind: str, email: str) -> bool:
    """Issue a link and mail it. On failure the link is dropped, so a retry is not held
    back by the cooldown and no live link exists that nobody received."""
    raw = issue(customer, kind, email)
    lifetime = int(settings_of(customer.realm)["action_token_lifetime"])
    minutes = max(1, math.ceil(lifetime / 60))
    ok = send(customer.realm, email, kind, customer=customer, link=action_url(customer.realm, raw),
              minutes=minutes)
    if not ok:
        db.session.execute(db.delete(ActionToken).filter_by(id=_digest(raw)))
    return ok
