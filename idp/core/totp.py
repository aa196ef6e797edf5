"""TOTP second factor (RFC 6238, pyotp) and its recovery codes.

Used by realms whose settings say ``otp_required`` (the staff realm). Why it is built so:

* the shared secret is stored **encrypted** (Fernet, key derived from ``SECRET_KEY``): a
  database dump alone does not yield working codes, and the secret never reaches a log;
* a code is accepted once: the time step of the last accepted code is kept and only a
  later step passes (one atomic ``UPDATE``), so a code read over a shoulder or replayed
  within its 30-second window (±1 step of clock drift) is refused;
* recovery codes (for a lost phone) are shown once and kept as keyed hashes only;
* five wrong codes in a row lock the account for the realm's lockout wait: the per-address
  rate limits of the web layer still apply on top.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import pyotp
from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import DateTime, ForeignKey, Integer, String, update
from sqlalchemy.orm import Mapped, mapped_column

from . import actions, audit, credentials, ways_in
from .db import db
from .models import Customer, utcnow
from .settings import AppSettings

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1
MAX_FAILURES = 5
RECOVERY_CODES = 10
ISSUER_NAME = "Mon espace client"


class TotpCredential(db.Model):
    """One customer's TOTP secret (encrypted); ``confirmed_at`` None while enrolling."""

    __tablename__ = "totp_credential"
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), primary_key=True)
    secret_encrypted: Mapped[str] = mapped_column(String(255))
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    confirmed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RecoveryCode(db.Model):
    """A single-use recovery code, as a keyed hash."""

    __tablename__ = "recovery_code"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


# --- secret at rest -----------------------------------------------------------------------

def _fernet(cfg: AppSettings) -> Fernet:
    raw = hmac.new(cfg.secret_key.encode(), b"idp-totp-secret", hashlib.sha256).digest()
    return Fernet(base64.urlsafe_b64encode(raw))


def _seal(cfg: AppSettings, secret: str) -> str:
    return _fernet(cfg).encrypt(secret.encode()).decode()


def _open(cfg: AppSettings, sealed: str) -> str | None:
    try:
        return _fernet(cfg).decrypt(sealed.encode()).decode()
    except InvalidToken:  # SECRET_KEY changed: the staff member enrols again
        return None


def _recovery_hash(cfg: AppSettings, code: str) -> str:
    normal = code.replace("-", "").replace(" ", "").lower()
    return hmac.new(cfg.secret_key.encode(), f"idp-recovery:{normal}".encode(),
                    hashlib.sha256).hexdigest()


# --- enrolment ----------------------------------------------------------------------------

def credential(customer_id: int) -> TotpCredential | None:
    return db.session.get(TotpCredential, customer_id)


def enrolled(customer_id: int) -> bool:
    row = credential(customer_id)
    return row is not None and row.confirmed_at is not None


def pending_secret(cfg: AppSettings, customer: Customer) -> str:
    """The secret being enrolled (a new one unless an unconfirmed one exists), base32.

    The same secret survives a page reload so a scanned QR code keeps working."""
    row = credential(customer.id)
    if row is not None and row.confirmed_at is None:
        secret = _open(cfg, row.secret_encrypted)
        if secret:
            return secret
    secret = pyotp.random_base32()
    if row is None:
        row = TotpCredential(customer_id=customer.id, secret_encrypted=_seal(cfg, secret),
                             last_step=0, failures=0)
        db.session.add(row)
    elif row.confirmed_at is None:
        row.secret_encrypted = _seal(cfg, secret)
    else:
        raise ValueError("TOTP already enrolled: reset it first")
    return secret


