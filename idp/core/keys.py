"""Per-realm signing keys: creation, rotation with overlap, JWKS.

Keys live in the database so every worker signs with the same key; they are parsed once
per process and held in the one cache (:mod:`idp.core.cache`), invalidated on rotation.
The private JWK is stored encrypted (:mod:`idp.core.crypto`, ``{"enc": "enc1:..."}``):
a database dump signs nothing. It is decrypted only when a key is parsed, once per
process and key id.
"""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

from joserfc.jwk import ECKey, Key, KeySet, RSAKey

from . import cache, crypto
from .db import db
from .models import IdentityProvider, Realm, SigningKey, utcnow

SUPPORTED_ALGS = ("RS256", "ES256")
CACHE_TTL_SECONDS = 30.0
# A retired key stays in the JWKS this long: longer than any token it may have signed.
OVERLAP = timedelta(days=1)
SEALED = "enc"


def seal_jwk(jwk: dict[str, Any]) -> dict[str, Any]:
    """What the ``private_jwk`` column stores: the JWK encrypted with the data key."""
    return {SEALED: crypto.encrypt(json.dumps(jwk, sort_keys=True))}


def private_jwk(row: SigningKey) -> dict[str, Any]:
    """The clear private JWK of a row (rows from before encryption are read as is)."""
    stored = dict(row.private_jwk or {})
    if SEALED in stored:
        return dict(json.loads(crypto.decrypt(str(stored[SEALED]))))
    return stored


def _generate(alg: str) -> Key:
    if alg == "ES256":
        return ECKey.generate_key("P-256", private=True)
    return RSAKey.generate_key(2048, private=True)


def create_key(realm: Realm, alg: str) -> SigningKey:
    key = _generate(alg)
    kid = f"{alg.lower()}-{secrets.token_urlsafe(12)}"
    row = SigningKey(realm_id=realm.id, kid=kid, alg=alg,
                     private_jwk=seal_jwk(key.as_dict(private=True)))
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
    def parse() -> Key:
        data = private_jwk(row)
        data["kid"] = row.kid
        return RSAKey.import_key(data) if row.alg == "RS256" else ECKey.import_key(data)

    # A kid names one immutable key: parsed once per process.
    return cache.cached("parsed_key", row.kid, parse, ttl=24 * 3600)


def signing_key(realm_id: int, alg: str) -> tuple[str, Key]:
    """The active key for ``alg`` in a realm, as ``(kid, key)``."""

    def load() -> tuple[str, Key] | None:
        row = db.session.execute(
            db.select(SigningKey)
            .filter_by(realm_id=realm_id, alg=alg, retired_at=None)
            .order_by(SigningKey.id.desc())
        ).scalars().first()
        return (row.kid, _load(row)) if row is not None else None

    found = cache.cached("active_key", (realm_id, alg), load, ttl=CACHE_TTL_SECONDS)
    if found is None:
        cache.invalidate("active_key", (realm_id, alg), broadcast=False)
        raise LookupError(f"no active {alg} key for realm {realm_id}")
    return found


def public_keys(realm_id: int) -> list[tuple[str, str, Key]]:
    """Every published key of a realm: active ones and retired ones still in overlap."""

    def load() -> list[tuple[str, str, Key, object]]:
        rows = db.session.execute(
            db.select(SigningKey).filter_by(realm_id=realm_id).order_by(SigningKey.id)
        ).scalars()
        return [(row.kid, row.alg, _load(row), row.unpublish_after) for row in rows]

    now = utcnow()
    rows = cache.cached("public_keys", realm_id, load, ttl=CACHE_TTL_SECONDS)
    return [(kid, alg, key) for kid, alg, key, until in rows if until is None or until > now]


def jwks(realm_id: int) -> dict[str, Any]:
    keys = []
    for kid, alg, key in public_keys(realm_id):
        data = key.as_dict(private=False)
        data.update({"kid": kid, "alg": alg, "use": "sig"})
        keys.append(data)
    return {"keys": keys}


def key_set(realm_id: int) -> KeySet:
    """The realm's published public keys as a joserfc KeySet (for verification)."""
    return KeySet([key for _kid, _alg, key in public_keys(realm_id)])


def clear_cache() -> None:
    cache.invalidate("verifier")
    cache.invalidate("active_key")
    cache.invalidate("public_keys")


def reencrypt_all() -> dict[str, int]:
    """Seal every stored secret with the current data key: plaintext rows from before
    encryption (the backfill) and rows sealed with an older key (the rotation). The
    caller commits. Idempotent: a second run changes nothing."""
    done = {"signing_keys": 0, "identity_providers": 0}
    for row in db.session.execute(db.select(SigningKey)).scalars():
        sealed = (row.private_jwk or {}).get(SEALED)
        if sealed is None or crypto.needs_reseal(str(sealed)):
            row.private_jwk = seal_jwk(private_jwk(row))
            done["signing_keys"] += 1
    for idp_row in db.session.execute(db.select(IdentityProvider)).scalars():
        if crypto.needs_reseal(idp_row.client_secret):
            idp_row.client_secret = crypto.encrypt(crypto.decrypt(idp_row.client_secret))
            done["identity_providers"] += 1
    return done
