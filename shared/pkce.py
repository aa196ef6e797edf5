"""PKCE (RFC 7636), S256 only: the one implementation of the project (the OP, the social
adapters and the portal)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# RFC 7636 §4.1: 43 to 128 characters of [A-Z a-z 0-9 - . _ ~].
_VERIFIER = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")


def s256(verifier: str) -> str:
    """The S256 challenge of a verifier: base64url(SHA-256(verifier)) without padding."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def new_pair() -> tuple[str, str]:
    """A fresh ``(verifier, challenge)`` for a client-side flow (social sign-in)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, s256(verifier)


def valid_challenge(challenge: str) -> bool:
    return bool(_VERIFIER.match(challenge or ""))


def verify(verifier: str | None, challenge: str) -> bool:
    """Does ``verifier`` match the S256 ``challenge`` stored with the code?"""
    if not verifier or not _VERIFIER.match(verifier):
        return False
    return hmac.compare_digest(s256(verifier), challenge)


def half_hash(value: str) -> str:
    """``at_hash`` / ``c_hash`` for SHA-256 algorithms (OIDC Core §3.1.3.6): the left half
    of the digest, base64url. Lives here because it is the same construction."""
    raw = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(raw[: len(raw) // 2]).rstrip(b"=").decode("ascii")
