"""Token material: JWT signing (id_tokens, RFC 9068 access tokens, logout tokens),
opaque values and their hashes.

Every value carries 256 random bits; every JWT has a random ``jti``.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from typing import Any

from joserfc import jwt

from shared.token_verification import JWKSVerifier, KeySourceError, TokenError

from . import cache, keys


def opaque() -> str:
    """A 256-bit random URL-safe value (codes, refresh tokens)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """SHA-256 hex of a high-entropy value, for lookups without storing it."""
    return hashlib.sha256(value.encode()).hexdigest()


def sign(realm_id: int, claims: dict[str, Any], alg: str = "RS256", typ: str = "JWT") -> str:
    kid, key = keys.signing_key(realm_id, alg)
    header = {"alg": alg, "kid": kid, "typ": typ}
    return jwt.encode(header, claims, key, algorithms=[alg])


def access_token(
    realm_id: int,
    issuer: str,
    *,
    client_id: str,
    audience: list[str],
    subject: str,
    scope: str,
    lifetime: int,
    extra: dict[str, Any] | None = None,
    alg: str = "RS256",
) -> tuple[str, str, int]:
    """An RFC 9068 JWT access token; returns ``(token, jti, exp)``."""
    now = int(time.time())
    jti = secrets.token_urlsafe(16)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "aud": audience if len(audience) > 1 else audience[0],
        "client_id": client_id,
        "scope": scope,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti,
    }
    claims.update(extra or {})
    return sign(realm_id, claims, alg, typ="at+jwt"), jti, now + lifetime


def verifier(realm_id: int) -> JWKSVerifier:
    """The realm's own tokens are checked by the same verifier relying parties use, fed
    from the key store instead of HTTP (one JWT verification code path)."""

    def build() -> JWKSVerifier:
        return JWKSVerifier("", key_source=lambda: keys.key_set(realm_id),
                            algorithms=keys.SUPPORTED_ALGS, min_refetch_interval=0.0,
                            cache_ttl=keys.CACHE_TTL_SECONDS)

    return cache.cached("verifier", realm_id, build, ttl=3600)


def decode_own(realm_id: int, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Verify a JWT signed by one of the realm's published keys; ``(header, claims)``.

    Only the signature is checked here; callers check the claims they rely on.
    """
    try:
        return verifier(realm_id).decode(token)
    except (TokenError, KeySourceError):
        return None
