"""Token revocation (RFC 7009). Revoking a refresh token revokes its whole rotation
chain; a client may revoke only its own tokens."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc7009 import RevocationEndpoint
from flask import Response, g, request

from ..core.clients import AUTH_METHODS
from ..core.db import db
from ..core.logout import revoke_where
from ..core.models import Token
from .blueprint import PROTOCOL, bp, no_store, oauth_server
from .errors import MISSING_TOKEN, with_description
from .token_lookup import REFRESH, Found, deny, lookup


class Revocation(RevocationEndpoint):
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    def query_token(self, token_string: str, token_type_hint: str | None) -> Found | None:
        return lookup(g.realm.id, token_string, token_type_hint)

    def authenticate_token(self, request: Any, client: Any) -> Found | None:
        """Another client's token is treated as unknown (RFC 7009 §2.2: 200 either way)."""
        self.check_params(request, client)
        found = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        return found if found is not None and found.check_client(client) else None

    def revoke_token(self, token: Found, request: Any) -> None:
        if not token.stored:
            deny(token)  # a stateless client-credentials token: its jti is denied
        elif token.kind == REFRESH:
            revoke_where(Token.family_id == token.row.family_id)
        else:
            revoke_where(Token.id == token.row.id)
        db.session.commit()


@bp.route(f"{PROTOCOL}/revoke", methods=["POST"])
def revoke() -> Response:
    missing = MISSING_TOKEN if not request.form.get("token") else None
    return no_store(with_description(oauth_server().create_endpoint_response("revocation"),
                                     missing))
