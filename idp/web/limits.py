"""Rate limits of the credential forms, shared by every instance (Flask-Limiter's storage:
memory in development, Redis in production).

Two budgets per client address (an IPv6 address counts by its /64, as one subscriber):

* requests to any credential form (``LOGIN_RATE_LIMIT``): a cap on hammering;
* *failed* credential attempts (``FAILURE_RATE_LIMIT``, 10 a minute and 50 an hour by
  default): what bounds online guessing of passwords and 6-digit codes, whichever
  customers the guesses are spread over.

A realm-wide spray detector counts failures across all addresses; past a threshold it
records an audit event (once a minute) and halves the per-address failure budget.
"""

from __future__ import annotations

import ipaddress
import logging

from flask import current_app, g
from limits import parse_many

from ..core import audit
from ..extensions import db, limiter
from .context import app_settings, client_ip

log = logging.getLogger(__name__)
SPRAY_THRESHOLD = "200/minute"


def _spray_threshold() -> str:
    """Realm-wide failures before the detector fires (``SPRAY_RATE_LIMIT``)."""
    return app_settings().spray_rate_limit or SPRAY_THRESHOLD


def address_key(ip: str | None = None) -> str:
    """The limit key of a client address: IPv4 as is, IPv6 by its /64."""
    ip = ip or client_ip()
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if addr.version == 6:
        return str(ipaddress.ip_network(f"{addr}/64", strict=False))
    return str(addr)


# One per-address request budget shared by every credential form.
credential_limit = limiter.shared_limit(lambda: app_settings().login_rate_limit,
                                        scope="credential-forms", methods=["POST"],
                                        key_func=address_key)


def _ns(name: str) -> str:
    """A storage namespace under the app's ``RATELIMIT_KEY_PREFIX`` (Flask-Limiter adds it
    to its own limits only): deployments sharing one Redis keep their counters apart."""
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or ""
    return f"{prefix}:{name}" if prefix else name


def _enabled() -> bool:
    return bool(current_app.config.get("RATELIMIT_ENABLED", True))


def _items() -> list:
    return list(parse_many(app_settings().failure_rate_limit))


def _strategy():  # the storage-backed limiter (Redis or memory) behind Flask-Limiter
    return limiter.limiter


def failures_exhausted() -> bool:
    """Has this address used up its budget of failed attempts? (checked before a check)"""
    if not _enabled():
        return False
    key = address_key()
    spraying = _spraying()
    try:
        for item in _items():
            # The counters are those count_failure hits (a halved item would be another
            # storage key, always empty): while a spray runs, half the budget is the cap.
            allowed = max(1, item.amount // 2) if spraying else item.amount
            stats = _strategy().get_window_stats(item, _ns("failures"), key)
            if item.amount - stats.remaining >= allowed:
                return True
        return False
    except Exception:  # storage down: per-process fallback is Flask-Limiter's job
        log.warning("failure budget storage unavailable")
        return False


def count_failure(realm_id: int) -> None:
    """A credential attempt from this address failed: spend budget, feed the detector."""
    if not _enabled():
        return
    key = address_key()
    try:
        for item in _items():
            _strategy().hit(item, _ns("failures"), key)
        spray = next(iter(parse_many(_spray_threshold())))
        if not _strategy().hit(spray, _ns("spray"), str(realm_id)):
            once = next(iter(parse_many("1/minute")))
            if _strategy().hit(once, _ns("spray-audit"), str(realm_id)):
                audit.record("password_spray_suspected", realm_id=realm_id,
                             threshold=_spray_threshold())
                db.session.commit()  # the failed attempt's view commits nothing after this
            g.spraying = True
    except Exception:
        log.warning("failure budget storage unavailable")


def _spraying() -> bool:
    if "realm" not in g:
        return False
    try:
        spray = next(iter(parse_many(_spray_threshold())))
        return not _strategy().test(spray, _ns("spray"), str(g.realm.id))
    except Exception:
        return False
