"""Credentials: argon2id hashing, legacy verifiers, temporary codes, lockout.

Every sign-in attempt costs one argon2 verification whether or not the account exists,
is locked or pending, so neither the answer nor its timing tells them apart.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import bcrypt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app

from . import audit
from .core.models import Customer, Realm, utcnow
from .extensions import db

_hashers: dict[tuple[int, int, int], PasswordHasher] = {}


def hasher() -> PasswordHasher:
    """argon2id with the configured cost (default above OWASP's 19 MiB, t=2 minimum)."""
    cfg = current_app.config
    params = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    if params not in _hashers:
        _hashers[params] = PasswordHasher(
            time_cost=params[0], memory_cost=params[1], parallelism=params[2]
        )
    return _hashers[params]


def hash_password(password: str) -> str:
    return hasher().hash(password)


def _argon2_ok(stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return hasher().verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_dummy: dict[tuple[int, int, int], str] = {}


def burn_time(password: str) -> None:
    """Spend one argon2 verification, as a real check would (unknown or locked accounts)."""
    cfg = current_app.config
    key = (cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_COST"], cfg["ARGON2_PARALLELISM"])
    if key not in _dummy:
        _dummy[key] = hash_password(secrets.token_urlsafe(16))
    _argon2_ok(_dummy[key], password)


def legacy_format(stored: str) -> str | None:
    """Which legacy hash format ``stored`` is: ``bcrypt``, ``django`` or None."""
    if stored.startswith(("$2a$", "$2b$", "$2y$")) and len(stored) == 60:
        return "bcrypt"
    parts = stored.split("$")
    if len(parts) == 4 and parts[0] == "pbkdf2_sha256" and parts[1].isdigit():
        return "django"
    return None


def verify_legacy(stored: str, password: str) -> bool:
    kind = legacy_format(stored)
    if kind == "bcrypt":
        normalised = "$2b$" + stored[4:]
        try:
            return bcrypt.checkpw(password.encode()[:72], normalised.encode())
        except ValueError:
            return False
    if kind == "django":
        _algo, iterations, salt, expected = stored.split("$")
        derived = hashlib.pbkdf2_hmac("sha256", password.encode(), salt.encode(), int(iterations))
        return hmac.compare_digest(base64.b64encode(derived).decode(), expected)
    return False


def new_temporary_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


TEMP_PREFIX = "hmac-sha256"


def temporary_key() -> bytes:
    """The server-side key (pepper) of temporary codes: ``TEMPORARY_CODE_KEY``, else derived
    from ``SECRET_KEY``. It is not in the database, so a dump alone reveals no code."""
    cfg = current_app.config
    key = cfg.get("TEMPORARY_CODE_KEY") or cfg["SECRET_KEY"]
    return hmac.new(str(key).encode(), b"idp-temporary-code", hashlib.sha256).digest()


def hash_temporary_code(code: str, key: bytes | None = None) -> str:
    """A keyed hash of a 6-digit code: ``hmac-sha256$<key id>$<salt>$<digest>``.

    Why not argon2: 10**6 codes are exhausted offline whatever the cost (28 h per account at
    production argon2), so the cost would only slow down the import of 50,000 letters
    (hours); what protects a code is the pepper (offline) and the permanent lockout after
    N failures (online). Chosen passwords are always argon2id.
    """
    key = key or temporary_key()
    salt = secrets.token_hex(8)
    digest = hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()
    return f"{TEMP_PREFIX}${hashlib.sha256(key).hexdigest()[:8]}${salt}${digest}"


def verify_temporary_code(stored: str, code: str, key: bytes | None = None) -> bool:
    """Check a code against either format (keyed hash, or argon2 from ``customers create``)."""
    if not stored.startswith(TEMP_PREFIX + "$"):
        return _argon2_ok(stored, code)
    parts = stored.split("$")
    if len(parts) != 4:
        return False
    key = key or temporary_key()
    digest = hmac.new(key, f"{parts[2]}:{code}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest, parts[3])


@dataclass
class Attempt:
    """The outcome of a password check. ``customer`` is set only on success."""

    customer: Customer | None
    used_temporary: bool = False
    used_legacy: bool = False


def find_customers(realm: Realm, login: str) -> list[Customer]:
    """Customers matching an identifier, or a verified email (one email, several accounts)."""
    login = login.strip()
    if not login:
        return []
    by_id = db.session.execute(
        db.select(Customer).filter_by(realm_id=realm.id, identifier=login)
    ).scalar_one_or_none()
    if by_id is not None:
        return [by_id]
    if "@" not in login:
        return []
    return list(
        db.session.execute(
            db.select(Customer).filter_by(
                realm_id=realm.id, email_normalized=login.lower(), email_verified=True
            )
        ).scalars()
    )


def is_locked(customer: Customer) -> bool:
    if customer.locked_permanently or not customer.enabled:
        return True
    return customer.locked_until is not None and customer.locked_until > utcnow()


def check_password(customer: Customer, password: str) -> Attempt:
    """Verify any of the customer's credentials; always costs about one argon2 check."""
    if customer.password_hash:
        if _argon2_ok(customer.password_hash, password):
            return Attempt(customer)
    elif customer.legacy_hash:
        # bcrypt/PBKDF2 cost about as much as argon2 already; adding argon2 on top
        # would mark the not-yet-migrated accounts by timing.
        if verify_legacy(customer.legacy_hash, password):
            return Attempt(customer, used_legacy=True)
    elif customer.temporary_code_hash:
        keyed = customer.temporary_code_hash.startswith(TEMP_PREFIX + "$")
        if keyed:
            burn_time(password)  # same cost as an argon2 check: timing tells nothing
        if verify_temporary_code(customer.temporary_code_hash, password):
            return Attempt(customer, used_temporary=True)
    else:
        burn_time(password)
    return Attempt(None)


def authenticate(realm: Realm, login: str, password: str, settings: dict[str, Any]) -> Attempt:
    """Check ``login`` + ``password`` with lockout; the caller commits."""
    candidates = find_customers(realm, login)
    if not candidates:
        burn_time(password)
        audit.record("login_failed", realm_id=realm.id, reason="unknown")
        return Attempt(None)
    for customer in candidates:
        if is_locked(customer):
            burn_time(password)
            audit.record("login_failed", realm_id=realm.id, customer_id=customer.id,
                         reason="locked")
            continue
        attempt = check_password(customer, password)
        if attempt.customer is not None:
            succeed(customer, password, attempt)
            return attempt
        fail(customer, settings)
    return Attempt(None)


def unlock(customer: Customer) -> None:
    """Lift every lock (agency action, ``idp customers unlock``); the caller audits."""
    customer.failed_attempts = 0
    customer.temporary_failures = 0
    customer.locked_until = None
    customer.locked_permanently = False


def set_password(customer: Customer, password: str) -> None:
    """A chosen password replaces every other credential (temporary code, legacy hash)."""
    customer.password_hash = hash_password(password)
    customer.legacy_hash = None
    customer.temporary_code_hash = None
    customer.temporary_failures = 0


def set_temporary_code(customer: Customer, code: str) -> None:
    """A new temporary code (agency letter): the customer owes a new password again."""
    customer.password_hash = None
    customer.legacy_hash = None
    customer.temporary_code_hash = hash_temporary_code(code)
    unlock(customer)


def succeed(customer: Customer, password: str, attempt: Attempt) -> None:
    customer.failed_attempts = 0
    customer.locked_until = None
    if attempt.used_legacy:
        # Verified once: re-hash to argon2id and forget the legacy hash.
        customer.password_hash = hash_password(password)
        customer.legacy_hash = None
        audit.record("legacy_password_rehashed", realm_id=customer.realm_id,
                     customer_id=customer.id)


def fail(customer: Customer, settings: dict[str, Any]) -> None:
    """Count a failure: growing waits after ``failure_factor`` failures (Keycloak's model);
    a temporary code locks for good after ``temporary_code_max_failures`` failures."""
    policy = settings["brute_force"]
    now = utcnow()
    if customer.last_failure_at and now - customer.last_failure_at > timedelta(
        seconds=policy["failure_reset_seconds"]
    ):
        customer.failed_attempts = 0
    customer.failed_attempts += 1
    customer.last_failure_at = now
    if customer.temporary_code_hash and not customer.password_hash:
        customer.temporary_failures += 1
        if customer.temporary_failures >= policy["temporary_code_max_failures"]:
            customer.locked_permanently = True
            audit.record("account_locked", realm_id=customer.realm_id, customer_id=customer.id,
                         permanent=True)
    excess = customer.failed_attempts - policy["failure_factor"]
    if excess >= 0:
        wait = min(policy["wait_increment_seconds"] * (2**excess), policy["max_wait_seconds"])
        customer.locked_until = now + timedelta(seconds=wait)
        audit.record("account_locked", realm_id=customer.realm_id, customer_id=customer.id,
                     seconds=wait)
    audit.record("login_failed", realm_id=customer.realm_id, customer_id=customer.id,
                 reason="bad_password")
