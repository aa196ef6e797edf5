"""The one schema of a client's metadata (RFC 7591 names), for every entry point.

Realm JSON import, the console, the admin API, the ``idp clients`` commands and Dynamic
Client Registration all pass what they were given through :func:`validate` (the model:
node-oidc-provider's single ``client_schema``). Two profiles of the same schema:

* ``dynamic=False`` (the agency: console, API, CLI, import): every field below; unknown
  fields are refused (a typo must not pass silently); admin scopes are accepted here
  (who may grant them is :mod:`idp.core.operations.clients`' question).
* ``dynamic=True`` (an unknown app registering itself, RFC 7591): unknown fields are
  ignored (§2), ``first_party``, ``enabled``, ``admin_realms`` are never taken from it,
  no admin scope, ``redirect_uris`` required for the code grant.

Errors carry the RFC 7591 §3.2.2 codes (``invalid_redirect_uri``,
``invalid_client_metadata``); the web layers map them to their own answers.
"""

from __future__ import annotations

import re
from typing import Any

from .. import keys
from ..claims import SUPPORTED_SCOPES
from . import uris

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
GRANTS = ("authorization_code", "refresh_token", "client_credentials")
RESPONSE_TYPES = ("code",)
#: The admin API's scopes (their actions: :data:`idp.core.operations.clients.ADMIN_SCOPES`).
ADMIN_SCOPE_NAMES = ("admin:customers:read", "admin:customers:write", "admin:clients",
                     "admin:realm", "admin:events:read", "admin:migration:read")
BROWSER_URI_LISTS = ("redirect_uris", "post_logout_redirect_uris")
PAGE_URIS = ("logo_uri", "client_uri", "policy_uri", "tos_uri")
CALLED_URIS = ("backchannel_logout_uri", "jwks_uri")
TEXTS = ("client_name", "software_id", "software_version")
ALGS = ("id_token_signed_response_alg", "access_token_signed_response_alg")
BOOLEANS = ("backchannel_logout_session_required", "first_party", "enabled",
            "dynamically_registered")
#: Fields only the agency sets; a registering app never does (RFC 7592 PUT included).
AGENCY_ONLY = ("first_party", "enabled", "admin_realms", "dynamically_registered",
               "audiences")
#: The audience of the admin API (RFC 9068 ``aud``): a staff-realm client listing it in
#: ``audiences`` gets tokens the API accepts (granted like an admin scope).
ADMIN_API_AUDIENCE = "urn:espace-client:admin-api"
KNOWN = (*BROWSER_URI_LISTS, *PAGE_URIS, *CALLED_URIS, *TEXTS, *ALGS, *BOOLEANS,
         "grant_types", "response_types", "token_endpoint_auth_method", "scope", "contacts",
         "jwks", "admin_realms", "audiences")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class ClientMetadataError(ValueError):
    """Metadata refused: ``code`` is the RFC 7591 error code, ``description`` says why."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


def _error(description: str) -> ClientMetadataError:
    return ClientMetadataError("invalid_client_metadata", description)


def _strings(data: dict[str, Any], name: str, limit: int = 50) -> list[str] | None:
    if name not in data or data[name] is None:
        return None
    value = data[name]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _error(f"{name} must be an array of strings")
    if len(value) > limit:
        raise _error(f"{name}: at most {limit} values")
    return list(dict.fromkeys(value))


def _uri(check: Any, value: Any, name: str, code: str = "invalid_client_metadata",
         **kw: Any) -> str:
    try:
        return check(value, name, **kw)
    except uris.UriError as exc:
        raise ClientMetadataError(code, str(exc)) from None


def scope_tokens(scope: Any, *, dynamic: bool) -> list[str]:
    """The scope's tokens, each one the OP knows (admin scopes for the agency only)."""
    if not isinstance(scope, str) or len(scope) > 1000:
        raise _error("scope must be a space-separated string")
    allowed = SUPPORTED_SCOPES if dynamic else (*SUPPORTED_SCOPES, *ADMIN_SCOPE_NAMES)
    tokens = list(dict.fromkeys(scope.split()))
    refused = [s for s in tokens if s not in allowed]
    if refused:
        raise _error(f"unsupported scope: {', '.join(refused)}")
    return tokens


def admin_scopes(meta: dict[str, Any]) -> list[str]:
    return [s for s in str(meta.get("scope") or "").split() if s in ADMIN_SCOPE_NAMES]


