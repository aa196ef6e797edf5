"""The authorization endpoint (OIDC Core §3.1.2) as a pipeline of small named checks.

First the checks whose failure is *shown* (unknown client, bad redirect URI: never
redirect), then those whose failure is *redirected* to the client (with ``state`` and
``iss``), then the decision: sign-in flow (no session, ``prompt=login``, ``max_age``,
``id_token_hint`` for someone else), consent, or a code.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask import g, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from shared import pkce
from shared.security import CSP

from ..core import consents, interaction, sessions, tokens
from ..core.claims import SUPPORTED_SCOPES
from ..core.clients import ClientInfo, find_client
from ..core.clients.uris import logo_origin
from ..core.db import db
from ..core.models import AuthorizationCode, SsoSession, utcnow
from ..flow import machine
from ..web.context import app_settings
from ..web.redirects import respond
from ..web.session import current_sso
from .blueprint import PROTOCOL, bp

RESPONSE_MODES = ("query", "form_post")
_CODE = AuthorizationCode.__table__


class AuthorizationError(Exception):
    """An error returned to the client's redirect URI."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


class ShownError(Exception):
    """An error about the client or its redirect URI: shown, never redirected."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def error_page(message: str, status: int = 400) -> tuple[str, int]:
    return render_template("error.html", message=message), status


@dataclass
class AuthzRequest:
    """What the checks learn about the request, step by step."""

    args: dict[str, str]
    client: ClientInfo | None = None
    redirect_uri: str = ""
    mode: str = "query"
    scope: str = ""
    prompts: list[str] = field(default_factory=list)
    max_age: int | None = None
    claims: dict[str, Any] | None = None
    #: This request resumes a sign-in that just completed (no second login prompt).
    fresh: bool = False


# --- shown checks ---------------------------------------------------------------------------

def check_client(req: AuthzRequest) -> None:
    req.client = find_client(g.realm.id, req.args.get("client_id"),
                             app_settings().client_secret_key)
    if req.client is None:
        raise ShownError(_("Application inconnue : le lien de connexion est invalide."))


def check_redirect_uri(req: AuthzRequest) -> None:
    assert req.client is not None
    uri = req.args.get("redirect_uri")
    if not uri:
        raise ShownError(_("Adresse de retour manquante : le lien de connexion est invalide."))
    if not req.client.check_redirect_uri(uri):
        raise ShownError(_("Adresse de retour non enregistrée pour cette application."))
    req.redirect_uri = uri
    mode = req.args.get("response_mode") or "query"
    req.mode = mode if mode in RESPONSE_MODES else "query"


SHOWN_CHECKS: tuple[Callable[[AuthzRequest], None], ...] = (check_client, check_redirect_uri)


# --- redirected checks ----------------------------------------------------------------------

def check_request_objects(req: AuthzRequest) -> None:
    if "request" in req.args:
        raise AuthorizationError("request_not_supported", "Request objects are not supported")
    if "request_uri" in req.args:
        raise AuthorizationError("request_uri_not_supported",
                                 "The request_uri parameter is not supported")


def check_response_type(req: AuthzRequest) -> None:
    assert req.client is not None
    if req.args.get("response_mode", "query") not in RESPONSE_MODES:
        raise AuthorizationError("invalid_request", "Unsupported response_mode")
    response_type = req.args.get("response_type")
    if not response_type:
        raise AuthorizationError("invalid_request", "Missing response_type")
    if response_type != "code" or not req.client.check_response_type("code"):
        raise AuthorizationError("unsupported_response_type", "Only response_type=code")
    if not req.client.check_grant_type("authorization_code"):
        raise AuthorizationError("unauthorized_client", "Client may not use the code flow")


def check_prompt(req: AuthzRequest) -> None:
    req.prompts = req.args.get("prompt", "").split()
    if "none" in req.prompts and len(req.prompts) > 1:
        raise AuthorizationError("invalid_request", "prompt=none cannot be combined")
    max_age = req.args.get("max_age")
    if max_age is not None and not max_age.isdigit():
        raise AuthorizationError("invalid_request", "max_age must be a non-negative integer")
    req.max_age = int(max_age) if max_age is not None else None


def check_scope(req: AuthzRequest) -> None:
    """Allowed scopes only. ``offline_access`` follows OIDC Core §11: ignored unless the
    request has ``prompt=consent`` — except for first-party clients, whose consent is the
    agency's own (documented in docs/admin-api.md, "Consent")."""
    assert req.client is not None
    requested = req.args.get("scope", "").split()
    kept = [s for s in requested if s in SUPPORTED_SCOPES]
    consenting = request.method == "POST" and "consent" in request.form
    if ("offline_access" in kept and "consent" not in req.prompts and not consenting
            and not req.client.get("first_party")):
        kept.remove("offline_access")
    req.scope = req.client.get_allowed_scope(" ".join(kept))
    if requested and not req.scope:
        raise AuthorizationError("invalid_scope", "No requested scope is allowed")


def check_pkce(req: AuthzRequest) -> None:
    assert req.client is not None
    challenge = req.args.get("code_challenge")
    method = req.args.get("code_challenge_method")
    if challenge:
        if method != "S256":
            raise AuthorizationError("invalid_request", "code_challenge_method must be S256")
        if not pkce.valid_challenge(challenge):
            raise AuthorizationError("invalid_request", "Invalid code_challenge")
    elif req.client.is_public:
        raise AuthorizationError("invalid_request", "PKCE (S256) is required for public clients")


