"""Encryption at rest of the secrets the idp must read back in clear: the private JWKs of
signing keys and the client secrets of social providers.

Why: a database dump or a leaked backup must not hand out a key that signs tokens for any
customer, nor the credentials of the realm's Google/LinkedIn/Facebook/X applications.
Hashing is no option for these (they are used, not compared), so they are encrypted with
a key that lives in the environment (``IDP_DATA_KEY``), never in the database.

Format of a stored value: ``enc1:<key id>:<Fernet token>``. The key id (8 hex digits of
the key's SHA-256) names which key sealed it, so rotation is: put the new key first in
``IDP_DATA_KEY`` (comma-separated, the old ones after it), restart, run
``idp keys reencrypt``, then drop the old key. A value without the prefix is a row written
before encryption existed: it is read as is and sealed by ``idp keys reencrypt``.

Hot paths do not pay for this: parsed signing keys are cached per process
(:mod:`idp.core.cache`), so a private JWK is decrypted once per process and key id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import threading

from cryptography.fernet import Fernet, InvalidToken

log = logging.getLogger(__name__)
PREFIX = "enc1"


class DataKeyError(RuntimeError):
    """The data key is missing, malformed or does not open a stored value."""


_lock = threading.Lock()
# Every key configured in this process, by key id (several apps in one process — tests —
# may each bring theirs); the most recently configured one seals new values.
_keys: dict[str, Fernet] = {}
_current: str | None = None


def key_id(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:8]


def derive_key(secret_key: str) -> bytes:
    """A Fernet key derived from ``SECRET_KEY`` (development only: a leaked SECRET_KEY then
    also opens the stored secrets)."""
    digest = hmac.new(secret_key.encode(), b"idp-data-key", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest)


def generate_key() -> str:
    """A new random data key, as ``IDP_DATA_KEY`` expects it."""
    return Fernet.generate_key().decode()


def parse_keys(spec: str) -> list[bytes]:
    """``IDP_DATA_KEY``: one or more Fernet keys, comma-separated, the current one first."""
    keys = [part.strip().encode() for part in spec.split(",") if part.strip()]
    for raw in keys:
        try:
            Fernet(raw)
        except (ValueError, TypeError):
            raise DataKeyError("IDP_DATA_KEY: each key must be 32 url-safe base64 bytes "
                               "(python -c \"from cryptography.fernet import Fernet; "
                               "print(Fernet.generate_key().decode())\")") from None
    if not keys:
        raise DataKeyError("IDP_DATA_KEY is empty")
    return keys


def configure(spec: str | None, secret_key: str, production: bool = False) -> bool:
    """Install the data keys of this process; ``True`` when they came from ``spec``,
    ``False`` when one was derived from ``secret_key`` (refused in production)."""
    global _current
    explicit = bool(spec and spec.strip())
    if explicit:
        keys = parse_keys(str(spec))
    elif production:
        raise DataKeyError("IDP_DATA_KEY must be set in production (it encrypts signing keys "
                           "and social client secrets at rest)")
    else:
        keys = [derive_key(secret_key)]
    with _lock:
        for raw in reversed(keys):  # the first (current) one ends up most recent
            _keys[key_id(raw)] = Fernet(raw)
        _current = key_id(keys[0])
    return explicit


def current_key_id() -> str:
    if _current is None:
        raise DataKeyError("no data key configured (create_app configures it)")
    return _current


def is_sealed(value: str | None) -> bool:
    return bool(value) and str(value).startswith(PREFIX + ":")


def sealed_with(value: str) -> str | None:
    """The key id a sealed value names (``None`` for plaintext)."""
    if not is_sealed(value):
        return None
    return value.split(":", 2)[1]


def encrypt(plain: str) -> str:
    kid = current_key_id()
    token = _keys[kid].encrypt(plain.encode()).decode()
    return f"{PREFIX}:{kid}:{token}"


def decrypt(value: str) -> str:
    """The clear text of a stored value (plaintext rows from before encryption pass)."""
    if not is_sealed(value):
        return value
    _prefix, kid, token = value.split(":", 2)
    key = _keys.get(kid)
    if key is None:
        raise DataKeyError(f"stored secret sealed with data key {kid}, which IDP_DATA_KEY "
                           "does not hold")
    try:
        return key.decrypt(token.encode()).decode()
    except InvalidToken:
        raise DataKeyError(f"stored secret does not open with data key {kid}") from None


def needs_reseal(value: str | None) -> bool:
    """Plaintext, or sealed with a key other than the current one."""
    return bool(value) and sealed_with(str(value)) != current_key_id()
