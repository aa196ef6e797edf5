"""Bearer-token JSON API (``/api/v1``) for mobile and other agency apps.

Tokens are RFC 9068 JWT access tokens of the portal's issuer, verified locally against the
cached JWKS (see ``shared.token_verification``): no round-trip to the idp per request.
``API_TOKEN_VALIDATION = "introspection"`` swaps in RFC 7662 introspection instead, for
deployments that want immediate revocation at the cost of one HTTP call per request.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

import requests
from flask import Blueprint, Flask, current_app, g, jsonify, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from shared.token_verification import InsufficientScope, KeySourceError, TokenError

from .api_spec import openapi_document
from .extensions import db
from .models import Customer, Document, summary
from .money import format_amount
from .oidc_client import OIDCClient, ProviderUnavailable

bp = Blueprint("api", __name__, url_prefix="/api/v1")
REQUIRED_SCOPE = "customer"
Validator = Callable[[str], dict[str, Any]]


class LocalValidator:
    """Verify the JWT in-process (signature, typ at+jwt, iss, aud, exp, scope)."""

    def __init__(self, client: OIDCClient, audience: str) -> None:
        self.client = client
        self.audience = audience

    def __call__(self, token: str) -> dict[str, Any]:
        """Return the token's claims or raise ``TokenError``/``InsufficientScope``."""
        return self.client.verifier.verify_access_token(
            token, audience=self.audience, required_scopes=(REQUIRED_SCOPE,)
        )


class IntrospectionValidator:
    """Ask the idp (RFC 7662) about every token: revocation is seen at once, but slower."""

    def __init__(self, client: OIDCClient, audience: str, endpoint: str | None = None) -> None:
        self.client = client
        self.audience = audience
        self.endpoint = endpoint

    def __call__(self, token: str) -> dict[str, Any]:
        """Return the introspection answer as claims or raise ``TokenError``."""
        endpoint = self.endpoint or self.client.endpoint("introspection_endpoint")
        try:
            response = self.client.http.post(
                endpoint,
                data={"token": token, "token_type_hint": "access_token"},
                auth=(self.client.client_id, self.client.client_secret or ""),
                timeout=self.client.timeout,
            )
            claims = response.json()
        except (requests.RequestException, ValueError) as exc:
            raise KeySourceError(str(exc)) from exc
        if not isinstance(claims, dict) or not claims.get("active"):
            raise TokenError("token is not active")
        # A refresh token is active too, but it is a credential for the token endpoint,
        # never for this API (RFC 6749 §1.5).
        if str(claims.get("token_type") or "bearer").lower() not in ("bearer", "access_token"):
            raise TokenError("not an access token")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else list(aud or [])
        if self.audience not in audiences:
            raise TokenError("wrong audience")
        if REQUIRED_SCOPE not in str(claims.get("scope", "")).split():
            raise InsufficientScope("scope lacks " + REQUIRED_SCOPE)
        return claims


def init_app(app: Flask) -> None:
    """Choose the token validator from ``API_TOKEN_VALIDATION``."""
    client = app.extensions["portal_oidc"]
    audience = app.config["API_AUDIENCE"]
    if app.config["API_TOKEN_VALIDATION"] == "introspection":
        app.extensions["portal_token_validator"] = IntrospectionValidator(client, audience)
    else:
        app.extensions["portal_token_validator"] = LocalValidator(client, audience)


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', "'")


def _auth_error(status: int, error: str | None, description: str | None = None) -> Response:
    """RFC 6750 §3: no error code when credentials are missing, else invalid_token & co."""
    parts = ['Bearer realm="portal"']
    if error:
        parts.append(f'error="{error}"')
    if description:
        parts.append(f'error_description="{_quote(description)}"')
    if error == "insufficient_scope":
        parts.append(f'scope="{REQUIRED_SCOPE}"')
    body: dict[str, str] = {"error": error or "unauthorized"}
    if description:
        body["error_description"] = description
    response = jsonify(body)
    response.status_code = status
    response.headers["WWW-Authenticate"] = ", ".join(parts)
    return response


