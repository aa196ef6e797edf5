"""Per-realm signing keys: creation, rotation with overlap, JWKS, in-memory cache.

Keys live in the database so every worker signs with the same key; they are parsed once
per process and cached by ``kid`` (no per-request key loading).
"""

from __future__ import annotations

import secrets
import threading
import time
from datetime import timedelta
from typing import Any

from joserfc.jwk import ECKey, Key, RSAKey

from ..core.models import Realm, SigningKey, utcnow
from ..extensions import db

SUPPORTED_ALGS = ("RS256", "ES256")
CACHE_TTL_SECONDS = 30.0
# A retired key stays in the JWKS this long: longer than any token it may have signed.
OVERLAP = timedelta(days=1)

_parsed: dict[str, Key] = {}
_active: dict[tuple[int, str], tuple[float, str]] = {}
_lock = threading.Lock()


def _generate(alg: str) -> Key:
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    return RSAKey.generate_key(2048, private=True)


def create_key(realm: Realm, alg: str) -> SigningKey:
    key = _generate(alg)
    kid = f"{alg.lower()}-{secrets.token_urlsafe(12)}"
    row = SigningKey(realm_id=realm.id, kid=kid, alg=alg, private_jwk=key.as_dict(private=True))
    db.session.add(row)
    db.session.flush()
    return row


def ensure_keys(realm: Realm) -> None:
    """Give the realm one active key per supported algorithm."""
    for alg in SUPPORTED_ALGS:
        exists = db.session.execute(
            db.select(SigningKey.id).filter_by(realm_id=realm.id, alg=alg, retired_at=None)
        ).first()
        if not exists:
            create_key(realm, alg)


def rotate(realm: Realm) -> list[str]:
    """Retire the active keys (still published for OVERLAP) and create new ones."""
    now = utcnow()
    rows = db.session.execute(
        db.select(SigningKey).filter_by(realm_id=realm.id, retired_at=None)
    ).scalars()
    for row in rows:
        row.retired_at = now
        row.unpublish_after = now + OVERLAP
    new = [create_key(realm, alg).kid for alg in SUPPORTED_ALGS]
    clear_cache()
    return new


def _load(row: SigningKey) -> Key:
    key = _parsed.get(row.kid)
    if key is None:
        data = dict(row.private_jwk)
        data["kid"] = row.kid
        key = RSAKey.import_key(data) if row.alg == "RS256" else ECKey.import_key(data)
        with _lock:
            _parsed[row.kid] = key
    return key


def signing_key(realm_id: int, alg: str) -> tuple[str, Key]:
    """The active key for ``alg`` in a realm, as ``(kid, key)``."""
    now = time.monotonic()
    hit = _active.get((realm_id, alg))
    if hit and hit[0] > now and hit[1] in _parsed:
        return hit[1], _parsed[hit[1]]
    row = db.session.execute(
        db.select(SigningKey)
        .filter_by(realm_id=realm_id, alg=alg, retired_at=None)
        .order_by(SigningKey.id.desc())
    ).scalars().first()
    if row is None:
        raise LookupError(f"no active {alg} key for realm {realm_id}")
    key = _load(row)
    with _lock:
        _active[(realm_id, alg)] = (now + CACHE_TTL_SECONDS, row.kid)
    return row.kid, key


def public_keys(realm_id: int) -> list[tuple[str, str, Key]]:
    """Every published key of a realm: active ones and retired ones still in overlap."""
    now = utcnow()
    rows = db.session.execute(
        db.select(SigningKey).filter_by(realm_id=realm_id).order_by(SigningKey.id)
    ).scalars()
    return [
        (row.kid, row.alg, _load(row))
        for row in rows
        if row.unpublish_after is None or row.unpublish_after > now
    ]


def jwks(realm_id: int) -> dict[str, Any]:
    keys = []
    for kid, alg, key in public_keys(realm_id):
        data = key.as_dict(private=False)
        data.update({"kid": kid, "alg": alg, "use": "sig"})
        keys.append(data)
    return {"keys": keys}


def find_public_key(realm_id: int, kid: str | None) -> Key | None:
    for key_kid, _alg, key in public_keys(realm_id):
        if kid is None or key_kid == kid:
            return key
    return None


def clear_cache() -> None:
    with _lock:
        _active.clear()
