"""Dynamic Client Registration (RFC 7591 §3) and client management (RFC 7592 §2).

``POST …/clients-registrations/openid-connect`` (Keycloak's path) with an initial access
token as a bearer token registers a client; the answer carries its registration access
token and ``registration_client_uri``, where the client reads (GET), replaces (PUT) or
deletes (DELETE) its registration with that token. The rules live in
:mod:`idp.core.registration`; this module only speaks HTTP.
"""

from __future__ import annotations

import base64
from typing import Any

from flask import Response, g, jsonify, request

from ..core import initial_tokens
from ..core import registration as rules
from ..core.db import db
from ..core.models import Client
from ..core.realms import realm_row
from ..web.context import app_settings
from .blueprint import bp, endpoint_url, no_store

REGISTRATION = "/clients-registrations/openid-connect"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def _token_forms(raw: str | None) -> list[str]:
    """The bearer as sent, and base64-decoded: some client libraries (pyoidc) base64-encode
    an initial access token that is not a JWT before sending it."""
    if not raw:
        return []
    forms = [raw]
    try:
        decoded = base64.b64decode(raw + "=" * (-len(raw) % 4), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return forms
    if decoded and decoded.isprintable():
        forms.append(decoded)
    return forms


def _error(code: str, description: str, status: int = 400) -> Response:
    resp = jsonify(error=code, error_description=description)
    resp.status_code = status
    return no_store(resp)


def _invalid_token() -> Response:
    """RFC 6750 §3.1: 401 with the challenge (no detail on which check failed)."""
    resp = _error("invalid_token", "The access token is missing, expired or used up", 401)
    resp.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return resp


def _body() -> Any:
    if not request.is_json:
        return None
    return request.get_json(silent=True)


def client_uri(client_id: str) -> str:
    return endpoint_url("oidc.register") + "/" + client_id


@bp.route(REGISTRATION, methods=["POST"])
def register() -> Response:
    """RFC 7591 §3.1. The initial access token is checked first, before the body is even
    read (an anonymous caller learns nothing of the validation and costs no parsing);
    its use is spent in the transaction of the registration, so a refused one (rolled
    back) is retried with the same token."""
    token_id = None
    for candidate in _token_forms(_bearer()):
        token_id = initial_tokens.spend(g.realm.id, candidate)
        if token_id is not None:
            break
    if token_id is None:
        db.session.rollback()
        return _invalid_token()
    try:
        row, secret, reg_token = rules.register(app_settings().client_secret_key,
                                                realm_row(g.realm), _body(), token_id)
    except rules.RegistrationError as exc:
        db.session.rollback()
        return _error(exc.code, exc.description)
    db.session.commit()
    resp = jsonify(rules.response(row, client_uri(row.client_id), secret=secret,
                                  registration_token=reg_token))
    resp.status_code = 201
    return no_store(resp)


def _managed_client(client_id: str) -> Client | None:
    """The client the bearer's registration access token manages, if it is ``client_id``."""
    pk = initial_tokens.client_by_registration_token(_bearer())
    if pk is None:
        return None
    row = db.session.get(Client, pk)
    if row is None or row.client_id != client_id or row.realm_id != g.realm.id:
        return None
    return row


@bp.route(f"{REGISTRATION}/<client_id>", methods=["GET", "PUT", "DELETE"])
def manage(client_id: str) -> Response:
    """RFC 7592 §2: read, update or delete one's own registration."""
    row = _managed_client(client_id)
    if row is None:
        return _invalid_token()
    if request.method == "DELETE":
        rules.delete(realm_row(g.realm), row)
        db.session.commit()
        return no_store(Response(status=204))
    if request.method == "PUT":
        try:
            rules.update(app_settings().client_secret_key, realm_row(g.realm), row, _body())
        except rules.RegistrationError as exc:
            db.session.rollback()
            return _error(exc.code, exc.description)
        db.session.commit()
        db.session.refresh(row)
    return no_store(jsonify(rules.response(row, client_uri(row.client_id))))