def _authenticate() -> Response | None:
    """Check the bearer token and set ``g.api_claims`` and ``g.api_key`` (issuer,
    customer id); an error response when it fails."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if not header:
        return _auth_error(401, None)
    if scheme.lower() != "bearer" or not token.strip():
        return _auth_error(401, "invalid_request", "expected a Bearer token")
    validator: Validator = current_app.extensions["portal_token_validator"]
    try:
        claims = validator(token.strip())
    except InsufficientScope as exc:
        return _auth_error(403, "insufficient_scope", exc.description)
    except TokenError as exc:
        return _auth_error(401, "invalid_token", exc.description)
    except (KeySourceError, ProviderUnavailable):
        response = jsonify(error="temporarily_unavailable")
        response.status_code = 503
        response.headers["Retry-After"] = "30"
        return response
    claim = current_app.config["CUSTOMER_CLAIM"]
    customer_id = claims.get(claim)
    if not customer_id:
        return _auth_error(401, "invalid_token", f"token has no {claim}")
    g.api_claims = claims
    g.api_key = (str(claims["iss"]).rstrip("/"), str(customer_id))
    return None


def require_claims(view: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate the bearer token only (the view reads what it needs itself)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return _authenticate() or view(*args, **kwargs)

    return wrapper


def require_token(view: Callable[..., Any]) -> Callable[..., Any]:
    """Authenticate the bearer token and load ``g.api_customer`` (None if no data yet)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        error = _authenticate()
        if error is not None:
            return error
        g.api_customer = Customer.find(*g.api_key)
        return view(*args, **kwargs)

    return wrapper


@bp.after_request
def _no_store(response: Response) -> Response:
    response.headers.setdefault("Cache-Control", "no-store")
    return response


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description of this API."""
    return jsonify(openapi_document(current_app.config["PUBLIC_URL"]))


@bp.get("/me")
@require_claims
def me() -> Response:
    """Who the token speaks for, the balance and the number of open interventions (one
    query: the busiest call of the API)."""
    claims = g.api_claims
    row = summary(*g.api_key)
    balance = int(row.balance or 0) if row else 0
    return jsonify(
        issuer=claims["iss"],
        sub=claims["sub"],
        customer_id=str(claims[current_app.config["CUSTOMER_CLAIM"]]),
        name=(row.display_name if row else "") or None,
        balance={"amount_cents": balance, "currency": "EUR",
                 "formatted": format_amount(balance, "fr")},
        open_interventions=int(row.open_interventions or 0) if row else 0,
        agency={"code": row.agency_code, "name": row.agency_name, "phone": row.agency_phone}
        if row is not None and row.agency_code is not None else None,
    )


@bp.get("/properties")
@require_token
def properties() -> Response:
    """The customer's lots."""
    items = g.api_customer.properties if g.api_customer else []
    return jsonify(properties=[
        {"ref": p.ref, "label": p.label, "kind": p.kind, "address": p.address,
         "postal_code": p.postal_code, "city": p.city, "role": p.role}
        for p in items
    ])


@bp.get("/accounts")
@require_token
def accounts() -> Response:
    """Balance and ledger (oldest first) with the running balance after each entry."""
    entries, balance = [], 0
    for e in (g.api_customer.ledger if g.api_customer else []):
        balance += e.credit_cents - e.debit_cents
        entries.append({
            "ref": e.ref, "date": e.date.isoformat(), "label": e.label,
            "debit_cents": e.debit_cents, "credit_cents": e.credit_cents,
            "balance_cents": balance, "property_ref": e.property_ref or None,
        })
    return jsonify(currency="EUR", balance_cents=balance, entries=entries)


@bp.get("/interventions")
@require_token
def interventions() -> Response:
    """Interventions, optionally filtered with ``?status=en_cours|terminee``."""
    status = request.args.get("status")
    items = g.api_customer.interventions if g.api_customer else []
    return jsonify(interventions=[
        {"ref": i.ref, "title": i.title, "description": i.description, "status": i.status,
         "property_ref": i.property_ref or None, "opened_on": i.opened_on.isoformat(),
         "closed_on": i.closed_on.isoformat() if i.closed_on else None, "provider": i.provider}
        for i in items if status in (None, i.status)
    ])


@bp.get("/documents")
@require_token
def documents() -> Response:
    """The customer's documents, with a download URL each."""
    items = g.api_customer.documents if g.api_customer else []
    return jsonify(documents=[
        {"ref": d.ref, "title": d.title, "category": d.category, "date": d.date.isoformat(),
         "filename": d.filename, "content_type": d.content_type,
         "download_url": url_for("api.document_content", ref=d.ref, _external=False)}
        for d in items
    ])


@bp.get("/documents/<ref>")
@require_token
def document_content(ref: str) -> Response:
    """One document's bytes (404 when it is not this customer's)."""
    customer = g.api_customer
    document = customer and db.session.scalar(
        select(Document).where(Document.customer_pk == customer.id, Document.ref == ref)
    )
    if not document:
        response = jsonify(error="not_found")
        response.status_code = 404
        return response
    response = Response(document.content, mimetype=document.content_type)
    response.headers.set("Content-Disposition", "attachment", filename=document.filename)
    return response
