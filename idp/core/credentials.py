"""Credentials: argon2id hashing, legacy verifiers, temporary codes, lockout.

Every sign-in attempt costs one argon2 verification (plus one legacy-sized hash while the
realm still has legacy hashes) whether or not the account exists, is locked, pending,
migrated or shares its address with other accounts, so neither the answer nor its timing
tells them apart. A failure is
counted in the database *before* the password is compared (one atomic ``UPDATE``), so
parallel guesses cannot outrun the lockout.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import bcrypt
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import case, update
from sqlalchemy.orm.attributes import set_committed_value

from shared import metrics

from . import audit, cache, ways_in
from .db import commit_keeping_loaded, db
from .models import Customer, utcnow
from .realms import RealmInfo
from .settings import AppSettings, BruteForce

# Legacy PBKDF2 imports are capped: a hostile file must not make one check cost minutes.
MAX_PBKDF2_ITERATIONS = 1_000_000


def hash_password(cfg: AppSettings, password: str) -> str:
    return cfg.hasher.hash(password)


def _argon2_ok(cfg: AppSettings, stored: str | None, password: str) -> bool:
    if not stored:
        return False
    try:
        return cfg.hasher.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


_dummy: dict[tuple[int, int, int], str] = {}
#: bcrypt cost of the "legacy slot" spent by checks that verify no legacy hash (the cost
#: most imported hashes carry): while a realm still holds legacy hashes, every check costs
#: one argon2 *and* one legacy-sized hash, so not-yet-migrated accounts do not stand out.
LEGACY_DUMMY_BCRYPT_COST = 10
_legacy_dummy: dict[int, bytes] = {}


def burn_time(cfg: AppSettings, password: str, legacy_slot: bool = False) -> None:
    """Spend one argon2 verification, as a real check would (unknown or locked accounts),
    plus the legacy slot when the realm still has legacy hashes."""
    key = (cfg.argon2_time_cost, cfg.argon2_memory_cost, cfg.argon2_parallelism)
    if key not in _dummy:
        _dummy[key] = hash_password(cfg, secrets.token_urlsafe(16))
    _argon2_ok(cfg, _dummy[key], password)
    if legacy_slot:
        burn_legacy(password)


def burn_legacy(password: str) -> None:
    """Spend one legacy-sized hash (bcrypt at :data:`LEGACY_DUMMY_BCRYPT_COST`)."""
    cost = LEGACY_DUMMY_BCRYPT_COST
    if cost not in _legacy_dummy:
        _legacy_dummy[cost] = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(cost))
    bcrypt.checkpw(password.encode()[:72], _legacy_dummy[cost])


def legacy_slot(realm_id: int) -> bool:
    """Does the realm still hold legacy hashes? (cached a minute: one query, not one per
    sign-in). Once every account is migrated, checks stop paying the legacy slot."""

    def load() -> bool:
        return db.session.execute(
            db.select(Customer.id).where(Customer.realm_id == realm_id,
                                         Customer.legacy_hash.is_not(None)).limit(1)
        ).first() is not None

    return bool(cache.cached("legacy_present", realm_id, load, ttl=60.0))


def legacy_format(stored: str) -> str | None:
    """Which legacy hash format ``stored`` is: ``bcrypt``, ``django`` or None."""
    if stored.startswith(("$2a$", "$2b$", "$2y$")) and len(stored) == 60:
        return "bcrypt"
    parts = stored.split("$")
    if (len(parts) == 4 and parts[0] == "pbkdf2_sha256" and parts[1].isdigit()
            and 0 < int(parts[1]) <= MAX_PBKDF2_ITERATIONS):
        return "django"
    return None


def verify_legacy(stored: str, password: str) -> bool:
    """Check a legacy hash; an unreadable one still costs a legacy-sized hash."""
    kind = legacy_format(stored)
    if kind is None:
        burn_legacy(password)
        return False
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


def hash_temporary_code(key: bytes, code: str) -> str:
    """The one temporary-code format: ``hmac-sha256$<key id>$<salt>$<digest>``.

    Why not argon2: 10**6 codes are exhausted offline whatever the cost, so the cost would
    only slow down the import of 50,000 letters (hours); what protects a code is the pepper
    ``key`` (offline: it is not in the database) and the permanent lockout (online).
    Chosen passwords are always argon2id.
    """
    salt = secrets.token_hex(8)
    digest = hmac.new(key, f"{salt}:{code}".encode(), hashlib.sha256).hexdigest()
    return f"{TEMP_PREFIX}${hashlib.sha256(key).hexdigest()[:8]}${salt}${digest}"


def verify_temporary_code(key: bytes, stored: str, code: str) -> bool:
    parts = stored.split("$")
    if len(parts) != 4 or parts[0] != TEMP_PREFIX:
        return False
    digest = hmac.new(key, f"{parts[2]}:{code}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(digest, parts[3])


@dataclass
class Attempt:
    """The outcome of a password check. ``customer`` is set only on success."""

    customer: Customer | None
    used_temporary: bool = False
    used_legacy: bool = False


def find_customers(realm: RealmInfo, login: str) -> list[Customer]:
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
    """Refused by the one sign-in check (:func:`ways_in.may_sign_in`), or waiting out a
    lock after wrong passwords."""
    if ways_in.may_sign_in(customer) is not None:
        return True
    return customer.locked_until is not None and customer.locked_until > utcnow()


def check_password(cfg: AppSettings, customer: Customer, password: str,
                   legacy: bool | None = None) -> Attempt:
    """Verify any of the customer's credentials at one fixed cost: one argon2 check, plus
    one legacy-sized hash while the realm still has legacy hashes (``legacy``; looked up
    when ``None``), so neither the kind of credential nor its absence shows in the timing."""
    if legacy is None:
        legacy = legacy_slot(customer.realm_id)
    if customer.password_hash:
        ok = _argon2_ok(cfg, customer.password_hash, password)
        if legacy:
            burn_legacy(password)
        if ok:
            return Attempt(customer)
    elif customer.legacy_hash:
        # The legacy check fills the legacy slot; one argon2 follows, as for everyone.
        ok = verify_legacy(customer.legacy_hash, password)
        burn_time(cfg, password)
        if ok:
            return Attempt(customer, used_legacy=True)
    elif customer.temporary_code_hash:
        burn_time(cfg, password, legacy)  # the keyed hash is cheap: pay a full check
        if verify_temporary_code(cfg.code_key, customer.temporary_code_hash, password):
            return Attempt(customer, used_temporary=True)
    else:
        burn_time(cfg, password, legacy)
    return Attempt(None)


def _reserve(customer: Customer, policy: BruteForce) -> None:
    """Count this attempt as a failure before comparing (one atomic UPDATE); a success
    gives it back. Parallel guesses each see their own count."""
    now = utcnow()
    reset_before = now - timedelta(seconds=policy.failure_reset_seconds)
    temp = customer.temporary_code_hash is not None and customer.password_hash is None
    stmt = (
        update(Customer)
        .where(Customer.id == customer.id)
        .values(
            failed_attempts=case(
                (Customer.last_failure_at < reset_before, 1),
                else_=Customer.failed_attempts + 1),
            temporary_failures=Customer.temporary_failures + (1 if temp else 0),
            last_failure_at=now,
        )
        .returning(*(getattr(Customer, name) for name in _RESERVE_READS))
        .execution_options(synchronize_session=False)
    )
    row = db.session.execute(stmt).one()
    for name, value in zip(_RESERVE_READS, row, strict=True):
        set_committed_value(customer, name, value)
    set_committed_value(customer, "last_failure_at", now)


#: What the check reads of the customer after the reservation: read back by its UPDATE
#: (the row as it stands once locked), so the commit that follows need not expire the
#: customer and reload the whole row (:func:`idp.core.db.commit_keeping_loaded`).
_RESERVE_READS = ("failed_attempts", "temporary_failures", "locked_until",
                  "locked_permanently", "enabled", "deletion_requested_at", "password_hash",
                  "legacy_hash", "temporary_code_hash", "credential_version")


def authenticate(cfg: AppSettings, realm: RealmInfo, login: str, password: str,
                 candidates: list[Customer] | None = None) -> Attempt:
    """Check ``login`` + ``password`` with lockout; commits the attempt's bookkeeping.

    ``candidates``: what :func:`find_customers` answered for ``login`` earlier in the same
    transaction (the sign-in page looks the login up once for the deletion offer)."""
    policy = realm.settings.brute_force
    legacy = legacy_slot(realm.id)
    if candidates is None:
        candidates = find_customers(realm, login)
    if len(candidates) != 1:
        # Unknown, or an address shared by several accounts (owner and tenant): one check
        # whatever the number of accounts, never one per account. A shared address does
        # not sign in; the identifier printed on the notices does.
        burn_time(cfg, password, legacy)
        audit.record("login_failed", realm_id=realm.id,
                     reason="ambiguous_email" if candidates else "unknown")
        db.session.commit()
        metrics.sign_in("failure")
        return Attempt(None)
    customer = candidates[0]
    attempt, outcome = _guarded_check(cfg, customer, password, policy, legacy)
    if outcome != "success":
        audit.record("login_failed", realm_id=realm.id, customer_id=customer.id,
                     reason=outcome)
        db.session.commit()
    else:
        commit_keeping_loaded()  # the sign-in goes on with this customer
    metrics.sign_in("temporary_code" if attempt.used_temporary else
                    {"locked": "locked", "success": "success"}.get(outcome, "failure"))
    return attempt


def _guarded_check(cfg: AppSettings, customer: Customer, password: str, policy: BruteForce,
                   legacy: bool) -> tuple[Attempt, str]:
    """The lockout around one password check, the same for the sign-in form and Mon
    compte: the failure is reserved (and committed) before the compare, a success gives
    it back. Outcome: ``success``, ``locked`` or ``bad_password``; the caller commits."""
    if not is_locked(customer):
        _reserve(customer, policy)
        commit_keeping_loaded()  # the reservation holds even if this worker dies mid-hash
    if is_locked(customer) or _over_budget(customer, policy):
        burn_time(cfg, password, legacy)
        _apply_lock(customer, policy)
        return Attempt(None), "locked"
    attempt = check_password(cfg, customer, password, legacy)
    if attempt.customer is not None:
        succeed(cfg, customer, password, attempt)
        return attempt, "success"
    _apply_lock(customer, policy)
    return attempt, "bad_password"


def verify_current(cfg: AppSettings, customer: Customer, password: str,
                   policy: BruteForce) -> bool:
    """The current password (Mon compte), with the very same lockout as the sign-in form
    (a success resets the count and re-hashes a legacy hash, as a sign-in does)."""
    _attempt, outcome = _guarded_check(cfg, customer, password, policy,
                                       legacy_slot(customer.realm_id))
    return outcome == "success"


def _over_budget(customer: Customer, policy: BruteForce) -> bool:
    temp = customer.temporary_code_hash is not None and customer.password_hash is None
    return temp and customer.temporary_failures > policy.temporary_code_max_failures


def _apply_lock(customer: Customer, policy: BruteForce) -> None:
    """After a counted failure: growing waits past ``failure_factor`` failures; a temporary
    code locked for good once its failures reach the maximum."""
    now = utcnow()
    temp = customer.temporary_code_hash is not None and customer.password_hash is None
    if (temp and customer.temporary_failures >= policy.temporary_code_max_failures
            and not customer.locked_permanently):
        # Compare-and-swap: of simultaneous failures past the maximum, one locks and
        # audits (one event per locked account, so mass-locking reads plainly).
        won = db.session.execute(
            update(Customer).where(Customer.id == customer.id,
                                   Customer.locked_permanently.is_(False))
            .values(locked_permanently=True).execution_options(synchronize_session=False)
        ).rowcount == 1
        set_committed_value(customer, "locked_permanently", True)
        if won:
            audit.record("account_locked", realm_id=customer.realm_id,
                         customer_id=customer.id, permanent=True)
    excess = customer.failed_attempts - policy.failure_factor
    if excess >= 0:
        wait = min(policy.wait_increment_seconds * (2**excess), policy.max_wait_seconds)
        until = now + timedelta(seconds=wait)
        if customer.locked_until is None or customer.locked_until < until:
            customer.locked_until = until
            audit.record("account_locked", realm_id=customer.realm_id,
                         customer_id=customer.id, seconds=wait)


def unlock(customer: Customer) -> None:
    """Lift every lock (agency action, verified-email reset); the caller audits."""
    customer.failed_attempts = 0
    customer.temporary_failures = 0
    customer.locked_until = None
    customer.locked_permanently = False


class CredentialChanged(RuntimeError):
    """Another request changed the customer's credentials first (two browsers finishing
    the same première connexion at once): this one's step is stale, it must start over."""


