"""UserInfo (OIDC Core §5.3): bearer in the header, or (POST) in the form body."""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import Response, g, jsonify, request

from ..core import tokens, ways_in
from ..core.claims import claims_for_scope, requested_claims
from ..core.db import db
from ..core.models import Customer, Token, utcnow
from ..web.context import issuer
from .blueprint import PROTOCOL, bp, no_store
from .token_lookup import ACCESS, Found, stateless


def _bearer_error(error: str, description: str, status: int = 401) -> Response:
    resp = jsonify({"error": error, "error_description": description})
    resp.status_code = status
    header = f'Bearer realm="{g.realm.slug}"'
    if error:
        header += f', error="{error}", error_description="{description}"'
    resp.headers["WWW-Authenticate"] = header
    return no_store(resp)


def _access_row(claims: dict[str, Any]) -> Found | None:
    row = db.session.execute(
        db.select(Token).filter_by(access_jti=claims.get("jti"))
    ).scalar_one_or_none()
    if row is not None:
        return Found(row, ACCESS)
    # A stateless client-credentials token: valid, but it has no customer (403 below).
    return stateless(g.realm.id, claims)


@bp.route(f"{PROTOCOL}/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    header = request.headers.get("Authorization", "")
    value = None
    if header[:7].lower() == "bearer ":
        value = header[7:].strip()
    elif request.method == "POST":
        value = request.form.get("access_token")
    if not value:
        resp = _bearer_error("", "")
        resp.headers["WWW-Authenticate"] = f'Bearer realm="{g.realm.slug}"'
        return resp
    decoded = tokens.decode_own(g.realm.id, value)
    if decoded is None or decoded[0].get("typ") != "at+jwt":
        return _bearer_error(InvalidTokenError.error, "The access token is invalid")
    claims = decoded[1]
    found = _access_row(claims)
    row = found.row if found is not None else None
    if (row is None or row.revoked_at is not None or row.access_expires_at <= utcnow()
            or claims.get("iss") != issuer() or row.realm_id != g.realm.id):
        return _bearer_error(InvalidTokenError.error, "The access token is expired or revoked")
    if "openid" not in row.scope.split() or row.customer_id is None:
        return _bearer_error("insufficient_scope", "The openid scope is required", 403)
    customer = db.session.get(Customer, row.customer_id)
    if ways_in.may_sign_in(customer) is not None:
        return _bearer_error(InvalidTokenError.error, "The access token is expired or revoked")
    data = claims_for_scope(customer, row.scope, requested_claims(row.claims, "userinfo"))
    return no_store(jsonify(data))