def validate(data: Any, *, dynamic: bool = False, loopback_outbound: bool | None = None
             ) -> dict[str, Any]:
    """The metadata to store, or :class:`ClientMetadataError`. Absent fields stay absent
    (their defaults are :data:`idp.core.clients.CLIENT_DEFAULTS`), except for a
    registration, which gets RFC 7591's defaults. ``loopback_outbound`` None: the
    deployment's policy (:func:`idp.core.clients.uris.loopback_allowed`)."""
    if loopback_outbound is None:
        loopback_outbound = uris.loopback_allowed()
    if not isinstance(data, dict):
        raise _error("the client metadata must be a JSON object")
    data = {k: v for k, v in data.items() if k not in ("client_id", "client_secret")}
    if dynamic:
        data = {k: v for k, v in data.items() if k in KNOWN and k not in AGENCY_ONLY}
    else:
        unknown = sorted(k for k in data if k not in KNOWN)
        if unknown:
            raise _error(f"unknown client field(s): {', '.join(unknown)}")
    meta: dict[str, Any] = {}
    grants = _strings(data, "grant_types")
    if grants is None and dynamic:
        grants = ["authorization_code"]
    if grants is not None:
        unknown = [g for g in grants if g not in GRANTS]
        if unknown:
            raise _error(f"unsupported grant_types: {', '.join(unknown)}")
        meta["grant_types"] = grants
    responses = _strings(data, "response_types")
    if responses is None and dynamic:
        responses = ["code"] if "authorization_code" in (grants or []) else []
    if responses is not None:
        if any(r not in RESPONSE_TYPES for r in responses):
            raise _error("only the response_type code is supported")
        if dynamic and ("authorization_code" in (grants or [])) != ("code" in responses):
            raise _error("grant_types and response_types do not match")
        meta["response_types"] = responses
    for name in BROWSER_URI_LISTS:
        values = _strings(data, name)
        if values is not None:
            meta[name] = [_uri(uris.browser_uri, v, name, "invalid_redirect_uri")
                          for v in values]
    if dynamic and "authorization_code" in (grants or []) and not meta.get("redirect_uris"):
        raise ClientMetadataError("invalid_redirect_uri", "redirect_uris is required for "
                                  "the authorization_code grant")
    method = data.get("token_endpoint_auth_method")
    if method is None and dynamic:
        method = "client_secret_basic"
    if method is not None:
        if method not in AUTH_METHODS:
            raise _error(f"unsupported token_endpoint_auth_method: {method}")
        meta["token_endpoint_auth_method"] = method
    effective_method = method or "client_secret_basic"
    if effective_method == "none" and "client_credentials" in (grants or []):
        raise _error("a public client cannot use client_credentials")
    if data.get("jwks") is not None and data.get("jwks_uri") is not None:
        raise _error("jwks and jwks_uri are mutually exclusive")
    if data.get("jwks") is not None:
        jwks = data["jwks"]
        if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
            raise _error("jwks must be a JWK Set")
        meta["jwks"] = jwks
    for name in CALLED_URIS:
        if data.get(name) is not None:
            meta[name] = _uri(uris.outbound_uri, data[name], name,
                              loopback_allowed=loopback_outbound)
    if effective_method == "private_key_jwt" and not ("jwks" in meta or "jwks_uri" in meta):
        raise _error("private_key_jwt needs jwks or jwks_uri")
    for name in PAGE_URIS:
        if data.get(name) is not None:
            meta[name] = _uri(uris.https_uri, data[name], name)
    if data.get("scope") is not None:
        meta["scope"] = " ".join(scope_tokens(data["scope"], dynamic=dynamic))
    for name in TEXTS:
        if data.get(name) is not None:
            if not isinstance(data[name], str) or len(data[name]) > 200:
                raise _error(f"{name} must be a string of 200 characters at most")
            meta[name] = data[name]
    contacts = _strings(data, "contacts", limit=10)
    if contacts is not None:
        meta["contacts"] = contacts
    for name in ALGS:
        alg = data.get(name)
        if alg is None and dynamic and name == "id_token_signed_response_alg":
            alg = "RS256"
        if alg is not None:
            if alg not in keys.SUPPORTED_ALGS:
                raise _error(f"unsupported {name}: {alg}")
            meta[name] = alg
    for name in BOOLEANS:
        if data.get(name) is not None:
            if not isinstance(data[name], bool):
                raise _error(f"{name} must be true or false")
            meta[name] = data[name]
    realms = _strings(data, "admin_realms")
    if realms is not None:
        bad = [r for r in realms if not _SLUG.match(r)]
        if bad:
            raise _error(f"admin_realms: not a realm slug: {bad[0]}")
        meta["admin_realms"] = realms
    audiences = _strings(data, "audiences", limit=10)
    if audiences is not None:
        if any(not a or len(a) > 255 or any(ch.isspace() for ch in a) for a in audiences):
            raise _error("audiences: identifiers of 1 to 255 characters, no spaces")
        meta["audiences"] = audiences
    if dynamic:
        meta["first_party"] = False  # a self-registered app always asks for consent
        meta["dynamically_registered"] = True
    return meta


def is_confidential(meta: dict[str, Any]) -> bool:
    return meta.get("token_endpoint_auth_method", "client_secret_basic") != "none"


def authentication(meta: dict[str, Any]) -> tuple[Any, ...]:
    """What authenticates the client: changing any of it needs what a secret rotation
    needs (step-up)."""
    return (meta.get("token_endpoint_auth_method", "client_secret_basic"),
            meta.get("jwks"), meta.get("jwks_uri"))
