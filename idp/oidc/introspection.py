"""Token introspection (RFC 7662), for confidential clients.

A client may introspect only tokens issued to it, or tokens whose audience names it
(a registered resource server); every lookup is scoped to the realm; ``aud`` is
returned so a resource server can check it.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import Response, g

from ..core.clients import CONFIDENTIAL_METHODS, ClientInfo
from ..core.db import db
from ..core.models import Client, epoch, utcnow
from ..web.context import issuer
from .blueprint import PROTOCOL, bp, no_store, oauth_server
from .errors import with_description
from .token_lookup import ACCESS, REFRESH, Found, lookup


def _audiences(found: Found, client_row: Client | None) -> list[str]:
    if client_row is None:
        return []
    meta = client_row.meta or {}
    return [client_row.client_id, *(meta.get("audiences") or [])]


class Introspection(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Found | None:
        return lookup(g.realm.id, token_string, token_type_hint)

    def check_permission(self, token: Found, client: ClientInfo, request: Any) -> bool:
        if token.row.client_pk == client.pk:
            return True
        if token.kind != ACCESS:
            return False  # a refresh token concerns only the client it was issued to
        owner = db.session.get(Client, token.row.client_pk)
        return client.client_id in _audiences(token, owner)

    def introspect_token(self, token: Found) -> dict[str, Any]:
        row, kind = token.row, token.kind
        expires = row.refresh_expires_at if kind == REFRESH else row.access_expires_at
        if row.revoked_at or (kind == REFRESH and row.rotated_at) or (
            expires is None or expires <= utcnow()
        ):
            return {"active": False}
        client_row = db.session.get(Client, row.client_pk)
        audiences = _audiences(token, client_row)
        data: dict[str, Any] = {
            "active": True,
            "scope": row.scope,
            "client_id": client_row.client_id if client_row else None,
            "token_type": "Bearer" if kind == ACCESS else "refresh_token",
            "exp": epoch(expires),
            "iat": epoch(row.created_at),
            "iss": issuer(),
            "aud": audiences[0] if len(audiences) == 1 else audiences,
        }
        if row.customer is not None:
            data["sub"] = row.customer.sub
            data["username"] = row.customer.identifier
            if "customer" in row.scope.split():
                data["customer_id"] = row.customer.identifier
        elif client_row:
            data["sub"] = client_row.client_id
        if row.sid:
            data["sid"] = row.sid
        return {k: v for k, v in data.items() if v not in (None, [])}


@bp.route(f"{PROTOCOL}/token/introspect", methods=["POST"])
def introspect() -> Response:
    return no_store(with_description(oauth_server().create_endpoint_response("introspection")))
