"""Dynamic Client Registration (RFC 7591) and its management (RFC 7592): the rules.

What an unknown app may ask for is narrower than what an admin may configure: https
redirect URIs only (``http`` on a loopback address aside, RFC 8252 §7.3), the grants and
methods the OP implements, a ``jwks_uri`` that cannot point the idp at its own network
(no IP literal of a private, loopback or link-local range, https only), never an admin
scope, and always third-party (consent asked): ``first_party`` sent by the app is ignored.
Errors carry the RFC's codes (``invalid_redirect_uri``, ``invalid_client_metadata``).
"""

from __future__ import annotations

import ipaddress
import secrets
from typing import Any
from urllib.parse import urlsplit

from . import audit, keys
from .claims import SUPPORTED_SCOPES
from .clients import AUTH_METHODS, forget_client, snapshot
from .db import db
from .initial_tokens import new_registration_token
from .models import Client, Realm, epoch
from .realm_io import RealmImportError, upsert_client

GRANTS = ("authorization_code", "refresh_token", "client_credentials")
RESPONSE_TYPES = ("code",)
URI_LISTS = ("redirect_uris", "post_logout_redirect_uris")
HTTPS_URIS = ("logo_uri", "client_uri", "policy_uri", "tos_uri", "backchannel_logout_uri")
TEXTS = ("client_name", "software_id", "software_version")
#: Metadata a registration may set; anything else is ignored (RFC 7591 §2).
KNOWN = (*URI_LISTS, *HTTPS_URIS, *TEXTS, "grant_types", "response_types",
         "token_endpoint_auth_method", "scope", "contacts", "jwks", "jwks_uri",
         "id_token_signed_response_alg", "backchannel_logout_session_required")
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")


