"""Token material: JWT signing (id_tokens, RFC 9068 access tokens, logout tokens),
opaque values and their hashes.

Every value carries 256 random bits; every JWT has a random ``jti``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any

from joserfc import jws, jwt

from . import keys


def opaque() -> str:
    """A 256-bit random URL-safe value (codes, refresh tokens)."""
    return secrets.token_urlsafe(32)


def digest(value: str) -> str:
    """SHA-256 hex of a high-entropy value, for lookups without storing it."""
    return hashlib.sha256(value.encode()).hexdigest()


def half_hash(value: str, alg: str) -> str:
    """``at_hash`` / ``c_hash``: left half of the SHA-256 digest, base64url (OIDC §3.1.3.6)."""
    raw = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw[: len(raw) // 2]).rstrip(b"=").decode()


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
    return sign(realm_id, claims, "RS256", typ="at+jwt"), jti, now + lifetime


def decode_own(realm_id: int, token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """Verify a JWT signed by one of the realm's published keys; ``(header, claims)``.

    Only the signature is checked here; callers check the claims they rely on.
    """
    try:
        compact = jws.extract_compact(token.encode())
        header = compact.protected
        key = keys.find_public_key(realm_id, header.get("kid"))
        if key is None:
            return None
        decoded = jwt.decode(token, key, algorithms=list(keys.SUPPORTED_ALGS))
    except Exception:
        return None
    return dict(header), dict(decoded.claims)