def set_password(cfg: AppSettings, customer: Customer, password: str) -> None:
    """A chosen password replaces every other credential (temporary code, legacy hash);
    half-finished sign-ins bound to the old credential die with it.

    The version moves by compare-and-swap: of two simultaneous changes from the same
    version exactly one wins; the other raises :class:`CredentialChanged` (its caller rolls
    back) instead of silently replacing the winner's password."""
    seen = customer.credential_version or 0
    password_hash = hash_password(cfg, password)
    won = db.session.execute(
        update(Customer).where(Customer.id == customer.id,
                               db.func.coalesce(Customer.credential_version, 0) == seen)
        .values(credential_version=seen + 1).execution_options(synchronize_session=False)
    ).rowcount == 1
    if not won:
        raise CredentialChanged(f"customer {customer.id}: credentials changed meanwhile")
    set_committed_value(customer, "credential_version", seen + 1)
    customer.password_hash = password_hash
    customer.legacy_hash = None
    customer.temporary_code_hash = None
    customer.temporary_failures = 0


def set_temporary_code(cfg: AppSettings, customer: Customer, code: str) -> None:
    """A new temporary code (agency letter): the customer owes a new password again."""
    customer.password_hash = None
    customer.legacy_hash = None
    customer.temporary_code_hash = hash_temporary_code(cfg.code_key, code)
    customer.credential_version = (customer.credential_version or 0) + 1
    unlock(customer)


