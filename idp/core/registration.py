"""Dynamic Client Registration (RFC 7591) and its management (RFC 7592): the rules.

What an unknown app may ask for is the registration profile of the one client schema
(:func:`idp.core.clients.metadata.validate` with ``dynamic=True``): https redirect URIs
(``http`` on an exact loopback host aside, RFC 8252 §7.3), the grants and methods the OP
implements, ``jwks_uri`` and ``backchannel_logout_uri`` https to a public address, never
an admin scope, and always third-party (consent asked). What only the agency decides
(``enabled``, ``first_party``, ``admin_realms``) is never taken from the app, neither at
registration nor by its own RFC 7592 PUT (a client the agency disabled stays disabled).
Errors carry the RFC's codes (``invalid_redirect_uri``, ``invalid_client_metadata``).
"""

from __future__ import annotations

import secrets
from typing import Any

from . import audit, clients
from .clients import snapshot
from .clients.metadata import AGENCY_ONLY, ClientMetadataError, is_confidential
from .db import db
from .initial_tokens import new_registration_token
from .models import Client, Realm, epoch

#: The error of a refused registration (``code``: RFC 7591 §3.2.2).
RegistrationError = ClientMetadataError


def _metadata_error(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


def validate(data: Any) -> dict[str, Any]:
    """The metadata to store for a registration request, or a :class:`RegistrationError`."""
    return clients.validate(data, dynamic=True)


def response(row: Client, registration_uri: str, *, secret: str | None = None,
             registration_token: str | None = None) -> dict[str, Any]:
    """The client information response (RFC 7591 §3.2.1, RFC 7592 §3)."""
    data = snapshot(row).public_metadata()
    for name in ("enabled", "admin_realms"):
        data.pop(name, None)
    data["client_id_issued_at"] = epoch(row.created_at)
    data["registration_client_uri"] = registration_uri
    if secret is not None:
        data["client_secret"] = secret
        data["client_secret_expires_at"] = 0
    if registration_token is not None:
        data["registration_access_token"] = registration_token
    return data


def register(secret_key: bytes, realm: Realm, data: Any, initial_token_id: int | None
             ) -> tuple[Client, str | None, str]:
    """Create a client from a registration request; ``(row, secret, registration token)``.
    The caller commits."""
    meta = validate(data)
    client_id = "dyn-" + secrets.token_urlsafe(16)
    row, secret = clients.store(secret_key, realm.id, client_id, meta)
    db.session.flush()
    token = new_registration_token(row.id, initial_token_id)
    audit.record("client_registered", realm_id=realm.id, client_id=client_id,
                 initial_token_id=initial_token_id)
    return row, secret, token


def update(secret_key: bytes, realm: Realm, row: Client, data: Any) -> Client:
    """Replace a registered client's metadata (RFC 7592 §2.2), keeping what only the
    agency decides. The caller commits."""
    if not isinstance(data, dict):
        raise _metadata_error("the request body must be a JSON object")
    if data.get("client_id") != row.client_id:
        raise _metadata_error("client_id must be the registered client's")
    if "registration_access_token" in data or "registration_client_uri" in data:
        raise _metadata_error("registration_access_token and registration_client_uri "
                              "must not be sent")
    if "client_secret" in data and not snapshot(row, secret_key).check_client_secret(
            str(data["client_secret"])):
        raise _metadata_error("client_secret does not match")
    old = dict(row.meta or {})
    meta = validate(data)
    if is_confidential(meta) != is_confidential(old):
        raise _metadata_error("a client cannot change between public and confidential")
    for name in AGENCY_ONLY:
        meta.pop(name, None)
        if name in old:
            meta[name] = old[name]
    clients.store(secret_key, realm.id, row.client_id, meta)
    audit.record("client_registration_updated", realm_id=realm.id, client_id=row.client_id)
    return row


def delete(realm: Realm, row: Client) -> None:
    """Deregister (RFC 7592 §2.3): the client and its tokens go. The caller commits."""
    audit.record("client_deregistered", realm_id=realm.id, client_id=row.client_id)
    clients.remove(row)