def provisioning_uri(secret: str, account: str, issuer: str = ISSUER_NAME) -> str:
    """The ``otpauth://`` URI the QR code carries (authenticator apps read it)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=account, issuer_name=issuer)


def _matching_step(secret: str, code: str, now: float) -> int | None:
    code = (code or "").strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = int(now // STEP_SECONDS)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def confirm(cfg: AppSettings, customer: Customer, code: str,
            now: float | None = None) -> list[str] | None:
    """Finish enrolment with a first code from the app: returns the recovery codes (to
    show once) or None when the code is wrong. CONFIGURE_TOTP is done."""
    row = credential(customer.id)
    if row is None or row.confirmed_at is not None:
        return None
    secret = _open(cfg, row.secret_encrypted)
    step = _matching_step(secret, code, now if now is not None else time.time()) if secret \
        else None
    if step is None:
        audit.record("totp_enrolment_failed", realm_id=customer.realm_id,
                     customer_id=customer.id)
        return None
    row.confirmed_at = utcnow()
    row.last_step = step
    row.last_used_at = utcnow()
    codes = new_recovery_codes(cfg, customer)
    actions.finish(customer, actions.CONFIGURE_TOTP)
    audit.record("totp_enrolled", realm_id=customer.realm_id, customer_id=customer.id)
    return codes


def new_recovery_codes(cfg: AppSettings, customer: Customer) -> list[str]:
    """Replace every recovery code; returns the new ones (shown once, stored hashed)."""
    db.session.execute(db.delete(RecoveryCode).filter_by(customer_id=customer.id))
    codes = []
    for _ in range(RECOVERY_CODES):
        raw = base64.b32encode(secrets.token_bytes(8)).decode().rstrip("=").lower()[:10]
        code = f"{raw[:5]}-{raw[5:]}"
        codes.append(code)
        db.session.add(RecoveryCode(customer_id=customer.id, code_hash=_recovery_hash(cfg, code)))
    return codes


# --- verification -------------------------------------------------------------------------

def verify(cfg: AppSettings, customer: Customer, code: str, now: float | None = None,
           lock_seconds: int = 900) -> bool:
    """Check a TOTP code, once: a replayed or older code is refused. Five failures in
    a row lock the account for ``lock_seconds``.

    The attempt is counted as a failure *before* the compare (:func:`_reserve`, as the
    password check does), so parallel wrong codes each see their own count: none is
    lost, and no more than :data:`MAX_FAILURES` codes are compared before the lock."""
    row = credential(customer.id)
    if row is None or row.confirmed_at is None:
        return False
    count = _reserve(customer)
    if count is None or count > MAX_FAILURES or _locked_now(customer):
        return False  # over budget or locked by a parallel attempt: refused unchecked
    secret = _open(cfg, row.secret_encrypted)
    step = _matching_step(secret, code, now if now is not None else time.time()) if secret \
        else None
    if step is not None:
        # Atomic: two requests with the same code cannot both pass.
        used = db.session.execute(
            update(TotpCredential)
            .where(TotpCredential.customer_id == customer.id, TotpCredential.last_step < step)
            .values(last_step=step, failures=0, last_used_at=utcnow())
            .execution_options(synchronize_session=False)).rowcount
        if used == 1:
            db.session.expire(row)
            audit.record("totp_verified", realm_id=customer.realm_id, customer_id=customer.id)
            return True
        audit.record("totp_replay_refused", realm_id=customer.realm_id,
                     customer_id=customer.id)
    _failure(customer, count, lock_seconds)
    return False


def use_recovery_code(cfg: AppSettings, customer: Customer, code: str,
                      lock_seconds: int = 900) -> bool:
    """A recovery code instead of a TOTP code: valid once (counted as TOTP codes are)."""
    count = _reserve(customer) if credential(customer.id) is not None else None
    if count is not None and (count > MAX_FAILURES or _locked_now(customer)):
        return False
    digest = _recovery_hash(cfg, code or "")
    used = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.customer_id == customer.id, RecoveryCode.code_hash == digest,
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow()).execution_options(synchronize_session=False)).rowcount
    if used == 1:
        _clear_failures(customer)
        audit.record("recovery_code_used", realm_id=customer.realm_id,
                     customer_id=customer.id, left=recovery_codes_left(customer.id))
        return True
    if count is not None:
        _failure(customer, count, lock_seconds)
    return False


def recovery_codes_left(customer_id: int) -> int:
    return int(db.session.execute(
        db.select(db.func.count()).select_from(RecoveryCode)
        .filter_by(customer_id=customer_id, used_at=None)).scalar() or 0)


def _reserve(customer: Customer) -> int | None:
    """Count this attempt as a failure before comparing (one atomic UPDATE … RETURNING,
    committed at once so it holds even if the request dies); a success gives it back.
    None when the credential is gone (reset meanwhile)."""
    count = db.session.execute(
        update(TotpCredential).where(TotpCredential.customer_id == customer.id)
        .values(failures=TotpCredential.failures + 1)
        .returning(TotpCredential.failures)
        .execution_options(synchronize_session=False)).scalar_one_or_none()
    db.session.commit()
    return count


def _locked_now(customer: Customer) -> bool:
    """The lock as committed now (a parallel attempt may have set it since the customer
    was loaded)."""
    until = db.session.execute(db.select(Customer.locked_until)
                               .where(Customer.id == customer.id)).scalar_one_or_none()
    return until is not None and until > utcnow()


def _clear_failures(customer: Customer) -> None:
    db.session.execute(update(TotpCredential).where(TotpCredential.customer_id == customer.id)
                       .values(failures=0).execution_options(synchronize_session=False))


def _failure(customer: Customer, count: int, lock_seconds: int) -> None:
    """A compared code was wrong (already counted by :func:`_reserve`). The attempt that
    reaches :data:`MAX_FAILURES` locks the account and starts a new count, by
    compare-and-swap: one lock, one audit event, whatever runs in parallel."""
    audit.record("totp_failed", realm_id=customer.realm_id, customer_id=customer.id,
                 failures=count)
    if count < MAX_FAILURES:
        return
    won = db.session.execute(
        update(TotpCredential).where(TotpCredential.customer_id == customer.id,
                                     TotpCredential.failures >= MAX_FAILURES)
        .values(failures=0).execution_options(synchronize_session=False)).rowcount == 1
    if won:
        customer.locked_until = utcnow() + timedelta(seconds=lock_seconds)
        audit.record("totp_locked", realm_id=customer.realm_id, customer_id=customer.id)


def reset(customer: Customer) -> None:
    """Forget the TOTP secret and recovery codes (lost phone) **and the password**.

    A lost phone may be a stolen phone, and the password alone must never enrol a new
    authenticator: the account owes a new password and a new TOTP, which only a one-time
    link (``idp admins enrolment-link``) or a reset mail to its verified address starts.
    Every half-finished sign-in bound to the old credentials dies with the version bump.
    The caller ends the account's sessions and tokens, then commits."""
    db.session.execute(db.delete(TotpCredential).filter_by(customer_id=customer.id))
    db.session.execute(db.delete(RecoveryCode).filter_by(customer_id=customer.id))
    credentials.forget_all(customer)
    actions.owe(customer, actions.UPDATE_PASSWORD)
    actions.owe(customer, actions.CONFIGURE_TOTP)
    audit.record("totp_reset", realm_id=customer.realm_id, customer_id=customer.id)