def set_initial_password(cfg: AppSettings, customer: Customer, password: str) -> None:
    """A new customer's password (the agency creates an active account)."""
    customer.password_hash = hash_password(cfg, password)


def set_initial_temporary_code(cfg: AppSettings, customer: Customer, code: str) -> None:
    """A new customer's temporary code (the agency's letter)."""
    customer.temporary_code_hash = hash_temporary_code(cfg.code_key, code)


def forget_all(customer: Customer) -> None:
    """No secret left to sign in with, no failure count kept: the staff TOTP reset (a
    lost phone may be a stolen one) and the erasure of a deleted account. Every
    half-finished sign-in bound to the old credentials dies with the version bump."""
    customer.password_hash = None
    customer.legacy_hash = None
    customer.temporary_code_hash = None
    customer.failed_attempts = 0
    customer.temporary_failures = 0
    customer.locked_until = None
    customer.last_failure_at = None
    customer.credential_version = (customer.credential_version or 0) + 1


def imported_columns(key: bytes, code: str | None, legacy: str | None) -> dict[str, Any]:
    """The credential columns of a customer row inserted by the bulk import (one
    ``INSERT`` for thousands of rows: no ORM object to set them on)."""
    return {"temporary_code_hash": hash_temporary_code(key, code) if code else None,
            "legacy_hash": legacy, "failed_attempts": 0, "temporary_failures": 0,
            "locked_permanently": False, "credential_version": 0}


