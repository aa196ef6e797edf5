"""Known devices: "Nouvelle connexion à votre espace client".

A browser carries a long-lived random cookie per realm (the web layer sets it); the idp
stores only its SHA-256 per customer. A sign-in from a cookie this customer has not used
before is a new device: the customer gets a mail (when, browser and system, address) with
a "Ce n'était pas moi" link, at most once a day per device, never for the very first
sign-in of the account (the première connexion: there is nothing to compare with).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import delete, exists, func, update

from . import audit, journey, logout, mails
from .db import db
from .models import Customer, KnownDevice, OutboxMail, utcnow
from .realms import RealmInfo
from .settings import AppSettings

#: How long the "Ce n'était pas moi" link of a mail works.
NOT_ME_LIFETIME = 7 * 24 * 3600
MAIL_INTERVAL = timedelta(days=1)
#: Browsers remembered per customer: the least recently seen beyond are forgotten (one of
#: them signing in again is a new device, mailed about as such).
MAX_DEVICES = 50
_COOKIE = re.compile(r"^[A-Za-z0-9_-]{32,64}$")

# (pattern, label), first match wins: Edge and Opera also say "Chrome", Chrome says "Safari".
_BROWSERS = ((r"Edg(e|A|iOS)?/", "Edge"), (r"OPR/|Opera", "Opera"),
             (r"Firefox/|FxiOS/", "Firefox"), (r"SamsungBrowser/", "Samsung Internet"),
             (r"Chrome/|CriOS/|Chromium/", "Chrome"), (r"Safari/", "Safari"))
_SYSTEMS = ((r"iPhone|iPad|iPod", "iOS"), (r"Android", "Android"),
            (r"Windows", "Windows"), (r"Mac OS X|Macintosh", "macOS"),
            (r"CrOS", "ChromeOS"), (r"Linux", "Linux"))


def describe(user_agent: str | None) -> str:
    """"Firefox, Windows": what a customer recognises of a browser (never the raw string)."""
    ua = user_agent or ""
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, ua)), "")
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, ua)), "")
    return ", ".join(p for p in (browser, system) if p) or "?"


def new_cookie() -> str:
    return secrets.token_urlsafe(32)


def valid_cookie(raw: str | None) -> bool:
    return bool(raw and _COOKIE.match(raw))


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass(frozen=True)
class Seen:
    """The outcome of a sign-in for the device list: the cookie the browser keeps, and
    the new-device mail queued (None: known device, first sign-in, or mailed today)."""

    cookie: str
    mail: OutboxMail | None


def signed_in(cfg: AppSettings, realm: RealmInfo, customer: Customer, cookie: str | None,
              user_agent: str | None, ip: str | None, *, first_sign_in: bool,
              locale: str | None = None, now: datetime | None = None) -> Seen:
    """Record a completed sign-in from the browser holding ``cookie``; the caller
    commits and (re)sets the cookie.

    Constant cost whatever the number of browsers the customer ever used: a known
    browser is one ``UPDATE`` of its own row; a new one is one read (a count stopped at
    :data:`MAX_DEVICES`, one ``EXISTS``), one ``INSERT``, and at the cap one ``DELETE`` of
    the least recently seen (cookie-less sign-ins would otherwise grow the list, and every
    read of it, without end).
    """
    now = now or utcnow()
    if cookie is not None and valid_cookie(cookie):
        seen = db.session.execute(
            update(KnownDevice).where(KnownDevice.customer_id == customer.id,
                                      KnownDevice.device_hash == digest(cookie))
            .values(last_seen=now).execution_options(synchronize_session=False)
        ).rowcount
        if seen:
            return Seen(cookie, None)
        raw = cookie  # a valid cookie this customer never used: a new device for them
    else:
        raw = new_cookie()
    label = describe(user_agent)[:120]
    mine = KnownDevice.customer_id == customer.id
    # How many browsers (counted up to the cap only) and whether this kind was mailed today.
    capped = db.select(KnownDevice.id).where(mine).limit(MAX_DEVICES).subquery()
    count, mailed_today = db.session.execute(db.select(
        db.select(func.count()).select_from(capped).scalar_subquery(),
        exists().where(mine, KnownDevice.label == label,
                       KnownDevice.last_mail_at > now - MAIL_INTERVAL))).one()
    any_known = count > 0
    mail_at = None
    # A browser whose cookie was cleared is new again: one mail a day per browser kind.
    notify = not (first_sign_in or not any_known or mailed_today)
    if notify and realm.settings.new_device_mail and customer.email and customer.email_verified:
        mail_at = now
    if count >= MAX_DEVICES:
        _prune(customer.id)
    db.session.add(KnownDevice(realm_id=customer.realm_id, customer_id=customer.id,
                               device_hash=digest(raw), label=label, first_seen=now,
                               last_seen=now, last_mail_at=mail_at))
    if not notify:
        return Seen(raw, None)
    audit.record("new_device_signed_in", realm_id=customer.realm_id, customer_id=customer.id,
                 device=label)
    if mail_at is None:
        return Seen(raw, None)
    mail = mails.notify(realm, customer, customer.email, "new_device", locale,
                        when=now.strftime("%d/%m/%Y %H:%M"), device=label, ip=ip or "?",
                        link=not_me_link(cfg, realm, customer))
    return Seen(raw, mail)


def _prune(customer_id: int) -> None:
    """Make room for one more browser: keep the customer's ``MAX_DEVICES - 1`` most
    recently seen (one statement, sorting at most :data:`MAX_DEVICES` rows)."""
    keep = (db.select(KnownDevice.id).where(KnownDevice.customer_id == customer_id)
            .order_by(KnownDevice.last_seen.desc(), KnownDevice.id.desc())
            .limit(MAX_DEVICES - 1).scalar_subquery())
    db.session.execute(delete(KnownDevice).where(KnownDevice.customer_id == customer_id,
                                                 KnownDevice.id.not_in(keep))
                       .execution_options(synchronize_session=False))


# --- "Ce n'était pas moi" ------------------------------------------------------------------

def _serializer(cfg: AppSettings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(cfg.secret_key, salt="idp-not-me")


def not_me_token(cfg: AppSettings, customer: Customer) -> str:
    return str(_serializer(cfg).dumps({"sub": customer.sub}))


def not_me_link(cfg: AppSettings, realm: RealmInfo, customer: Customer) -> str:
    return f"{cfg.issuer(realm.slug)}/not-me/{not_me_token(cfg, customer)}"


def customer_of_token(cfg: AppSettings, realm: RealmInfo, token: str) -> Customer | None:
    """The customer a (live, untampered) "Ce n'était pas moi" link names, in this realm."""
    try:
        data = _serializer(cfg).loads(token, max_age=NOT_ME_LIFETIME)
    except BadSignature:
        return None
    sub = data.get("sub") if isinstance(data, dict) else None
    if not isinstance(sub, str):
        return None
    row = db.session.execute(db.select(Customer).filter_by(sub=sub, realm_id=realm.id)
                             ).scalar_one_or_none()
    return row if row is not None and row.deleted_at is None else None


def not_me(cfg: AppSettings, realm: RealmInfo, customer: Customer, issuer: str,
           locale: str | None = None, where: str = "mail") -> list[OutboxMail]:
    """Someone else signed in: end every session and sign-in in progress, revoke every
    token, and start the forgotten-password path (a reset link to the verified address).
    Commits (the sessions end at once); returns the mails queued."""
    audit.record("not_me_reported", realm_id=customer.realm_id, customer_id=customer.id,
                 where=where)
    logout.end_all_sessions(customer.id, "not_me", issuer)
    queued = journey.request_reset(cfg, realm, customer.identifier, locale)
    db.session.commit()
    return queued