def check_claims(req: AuthzRequest) -> None:
    raw = req.args.get("claims")
    if not raw:
        return
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise AuthorizationError("invalid_request", "claims is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise AuthorizationError("invalid_request", "claims must be a JSON object")
    req.claims = parsed


REDIRECTED_CHECKS: tuple[Callable[[AuthzRequest], None], ...] = (
    check_request_objects, check_response_type, check_prompt, check_scope, check_pkce,
    check_claims,
)


# --- decision -------------------------------------------------------------------------------

def needs_login(req: AuthzRequest, sso: SsoSession | None) -> bool:
    """Whether this request must (re)authenticate the customer."""
    if sso is None:
        return True
    if req.fresh:
        return False
    if "login" in req.prompts:
        return True
    if req.max_age is not None and time.time() - sso.auth_time > req.max_age:
        return True
    hint = req.args.get("id_token_hint")
    if hint:
        decoded = tokens.decode_own(g.realm.id, hint)
        if decoded is None or decoded[1].get("sub") != sso.customer.sub:
            return True
    return False


def issue_code(req: AuthzRequest, sso: SsoSession) -> str:
    assert req.client is not None
    code = tokens.opaque()
    args = req.args
    # One plain INSERT (Core, no ORM unit of work), committed with the session's touch.
    db.session.execute(_CODE.insert(), {
        "code_hash": tokens.digest(code),
        "client_pk": req.client.pk,
        "customer_id": sso.customer_id,
        "sid": sso.id,
        "redirect_uri": req.redirect_uri,
        "scope": req.scope,
        "nonce": args.get("nonce"),
        "code_challenge": args.get("code_challenge"),
        "code_challenge_method": "S256" if args.get("code_challenge") else None,
        "auth_time": sso.auth_time,
        "acr": sso.acr,
        "amr": list(sso.amr or []),
        "idp": sso.idp,
        "claims": req.claims,
        "expires_at": utcnow() + timedelta(seconds=g.realm.settings.code_lifetime),
    })
    sessions.touch(sso)
    db.session.commit()
    return code


def _request_args() -> tuple[dict[str, str], bool]:
    """The request's parameters; for a resumed sign-in, the original request's (once)."""
    source = request.form if request.method == "POST" else request.args
    resumed = source.get("_ix")
    if resumed:
        ix = interaction.resume(resumed, g.realm.id)
        sso = current_sso()
        db.session.commit()
        if ix is not None and ix.request is not None and sso is not None and ix.sid == sso.id:
            return dict(ix.request), True
        raise ShownError(_("Cette connexion a déjà été utilisée ou a expiré. "
                           "Retournez à l'application pour recommencer."))
    return {k: v for k, v in source.items()}, False


@bp.route(f"{PROTOCOL}/auth", methods=["GET", "POST"])
def authorize() -> Any:
    try:
        args, fresh = _request_args()
        req = AuthzRequest(args=args, fresh=fresh)
        for check in SHOWN_CHECKS:
            check(req)
    except ShownError as exc:
        return error_page(exc.message)
    state = {"state": req.args["state"]} if "state" in req.args else {}
    try:
        for check in REDIRECTED_CHECKS:
            check(req)
        sso = current_sso()
        if needs_login(req, sso):
            if "none" in req.prompts:
                raise AuthorizationError("login_required", "The customer is not signed in")
            return machine.begin(req.args, login_hint=req.args.get("login_hint"))
        assert sso is not None
        if sso.customer.required_actions:
            if "none" in req.prompts:
                raise AuthorizationError("interaction_required", "Pending required actions")
            return machine.begin(req.args, login_hint=sso.customer.identifier)
        decision = consent_decision(req, sso)
        if decision is not None:
            return decision
    except AuthorizationError as exc:
        return respond(req.redirect_uri, req.mode,
                       {"error": exc.error, "error_description": exc.description, **state})
    code = issue_code(req, sso)
    return respond(req.redirect_uri, req.mode, {"code": code, **state})


def consent_decision(req: AuthzRequest, sso: SsoSession) -> Any:
    """Show or record consent (rules in :mod:`idp.core.consents`); None when the flow may
    go on."""
    client = req.client
    assert client is not None
    answer = request.form.get("consent") if request.method == "POST" else None
    if answer:
        try:
            validate_csrf(request.form.get("csrf_token"))
        except (ValidationError, CSRFError):
            return error_page(_("La session a expiré. Veuillez recommencer."))
        if answer != "approve":
            raise AuthorizationError("access_denied", "The customer denied the request")
        consents.grant(sso.customer_id, client, req.scope)
        return None
    if consents.needs_consent(client, sso.customer_id, req.scope,
                              ask_again="consent" in req.prompts):
        if "none" in req.prompts:
            raise AuthorizationError("consent_required", "Consent is required")
        hidden = {k: v for k, v in req.args.items() if k not in ("prompt", "consent",
                                                                 "csrf_token", "_ix")}
        if "consent" in req.prompts and "offline_access" in req.args.get("scope", ""):
            hidden["scope"] = req.scope  # offline_access was granted by this consent
        # The logo's origin is rebuilt from its checked host before it may reach the CSP
        # header: a stored logo_uri (older rows, an import) is never pasted verbatim.
        logo_source = logo_origin(client.get("logo_uri"))
        logo = client.get("logo_uri") if logo_source else None
        page = make_response(render_template(
            "consent.html",
            client_name=client.get("client_name") or client.client_id,
            client_uri=client.get("client_uri"), logo_uri=logo,
            policy_uri=client.get("policy_uri"),
            scopes=[s for s in req.scope.split() if s not in consents.SILENT_SCOPES],
            hidden=hidden,
            action=url_for("oidc.authorize", realm=g.realm.slug),
        ))
        if logo_source:  # the app's logo is the one image from elsewhere the idp shows
            page.headers["Content-Security-Policy"] = CSP.format(
                form_action=app_settings().csp_form_action).replace(
                "img-src 'self' data:", f"img-src 'self' data: {logo_source}")
        return page
    return None