def import_temporary_code(key: bytes, customer: Customer, code: str) -> None:
    """The import brings a new letter's code for a not-yet-activated customer."""
    customer.temporary_code_hash = hash_temporary_code(key, code)
    customer.legacy_hash = None
    customer.temporary_failures = 0


def import_legacy_hash(customer: Customer, legacy: str) -> None:
    """The import brings a legacy hash for a not-yet-activated customer."""
    customer.legacy_hash = legacy
    customer.temporary_code_hash = None


def succeed(cfg: AppSettings, customer: Customer, password: str, attempt: Attempt) -> None:
    """Give the reserved attempt back; re-hash legacy or outdated argon2 hashes."""
    customer.failed_attempts = 0
    customer.locked_until = None
    if attempt.used_temporary:
        customer.temporary_failures = max(0, customer.temporary_failures - 1)
    if attempt.used_legacy:
        customer.password_hash = hash_password(cfg, password)
        customer.legacy_hash = None
        audit.record("legacy_password_rehashed", realm_id=customer.realm_id,
                     customer_id=customer.id)
    elif customer.password_hash and cfg.hasher.check_needs_rehash(customer.password_hash):
        customer.password_hash = hash_password(cfg, password)  # cost changed: upgrade it


def guarded(customer: Customer, policy: BruteForce, check: Callable[[], bool]) -> str:
    """The same lockout around another secret than the password (the emailed sign-in
    code): the failure is reserved and committed before ``check`` runs, a success gives it
    back. ``success``, ``locked`` or ``bad_code``; the caller commits."""
    if not is_locked(customer):
        _reserve(customer, policy)
        commit_keeping_loaded()
    if is_locked(customer):
        _apply_lock(customer, policy)
        return "locked"
    if check():
        customer.failed_attempts = 0
        customer.locked_until = None
        return "success"
    _apply_lock(customer, policy)
    return "bad_code"


