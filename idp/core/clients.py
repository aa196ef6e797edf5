"""Client registry: Authlib's ClientMixin over a cached, immutable snapshot of a client row.

The token endpoint is hot, so client rows are cached in memory and secrets are checked
with a keyed hash (HMAC-SHA256) rather than a password KDF: client secrets are 256-bit
random values, a KDF would only cap throughput.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from authlib.oauth2.rfc6749 import ClientMixin
from authlib.oauth2.rfc6749.util import scope_to_list
from flask import current_app

from .core.models import Client
from .extensions import db

CACHE_TTL_SECONDS = 30.0
DEFAULT_SCOPE = "openid profile email address phone customer offline_access"
CLIENT_DEFAULTS: dict[str, Any] = {
    "redirect_uris": [],
    "post_logout_redirect_uris": [],
    "grant_types": ["authorization_code", "refresh_token"],
    "response_types": ["code"],
    "token_endpoint_auth_method": "client_secret_basic",
    "scope": DEFAULT_SCOPE,
    "id_token_signed_response_alg": "RS256",
    "first_party": True,
}
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


def hash_secret(secret: str) -> str:
    key = current_app.config["SECRET_KEY"].encode()
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

    def get(self, key: str) -> Any:
        return self.meta.get(key, CLIENT_DEFAULTS.get(key))

    @property
    def is_public(self) -> bool:
        return self.get("token_endpoint_auth_method") == "none"

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
        return hmac.compare_digest(self.secret_hash, hash_secret(client_secret))

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


_cache: dict[tuple[int, str], tuple[float, ClientInfo | None]] = {}
_lock = threading.Lock()


def snapshot(row: Client) -> ClientInfo:
    return ClientInfo(
        pk=row.id,
        realm_id=row.realm_id,
        client_id=row.client_id,
        secret_hash=row.secret_hash,
        meta=dict(row.meta or {}),
    )


def find_client(realm_id: int, client_id: str | None) -> ClientInfo | None:
    """The client by id, from the cache when fresh (30 s across workers, at once locally)."""
    if not client_id:
        return None
    key = (realm_id, client_id)
    now = time.monotonic()
    hit = _cache.get(key)
    if hit and hit[0] > now:
        return hit[1]
    row = db.session.execute(
        db.select(Client).filter_by(realm_id=realm_id, client_id=client_id)
    ).scalar_one_or_none()
    info = snapshot(row) if row else None
    with _lock:
        _cache[key] = (now + CACHE_TTL_SECONDS, info)
    return info


def forget_client(realm_id: int, client_id: str) -> None:
    with _lock:
        _cache.pop((realm_id, client_id), None)


def clear_cache() -> None:
    with _lock:
        _cache.clear()
