"""RP-initiated logout 1.0: never redirects on a bad hint or an unregistered URI."""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError, validate_csrf
from wtforms import ValidationError

from ..core import logout, tokens
from ..core.clients import find_client
from ..web.context import app_settings, issuer
from ..web.redirects import with_params
from ..web.session import current_sso, sign_out
from .authorize import error_page
from .blueprint import PROTOCOL, bp


@bp.route(f"{PROTOCOL}/logout", methods=["GET", "POST"])
def end_session() -> Any:
    args = request.form if request.method == "POST" else request.args
    hint = args.get("id_token_hint")
    post_logout = args.get("post_logout_redirect_uri")
    hint_claims: dict[str, Any] | None = None
    if hint:
        decoded = tokens.decode_own(g.realm.id, hint)
        if decoded is None or decoded[1].get("iss") != issuer():
            return error_page(_("Demande de déconnexion invalide."))
        hint_claims = decoded[1]
    client = None
    client_id = args.get("client_id") or (hint_claims or {}).get("aud")
    if isinstance(client_id, list):
        client_id = client_id[0] if client_id else None
    if client_id:
        client = find_client(g.realm.id, client_id, app_settings().client_secret_key)
        if client is None:
            return error_page(_("Application inconnue."))
    if post_logout and (client is None or post_logout not in client.get(
            "post_logout_redirect_uris")):
        return error_page(
            _("Adresse de retour après déconnexion non enregistrée pour cette application."))
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
            hidden={k: v for k, v in args.items() if k not in ("confirm", "csrf_token")})
    if sso is not None:
        logout.end_session(sso, "rp_logout", issuer())
    sign_out()
    if post_logout:
        params = {"state": args["state"]} if "state" in args else {}
        return redirect(with_params(post_logout, params), code=302)
    return render_template("logged_out.html")
