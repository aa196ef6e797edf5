"""Client authentication by JWT assertion (RFC 7523, ``private_key_jwt``).

Replay protection is shared by every worker and instance: a used ``jti`` is a row of
``used_assertion`` kept until the assertion's own ``exp`` (inserting it twice fails on
the primary key, so exactly one of two simultaneous uses passes). Assertions may not
live longer than ``MAX_ASSERTION_LIFETIME``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from authlib.oauth2.rfc6749.errors import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.jwk import KeySet
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError

from ..core import cache, outbound
from ..core.clients import ClientInfo
from ..core.db import db
from ..core.models import UsedAssertion, utcnow
from ..web.context import issuer

CLIENT_JWKS_TTL = 300.0
MAX_ASSERTION_LIFETIME = 300


def client_jwks(uri: str) -> KeySet:
    """A client's ``jwks_uri`` keys, cached: no HTTP fetch on every token request. The
    fetch goes through :mod:`idp.core.outbound` (public address, no redirect, short
    timeout, capped size); a refusal fails the client's authentication."""

    def load() -> KeySet:
        return KeySet.import_key_set(outbound.get_json(uri, max_bytes=64 * 1024))

    return cache.cached("client_jwks", uri, load, ttl=CLIENT_JWKS_TTL)


def remember_assertion(key: str, expires_at: datetime) -> bool:
    """Record a ``jti``; ``False`` when it was already used (on any instance)."""
    try:
        with db.session.begin_nested():
            db.session.add(UsedAssertion(key=key[:128], expires_at=expires_at))
            db.session.flush()
        db.session.commit()  # durable at once: a later failure must not free the jti
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def prune_assertions() -> int:
    return db.session.execute(delete(UsedAssertion).where(UsedAssertion.expires_at < utcnow())
                              .execution_options(synchronize_session=False)).rowcount


class ClientKeyJWT(JWTBearerClientAssertion):
    """``private_key_jwt``: the client's ``jwks`` or ``jwks_uri``; ``aud`` token URL or issuer."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def get_audiences(self) -> list[str]:
        base = issuer()
        return [f"{base}/protocol/openid-connect/token", base]

    def resolve_client_public_key(self, client: ClientInfo) -> KeySet:
        if client.get("jwks"):
            return KeySet.import_key_set(client.get("jwks"))
        if client.get("jwks_uri"):
            try:
                return client_jwks(client.get("jwks_uri"))
            except (outbound.OutboundRefused, ValueError):
                raise InvalidClientError(description="The client's jwks_uri could not be "
                                         "used") from None
        raise ValueError("client has no public keys")

    def validate_jti(self, claims: Any, jti: str) -> bool:
        """Refuse a replayed or over-long-lived assertion, across every instance."""
        now = datetime.now(UTC).replace(tzinfo=None)
        exp = claims.get("exp")
        if not isinstance(exp, int | float):
            return False
        expires = datetime.fromtimestamp(exp, UTC).replace(tzinfo=None)
        if expires - now > timedelta(seconds=MAX_ASSERTION_LIFETIME):
            return False
        return remember_assertion(f"{claims.get('iss')}:{jti}", expires + timedelta(seconds=60))