class RegistrationError(ValueError):
    """A refused registration: ``code`` is the RFC 7591 §3.2.2 error code."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _metadata_error(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


def check_redirect_uri(uri: Any, field: str = "redirect_uris") -> str:
    """https, or http on a loopback address; absolute, no fragment, no credentials."""
    code = "invalid_redirect_uri" if field in URI_LISTS else "invalid_client_metadata"
    if not isinstance(uri, str) or len(uri) > 2000:
        raise RegistrationError(code, f"{field}: each value must be a URI string")
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    if not host or parts.fragment or parts.username or parts.password:
        raise RegistrationError(code, f"{field}: {uri!r} must be an absolute URI without "
                                "fragment or credentials")
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return uri
    raise RegistrationError(code, f"{field}: {uri!r} must use https (http only on a "
                            "loopback address)")


def check_jwks_uri(uri: Any) -> str:
    """A key URL the idp may fetch without being turned against its own network."""
    if not isinstance(uri, str) or len(uri) > 2000:
        raise _metadata_error("jwks_uri must be a URI string")
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host or parts.username or parts.password:
        raise _metadata_error("jwks_uri must be an https URL without credentials")
    if host in LOOPBACK_HOSTS or host.endswith((".localhost", ".local", ".internal")):
        raise _metadata_error("jwks_uri must not name a local host")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return uri
    if not address.is_global:
        raise _metadata_error("jwks_uri must not name a private, loopback or reserved address")
    return uri


def _string_list(data: dict[str, Any], field: str) -> list[str] | None:
    if field not in data:
        return None
    value = data[field]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _metadata_error(f"{field} must be an array of strings")
    return value


def validate(data: Any) -> dict[str, Any]:
    """The metadata to store for a registration request, or a :class:`RegistrationError`."""
    if not isinstance(data, dict):
        raise _metadata_error("the request body must be a JSON object")
    meta: dict[str, Any] = {}
    grants = _string_list(data, "grant_types") or ["authorization_code"]
    unknown = [g for g in grants if g not in GRANTS]
    if unknown:
        raise _metadata_error(f"unsupported grant_types: {', '.join(unknown)}")
    meta["grant_types"] = list(dict.fromkeys(grants))
    responses = _string_list(data, "response_types")
    if responses is None:
        responses = ["code"] if "authorization_code" in grants else []
    if any(r not in RESPONSE_TYPES for r in responses):
        raise _metadata_error("only the response_type code is supported")
    if ("authorization_code" in grants) != ("code" in responses):
        raise _metadata_error("grant_types and response_types do not match")
    meta["response_types"] = responses
    redirects = _string_list(data, "redirect_uris") or []
    if "authorization_code" in grants and not redirects:
        raise RegistrationError("invalid_redirect_uri", "redirect_uris is required for the "
                                "authorization_code grant")
    meta["redirect_uris"] = [check_redirect_uri(u) for u in redirects]
    meta["post_logout_redirect_uris"] = [
        check_redirect_uri(u, "post_logout_redirect_uris")
        for u in _string_list(data, "post_logout_redirect_uris") or []]
    method = data.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise _metadata_error(f"unsupported token_endpoint_auth_method: {method}")
    if method == "none" and "client_credentials" in grants:
        raise _metadata_error("a public client cannot use client_credentials")
    meta["token_endpoint_auth_method"] = method
    if "jwks" in data and "jwks_uri" in data:
        raise _metadata_error("jwks and jwks_uri are mutually exclusive")
    if "jwks_uri" in data:
        meta["jwks_uri"] = check_jwks_uri(data["jwks_uri"])
    if "jwks" in data:
        if not isinstance(data["jwks"], dict) or not isinstance(data["jwks"].get("keys"), list):
            raise _metadata_error("jwks must be a JWK Set")
        meta["jwks"] = data["jwks"]
    if method == "private_key_jwt" and not ("jwks" in meta or "jwks_uri" in meta):
        raise _metadata_error("private_key_jwt needs jwks or jwks_uri")
    scope = data.get("scope")
    if scope is not None:
        if not isinstance(scope, str):
            raise _metadata_error("scope must be a space-separated string")
        refused = [s for s in scope.split() if s not in SUPPORTED_SCOPES]
        if refused:
            raise _metadata_error(f"unsupported scope: {', '.join(refused)}")
        meta["scope"] = " ".join(dict.fromkeys(scope.split()))
    for field in HTTPS_URIS:
        if field in data:
            uri = check_redirect_uri(data[field], field)
            if not uri.startswith("https://") and field != "backchannel_logout_uri":
                raise _metadata_error(f"{field} must be an https URL")
            meta[field] = uri
    for field in TEXTS:
        if field in data:
            if not isinstance(data[field], str) or len(data[field]) > 200:
                raise _metadata_error(f"{field} must be a string of 200 characters at most")
            meta[field] = data[field]
    contacts = _string_list(data, "contacts")
    if contacts is not None:
        meta["contacts"] = contacts[:10]
    alg = data.get("id_token_signed_response_alg", "RS256")
    if alg not in keys.SUPPORTED_ALGS:
        raise _metadata_error(f"unsupported id_token_signed_response_alg: {alg}")
    meta["id_token_signed_response_alg"] = alg
    if "backchannel_logout_session_required" in data:
        meta["backchannel_logout_session_required"] = bool(
            data["backchannel_logout_session_required"])
    meta["first_party"] = False  # a self-registered app always asks for consent
    meta["dynamically_registered"] = True
    return meta


def response(row: Client, registration_uri: str, *, secret: str | None = None,
             registration_token: str | None = None) -> dict[str, Any]:
    """The client information response (RFC 7591 §3.2.1, RFC 7592 §3)."""
    data = snapshot(row).public_metadata()
    data.pop("enabled", None)
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
    try:
        row, secret = upsert_client(secret_key, realm, {"client_id": client_id, **meta})
    except RealmImportError as exc:
        raise _metadata_error(str(exc)) from None
    db.session.flush()
    token = new_registration_token(row.id, initial_token_id)
    audit.record("client_registered", realm_id=realm.id, client_id=client_id,
                 initial_token_id=initial_token_id)
    return row, secret, token


def update(secret_key: bytes, realm: Realm, row: Client, data: Any) -> Client:
    """Replace a registered client's metadata (RFC 7592 §2.2). The caller commits."""
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
    meta = validate(data)
    if (meta["token_endpoint_auth_method"] == "none") != (
            (row.meta or {}).get("token_endpoint_auth_method") == "none"):
        raise _metadata_error("a client cannot change between public and confidential")
    try:
        upsert_client(secret_key, realm, {"client_id": row.client_id, **meta})
    except RealmImportError as exc:
        raise _metadata_error(str(exc)) from None
    audit.record("client_registration_updated", realm_id=realm.id, client_id=row.client_id)
    return row


def delete(realm: Realm, row: Client) -> None:
    """Deregister (RFC 7592 §2.3): the client and its tokens go. The caller commits."""
    audit.record("client_deregistered", realm_id=realm.id, client_id=row.client_id)
    db.session.delete(row)
    forget_client(realm.id, row.client_id)
