"""One view per OIDC endpoint, under ``/realms/<realm>/``; discovery tells clients where.

Paths follow Keycloak's layout (``protocol/openid-connect/...``) so agencies moving from
Keycloak keep their client configuration habits.
"""

from __future__ import annotations

from typing import Any

from authlib.oauth2.rfc6750 import InvalidTokenError
from flask import (
    Response,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from ..clients import find_client
from ..core.models import Customer, Token, utcnow
from ..extensions import csrf, db
from ..realms import issuer_of, realm_blueprint
from ..redirects import with_params
from ..sessions import current_sso
from . import authorize as authorize_module
from . import keys, tokens
from .claims import SUPPORTED_CLAIMS, SUPPORTED_SCOPES, claims_for_scope, requested_claims
from .logout import end_session as end_session_row
from .server import authorization

bp = realm_blueprint("oidc", __name__)
csrf.exempt(bp)
PROTOCOL = "/protocol/openid-connect"



def no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


def _url(endpoint: str) -> str:
    return issuer_of(g.realm) + url_for(endpoint).split(f"/realms/{g.realm.slug}", 1)[1]


@bp.route("/.well-known/openid-configuration")
def discovery() -> Response:
    auth_methods = ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"]
    doc: dict[str, Any] = {
        "issuer": issuer_of(g.realm),
        "authorization_endpoint": _url("oidc.authorize"),
        "token_endpoint": _url("oidc.token"),
        "userinfo_endpoint": _url("oidc.userinfo"),
        "jwks_uri": _url("oidc.jwks"),
        "end_session_endpoint": _url("oidc.end_session"),
        "revocation_endpoint": _url("oidc.revoke"),
        "introspection_endpoint": _url("oidc.introspect"),
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(keys.SUPPORTED_ALGS),
        "userinfo_signing_alg_values_supported": ["none"],
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256", "PS256"],
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "introspection_endpoint_auth_methods_supported": auth_methods[:3],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": SUPPORTED_CLAIMS,
        "claims_parameter_supported": True,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "acr_values_supported": ["1"],
        "ui_locales_supported": ["fr", "en"],
        "claim_types_supported": ["normal"],
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
    }
    return jsonify(doc)


@bp.route(f"{PROTOCOL}/certs")
def jwks() -> Response:
    resp = jsonify(keys.jwks(g.realm.id))
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.route(f"{PROTOCOL}/auth", methods=["GET", "POST"])
def authorize() -> Any:
    return authorize_module.authorize()


@bp.route(f"{PROTOCOL}/token", methods=["POST"])
def token() -> Response:
    resp = authorization.create_token_response()
    # One transaction per grant: code use, token rows and session links together.
    if resp.status_code == 200:
        db.session.commit()
    else:
        db.session.rollback()
    return no_store(resp)


@bp.route(f"{PROTOCOL}/revoke", methods=["POST"])
def revoke() -> Response:
    return no_store(authorization.create_endpoint_response("revocation"))


@bp.route(f"{PROTOCOL}/token/introspect", methods=["POST"])
def introspect() -> Response:
    return no_store(authorization.create_endpoint_response("introspection"))


def _bearer_error(error: str, description: str, status: int = 401) -> Response:
    resp = jsonify({"error": error, "error_description": description})
    resp.status_code = status
    header = f'Bearer realm="{g.realm.slug}"'
    if error:
        header += f', error="{error}", error_description="{description}"'
    resp.headers["WWW-Authenticate"] = header
    return no_store(resp)


@bp.route(f"{PROTOCOL}/userinfo", methods=["GET", "POST"])
def userinfo() -> Response:
    """UserInfo (OIDC Core §5.3): bearer in the header, or (POST) in the form body."""
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
    row = db.session.execute(
        db.select(Token).filter_by(access_jti=claims.get("jti"))
    ).scalar_one_or_none()
    if (
        row is None
        or row.revoked_at is not None
        or row.access_expires_at <= utcnow()
        or claims.get("iss") != issuer_of(g.realm)
    ):
        return _bearer_error(InvalidTokenError.error, "The access token is expired or revoked")
    if "openid" not in row.scope.split() or row.customer_id is None:
        return _bearer_error("insufficient_scope", "The openid scope is required", 403)
    customer = db.session.get(Customer, row.customer_id)
    data = claims_for_scope(customer, row.scope, requested_claims(row.claims, "userinfo"))
    return no_store(jsonify(data))



@bp.route(f"{PROTOCOL}/logout", methods=["GET", "POST"])
def end_session() -> Any:
    """RP-initiated logout 1.0: never redirects on a bad hint or an unregistered URI."""
    args = request.form if request.method == "POST" else request.args
    hint = args.get("id_token_hint")
    post_logout = args.get("post_logout_redirect_uri")
    hint_claims: dict[str, Any] | None = None
    if hint:
        decoded = tokens.decode_own(g.realm.id, hint)
        if decoded is None or decoded[1].get("iss") != issuer_of(g.realm):
            return authorize_module.error_page(_("Demande de déconnexion invalide."))
        hint_claims = decoded[1]
    client = None
    client_id = args.get("client_id") or (hint_claims or {}).get("aud")
    if isinstance(client_id, list):
        client_id = client_id[0] if client_id else None
    if client_id:
        client = find_client(g.realm.id, client_id)
        if client is None:
            return authorize_module.error_page(_("Application inconnue."))
    if post_logout and (client is None or post_logout not in client.get(
        "post_logout_redirect_uris")):
        return authorize_module.error_page(
            _("Adresse de retour après déconnexion non enregistrée pour cette application.")
        )
    sso = current_sso()
    confirmed = request.method == "POST" and args.get("confirm") == "yes"
    if confirmed:
        try:
            validate_csrf(args.get("csrf_token"))
        except (ValidationError, CSRFError):
            confirmed = False
    same_user = bool(sso and hint_claims and hint_claims.get("sub") == sso.customer.sub)
    if sso is not None and not (same_user or confirmed):
        return render_template(
            "logout_confirm.html",
            hidden={k: v for k, v in args.items() if k not in ("confirm", "csrf_token")},
        )
    if sso is not None:
        end_session_row(sso, "rp_logout")
    session.pop("sid", None)
    session.pop("pending", None)
    session.pop("authz", None)
    if post_logout:
        params = {"state": args["state"]} if "state" in args else {}
        return redirect(with_params(post_logout, params), code=302)
    return render_template("logged_out.html")
