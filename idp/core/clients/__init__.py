"""Clients: the one rules module of OAuth clients, and the only writer of their rows.

:mod:`.metadata` is the one schema every entry point validates with, :mod:`.uris` the
URI rules; this module holds the registry (Authlib's ClientMixin over a cached,
immutable snapshot of a client row) and the writes (:func:`store`, :func:`rotate`,
:func:`set_enabled`, :func:`remove`), which the permission-checked operations
(:mod:`idp.core.operations.clients`), registration (:mod:`idp.core.registration`) and
realm import call; nothing else constructs or changes a ``Client`` row.

The token endpoint is hot, so client rows are cached in memory and secrets are checked
with a keyed hash (HMAC-SHA256) rather than a password KDF: client secrets are 256-bit
random values, a KDF would only cap throughput.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list

from .. import cache
from ..db import db
from ..models import Client
from .metadata import AUTH_METHODS, ClientMetadataError, validate

CACHE_TTL_SECONDS = 30.0
DEFAULT_SCOPE = "openid profile email address phone customer offline_access"
CONFIDENTIAL_METHODS = tuple(m for m in AUTH_METHODS if m != "none")
CLIENT_DEFAULTS: dict[str, Any] = {
    "redirect_uris": [],
    "post_logout_redirect_uris": [],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "client_secret_basic",
    "scope": DEFAULT_SCOPE,
    "id_token_signed_response_alg": "RS256",
    # Third-party unless said otherwise: an imported client never skips consent by accident.
    "first_party": False,
}


def hash_secret(key: bytes, secret: str) -> str:
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ClientInfo(ClientMixin):
    """What the OAuth machinery needs to know of a client, detached from the session."""

    pk: int
    realm_id: int
    client_id: str
    secret_hash: str | None
    meta: dict[str, Any] = field(hash=False)
    secret_key: bytes = field(default=b"", hash=False, repr=False)

    def get(self, key: str) -> Any:
        return self.meta.get(key, CLIENT_DEFAULTS.get(key))

    @property
    def is_public(self) -> bool:
        return self.get("token_endpoint_auth_method") == "none"

    @property
    def enabled(self) -> bool:
        return self.meta.get("enabled", True) is not False

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.get("redirect_uris")
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = set(scope_to_list(self.get("scope")))
        return " ".join(s for s in scope_to_list(scope) if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.get("redirect_uris")

    def check_client_secret(self, client_secret: str) -> bool:
        if not self.secret_hash:
            return False
        return hmac.compare_digest(self.secret_hash, hash_secret(self.secret_key, client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # Every endpoint (token, revocation, introspection): the registered method only.
        return method == self.get("token_endpoint_auth_method")

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.get("response_types")

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.get("grant_types")

    def public_metadata(self) -> dict[str, Any]:
        """Metadata as exported (RFC 7591 names); never the secret or its hash."""
        data = {k: self.get(k) for k in CLIENT_DEFAULTS}
        data.update(self.meta)
        data["client_id"] = self.client_id
        return data


def snapshot(row: Client, secret_key: bytes = b"") -> ClientInfo:
    return ClientInfo(pk=row.id, realm_id=row.realm_id, client_id=row.client_id,
                      secret_hash=row.secret_hash, meta=dict(row.meta or {}),
                      secret_key=secret_key)


def find_client(realm_id: int, client_id: str | None, secret_key: bytes = b"") -> ClientInfo | None:
    """The enabled client by id, from the cache when fresh."""
    if not client_id or len(client_id) > 255:
        return None

    def load() -> ClientInfo | None:
        row = db.session.execute(
            db.select(Client).filter_by(realm_id=realm_id, client_id=client_id)
        ).scalar_one_or_none()
        return snapshot(row, secret_key) if row else None

    info = cache.cached("client", (realm_id, client_id, secret_key), load, ttl=CACHE_TTL_SECONDS)
    return info if info is not None and info.enabled else None


def forget_client(realm_id: int, client_id: str) -> None:
    cache.invalidate("client")  # keyed by secret key too: drop the namespace


def clear_cache() -> None:
    cache.clear_all()


# --- writes: the only code that changes a ``Client`` row -----------------------------------

def row_of(realm_id: int, client_id: str) -> Client | None:
    return db.session.execute(
        db.select(Client).filter_by(realm_id=realm_id, client_id=client_id)
    ).scalar_one_or_none()


def store(secret_key: bytes, realm_id: int, client_id: str, meta: dict[str, Any],
          client_secret: str | None = None) -> tuple[Client, str | None]:
    """Create or replace a client's (validated) metadata; returns the row and a newly
    generated secret (a confidential client without one), else None. A public client
    loses its secret; ``private_key_jwt`` never gets one. The caller commits."""
    if not client_id or not isinstance(client_id, str) or len(client_id) > 255 or any(
            ch.isspace() for ch in client_id):
        raise ClientMetadataError("invalid_client_metadata",
                                  "client_id: 1 to 255 characters, no spaces")
    row = row_of(realm_id, client_id)
    if row is None:
        row = Client(realm_id=realm_id, client_id=client_id, meta={})
        db.session.add(row)
    if row.meta != meta:
        row.meta = dict(meta)
    method = meta.get("token_endpoint_auth_method", CLIENT_DEFAULTS["token_endpoint_auth_method"])
    created = None
    if method in ("none", "private_key_jwt"):
        if row.secret_hash is not None:
            row.secret_hash = None
    elif client_secret:
        wanted = hash_secret(secret_key, client_secret)
        if row.secret_hash != wanted:
            row.secret_hash = wanted
    elif row.secret_hash is None:
        created = new_secret()
        row.secret_hash = hash_secret(secret_key, created)
    forget_client(realm_id, client_id)
    return row, created


def rotate(secret_key: bytes, row: Client) -> str:
    """A new secret (returned once); the old one stops working at once."""
    secret = new_secret()
    row.secret_hash = hash_secret(secret_key, secret)
    forget_client(row.realm_id, row.client_id)
    return secret


def set_enabled(row: Client, enabled: bool) -> None:
    row.meta = {**(row.meta or {}), "enabled": bool(enabled)}
    forget_client(row.realm_id, row.client_id)


def remove(row: Client) -> None:
    """Delete the client and, by cascade, its codes and tokens. The caller commits."""
    db.session.delete(row)
    forget_client(row.realm_id, row.client_id)


__all__ = [
    "AUTH_METHODS", "CACHE_TTL_SECONDS", "CLIENT_DEFAULTS", "CONFIDENTIAL_METHODS",
    "DEFAULT_SCOPE", "ClientInfo", "ClientMetadataError", "clear_cache", "find_client",
    "forget_client", "hash_secret", "new_secret", "remove", "rotate", "row_of", "set_enabled",
    "snapshot", "store", "validate",
]