# --- the registry's second factors (idp.core.ways_in) ---------------------------------

class _SecondFactor:
    """The staff's second factors: a way in only beside a password, which the agency's
    recovery leaves alone (the TOTP reset is its own staff action)."""

    first_factor = False

    def items(self, customer: Customer) -> list[ways_in.Item]:
        raise NotImplementedError

    def configured_for(self, customer: Customer) -> bool:
        return bool(self.items(customer))

    def usable_now(self, customer: Customer, realm: Any) -> bool:
        return ways_in.may_sign_in(customer, realm) is None and self.configured_for(customer)

    def on_recovery(self, customer: Customer) -> list[str]:
        return []


class _TotpWay(_SecondFactor):
    """The staff realm's authenticator app (rows owned by this module).

    A second factor: it completes a password sign-in, never replaces it. The agency's
    recovery of a *customer* leaves it alone (the staff's own reset, with its enrolment
    link, is the staff module's business).
    """

    kind = ways_in.Kind.TOTP
    amr = ("otp",)

    def items(self, customer: Customer) -> list[ways_in.Item]:
        row = credential(customer.id)
        if row is None or row.confirmed_at is None:
            return []
        return [ways_in.Item(self.kind, "", "application d'authentification",
                             row.created_at, row.last_used_at)]


class _RecoveryCodesWay(_SecondFactor):
    """Single-use codes for a lost phone (rows owned by this module)."""

    kind = ways_in.Kind.RECOVERY_CODES
    amr = ("otp",)

    def items(self, customer: Customer) -> list[ways_in.Item]:
        left = recovery_codes_left(customer.id)
        return [ways_in.Item(self.kind, "", f"codes de secours ({left})")] if left else []


ways_in.register(_TotpWay())
ways_in.register(_RecoveryCodesWay())
