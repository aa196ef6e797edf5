"""The authorization endpoint (OIDC Core §3.1.2), written against the spec directly.

It decides between: an error page (unknown client or redirect URI: never redirect), an
error redirect (with ``state`` and ``iss``), the sign-in flow (no session, ``prompt=login``,
``max_age`` exceeded, ``id_token_hint`` for someone else), consent, or a code.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

from flask import g, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from ..clients import ClientInfo, find_client
from ..core.models import AuthorizationCode, Consent, SsoSession, utcnow
from ..extensions import db
from ..flow import machine
from ..redirects import respond
from ..sessions import current_sso, touch
from . import tokens
from .claims import SUPPORTED_SCOPES

RESPONSE_MODES = ("query", "form_post")


class AuthorizationError(Exception):
    """An error returned to the client's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


def error_page(message: str, status: int = 400) -> tuple[str, int]:
    return render_template("error.html", message=message), status


class ShownError(Exception):
    """An error about the client or its redirect URI: shown, never redirected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_request(args: dict[str, str]) -> tuple[ClientInfo, str, str]:
    """Validate client and redirect URI, raising ShownError; returns them and the mode."""
    client = find_client(g.realm.id, args.get("client_id"))
    if client is None:
        raise ShownError(_("Application inconnue : le lien de connexion est invalide."))
    redirect_uri = args.get("redirect_uri")
    if not redirect_uri:
        raise ShownError(_("Adresse de retour manquante : le lien de connexion est invalide."))
    if not client.check_redirect_uri(redirect_uri):
        raise ShownError(_("Adresse de retour non enregistrée pour cette application."))
    mode = args.get("response_mode") or "query"
    return client, redirect_uri, mode if mode in RESPONSE_MODES else "query"


def validate(client: ClientInfo, args: dict[str, str]) -> dict[str, Any]:
    """Check the remaining parameters; raise AuthorizationError for a redirect."""
    if "request" in args:
        raise AuthorizationError("request_not_supported", "Request objects are not supported")
    if "request_uri" in args:
        raise AuthorizationError(
            "request_uri_not_supported", "The request_uri parameter is not supported"
        )
    if args.get("response_mode", "query") not in RESPONSE_MODES:
        raise AuthorizationError("invalid_request", "Unsupported response_mode")
    response_type = args.get("response_type")
    if not response_type:
        raise AuthorizationError("invalid_request", "Missing response_type")
    if response_type != "code" or not client.check_response_type("code"):
        raise AuthorizationError("unsupported_response_type", "Only response_type=code")
    if not client.check_grant_type("authorization_code"):
        raise AuthorizationError("unauthorized_client", "Client may not use the code flow")
    requested = args.get("scope", "").split()
    scope = " ".join(s for s in requested if s in SUPPORTED_SCOPES)
    scope = client.get_allowed_scope(scope)
    if requested and not scope:
        raise AuthorizationError("invalid_scope", "No requested scope is allowed")
    challenge = args.get("code_challenge")
    method = args.get("code_challenge_method")
    if challenge:
        if method != "S256":
            raise AuthorizationError("invalid_request", "code_challenge_method must be S256")
        if not 43 <= len(challenge) <= 128:
            raise AuthorizationError("invalid_request", "Invalid code_challenge")
    elif client.is_public:
        raise AuthorizationError("invalid_request", "PKCE (S256) is required for public clients")
    prompts = args.get("prompt", "").split()
    if "none" in prompts and len(prompts) > 1:
        raise AuthorizationError("invalid_request", "prompt=none cannot be combined")
    max_age = args.get("max_age")
    if max_age is not None and (not max_age.isdigit()):
        raise AuthorizationError("invalid_request", "max_age must be a non-negative integer")
    claims_param = None
    if args.get("claims"):
        try:
            claims_param = json.loads(args["claims"])
        except ValueError:
            raise AuthorizationError("invalid_request", "claims is not valid JSON") from None
        if not isinstance(claims_param, dict):
            raise AuthorizationError("invalid_request", "claims must be a JSON object")
    return {
        "scope": scope,
        "prompts": prompts,
        "max_age": int(max_age) if max_age is not None else None,
        "claims": claims_param,
    }


def needs_login(sso: SsoSession | None, checks: dict[str, Any], args: dict[str, str]) -> bool:
    """Whether this request must (re)authenticate the customer."""
    if sso is None:
        return True
    fresh = session.pop("fresh_login", None)
    if fresh and fresh == args.get("_flow"):
        return False
    if "login" in checks["prompts"]:
        return True
    max_age = checks["max_age"]
    if max_age is not None and time.time() - sso.auth_time > max_age:
        return True
    hint = args.get("id_token_hint")
    if hint:
        decoded = tokens.decode_own(g.realm.id, hint)
        if decoded is None or decoded[1].get("sub") != sso.customer.sub:
            return True
    return False


def consent_missing(client: ClientInfo, sso: SsoSession, scope: str) -> bool:
    if client.get("first_party"):
        return False
    row = db.session.get(Consent, (sso.customer_id, client.pk))
    return row is None or not set(scope.split()) <= set(row.scope.split())


def issue_code(client: ClientInfo, sso: SsoSession, args: dict[str, str], checks: dict) -> str:
    code = tokens.opaque()
    db.session.add(
        AuthorizationCode(
            code_hash=tokens.digest(code),
            client_pk=client.pk,
            customer_id=sso.customer_id,
            sid=sso.id,
            redirect_uri=args["redirect_uri"],
            scope=checks["scope"],
            nonce=args.get("nonce"),
            code_challenge=args.get("code_challenge"),
            code_challenge_method=args.get("code_challenge_method") if args.get(
                "code_challenge") else None,
            auth_time=sso.auth_time,
            acr=sso.acr,
            amr=list(sso.amr or []),
            idp=sso.idp,
            claims=checks["claims"],
            expires_at=utcnow() + timedelta(seconds=int(g.realm_settings["code_lifetime"])),
        )
    )
    touch(sso)
    db.session.commit()
    return code


def authorize() -> Any:
    args = {k: v for k, v in (request.form if request.method == "POST" else request.args).items()}
    try:
        client, redirect_uri, mode = parse_request(args)
    except ShownError as exc:
        return error_page(exc.message)
    state = {"state": args["state"]} if "state" in args else {}
    try:
        checks = validate(client, args)
        sso = current_sso()
        if needs_login(sso, checks, args):
            if "none" in checks["prompts"]:
                raise AuthorizationError("login_required", "The customer is not signed in")
            return machine.begin(args, login_hint=args.get("login_hint"))
        assert sso is not None
        if sso.customer.required_actions:
            if "none" in checks["prompts"]:
                raise AuthorizationError("interaction_required", "Pending required actions")
            return machine.begin(args, login_hint=sso.customer.identifier)
        decision = consent_decision(client, sso, checks, args)
        if decision is not None:
            return decision
    except AuthorizationError as exc:
        return respond(
            redirect_uri, mode, {"error": exc.error, "error_description": exc.description, **state}
        )
    code = issue_code(client, sso, args, checks)
    return respond(redirect_uri, mode, {"code": code, **state})


def consent_decision(
    client: ClientInfo, sso: SsoSession, checks: dict[str, Any], args: dict[str, str]
) -> Any:
    """Show or record consent for third-party clients; None when the flow may go on."""
    answer = request.form.get("consent") if request.method == "POST" else None
    if answer:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError):
            return error_page(_("La session a expiré. Veuillez recommencer."))
        if answer != "approve":
            raise AuthorizationError("access_denied", "The customer denied the request")
        row = db.session.get(Consent, (sso.customer_id, client.pk))
        if row is None:
            row = Consent(customer_id=sso.customer_id, client_pk=client.pk, scope="")
            db.session.add(row)
        row.scope = " ".join(sorted(set(row.scope.split()) | set(checks["scope"].split())))
        return None
    if "consent" in checks["prompts"] or consent_missing(client, sso, checks["scope"]):
        if "none" in checks["prompts"]:
            raise AuthorizationError("consent_required", "Consent is required")
        hidden = {k: v for k, v in args.items() if k not in ("prompt", "consent", "csrf_token")}
        return render_template(
            "consent.html",
            client_name=client.get("client_name") or client.client_id,
            scopes=checks["scope"].split(),
            hidden=hidden,
            action=url_for("oidc.authorize", realm=g.realm.slug),
        )
    return None