# --------------------------------------------------------------------------- ways in


class _PasswordWay:
    """The customer's chosen password (argon2id). Changed in Mon compte, never removed
    there; the agency's new temporary code replaces it (:func:`set_temporary_code`)."""

    kind = ways_in.Kind.PASSWORD
    amr = ("pwd",)
    first_factor = True

    def _has(self, customer: Customer) -> bool:
        return bool(customer.password_hash)

    def items(self, customer: Customer) -> list[ways_in.Item]:
        return [ways_in.Item(self.kind, "", "mot de passe")] if self._has(customer) else []

    def configured_for(self, customer: Customer) -> bool:
        return self._has(customer)

    def usable_now(self, customer: Customer, realm: object) -> bool:
        return self._has(customer) and not is_locked(customer) and (
            ways_in.may_sign_in(customer, realm) is None)

    def on_recovery(self, customer: Customer) -> list[str]:
        return []  # replaced by the new temporary code, not "removed"


class _LegacyPasswordWay(_PasswordWay):
    """An imported hash (bcrypt, Django PBKDF2), re-hashed at the first sign-in."""

    kind = ways_in.Kind.LEGACY_PASSWORD

    def _has(self, customer: Customer) -> bool:
        return bool(customer.legacy_hash) and not customer.password_hash


class _TemporaryCodeWay(_PasswordWay):
    """The agency's 6-digit code (letter, phone): the première connexion. A code locked
    for good after too many failures is no way in any more."""

    kind = ways_in.Kind.TEMPORARY_CODE

    def _has(self, customer: Customer) -> bool:
        return (bool(customer.temporary_code_hash) and not customer.password_hash
                and not customer.legacy_hash and not customer.locked_permanently)

    def items(self, customer: Customer) -> list[ways_in.Item]:
        return [ways_in.Item(self.kind, "", "code provisoire")] if self._has(customer) else []


ways_in.register(_PasswordWay())
ways_in.register(_LegacyPasswordWay())
ways_in.register(_TemporaryCodeWay())
