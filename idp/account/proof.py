"""Fresh proof in Mon compte: before adding a way in (a passkey, a social account) or
handing out what the idp holds, the customer proves a credential again if the last proof
of this SSO session is older than five minutes (:func:`sessions.has_fresh_proof`).

Whoever holds the session cookie (a shared computer left signed in, a stolen cookie)
would otherwise add their own way in and keep the account after the owner changes the
password. The confirm page accepts what the customer has: the password, one of their
passkeys, or a linked social account (``broker.proof``); then it sends them back to the
page they asked for, with what they had typed in a form.

Use :func:`fresh_proof_required` on a view (GET pages, form posts and the JSON endpoints
of ``passkeys.js`` alike), or :func:`needs_proof` inside a view.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from ..core import audit, credentials, linking, sessions, ways_in
from ..core import passkeys as pk
from ..core.db import db
from ..core.models import SsoSession
from ..core.providers import display_name
from ..flow import machine
from ..web import limits, texts
from ..web import passkeys as web_pk
from ..web.context import app_settings, realm_blueprint
from ..web.limits import credential_limit
from ..web.session import current_sso

bp = realm_blueprint("account_proof", __name__, "/account/confirm")

#: Where to go back after the proof (a path of this realm's Mon compte), and the form
#: fields of the request that was interrupted (never a secret), in the cookie session.
NEXT_KEY = "proof_next"
FORM_KEY = "proof_form"
#: Fields never kept across the detour: secrets and the one-time CSRF token.
_NOT_KEPT = ("csrf_token", "password", "current_password", "confirm")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


class ConfirmForm(FlaskForm):
    current_password = PasswordField(
        _l("Mot de passe actuel"),
        validators=[DataRequired(_l("Veuillez saisir votre mot de passe actuel.")),
                    Length(max=1024)],
    )


# --- the guard -------------------------------------------------------------------------------

def _safe_next(target: str | None) -> str:
    """Only a path of this realm's Mon compte (no open redirect); else Mon compte."""
    home = url_for("account.home", realm=g.realm.slug)
    if not target:
        return home
    parts = urlsplit(target)
    prefix = home.rstrip("/").rsplit("/", 1)[0] + "/"  # /realms/<slug>/account/
    if parts.scheme or parts.netloc or not target.startswith(prefix) or "\\" in target:
        return home
    return target


def needs_proof(sso: SsoSession | None) -> bool:
    return not sessions.has_fresh_proof(sso)


def ask_for_proof(target: str | None = None) -> Response:
    """Send the customer to the confirm page, remembering where they were going and what
    they had typed (a form post), or answer ``passkeys.js`` with where to go."""
    if target is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else _referrer()
    next_url = _safe_next(target)
    session[NEXT_KEY] = next_url
    if request.method == "POST" and request.form:
        session[FORM_KEY] = {"path": request.path,
                             "data": {k: v for k, v in request.form.items()
                                      if k not in _NOT_KEPT}}
    confirm = url_for("account_proof.confirm", realm=g.realm.slug)
    if request.is_json or request.accept_mimetypes.best == "application/json":
        body = {"error": "fresh_proof_required", "redirect": confirm,
                "message": _("Confirmez d'abord votre identité.")}
        return jsonify(body), 403  # type: ignore[return-value]
    return redirect(confirm)


def _referrer() -> str | None:
    """The page a form or script was posted from (same realm's Mon compte only)."""
    ref = request.referrer
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc and parts.netloc != request.host:
        return None
    return parts.path + (f"?{parts.query}" if parts.query else "")


def fresh_proof_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Run ``view`` only when the session proved a credential within five minutes;
    otherwise detour through the confirm page and come back. Without a session, to the
    sign-in page."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sso = current_sso()
        if sso is None:
            if request.is_json:
                return web_pk.refused(pk.PasskeyError("no_sign_in"), "registration")
            return redirect(url_for("flow.login", next="account"))
        if needs_proof(sso):
            return ask_for_proof()
        return view(*args, **kwargs)

    return wrapper


def kept_form(path: str | None = None) -> dict[str, str]:
    """What the customer had typed before the detour, once (for the page at ``path``)."""
    kept = session.get(FORM_KEY)
    if not isinstance(kept, dict) or (path is not None and kept.get("path") != path):
        return {}
    session.pop(FORM_KEY, None)
    data = kept.get("data")
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def _back() -> Response:
    return redirect(_safe_next(session.pop(NEXT_KEY, None)))


def _proved(sso: SsoSession, how: str) -> None:
    sessions.proved(sso)
    audit.record("proof_renewed", realm_id=sso.realm_id, customer_id=sso.customer_id, how=how)
    db.session.commit()


# --- the confirm page ------------------------------------------------------------------------

def _page(form: ConfirmForm, sso: SsoSession, error: str | None, status: int) -> Any:
    customer = sso.customer
    kinds = set(ways_in.kinds_for(customer))
    has_password = bool(kinds & {ways_in.Kind.PASSWORD, ways_in.Kind.LEGACY_PASSWORD})
    form.current_password.data = ""
    return render_template(
        "account/confirm.html", form=form, error=error, has_password=has_password,
        has_passkey=ways_in.Kind.PASSKEY in kinds and web_pk.enabled(),
        providers=[(i.provider, display_name(i.provider))
                   for i in linking.identities_of(customer)],
        cancel=_safe_next(session.get(NEXT_KEY)),
    ), status


@bp.route("/", methods=["GET", "POST"])
@credential_limit
def confirm() -> Any:
    """"Confirmez votre identité": password, passkey or social account."""
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    if request.args.get("next"):
        session[NEXT_KEY] = _safe_next(request.args["next"])
    form = ConfirmForm()
    if request.method == "GET":
        return _page(form, sso, None, 200)
    if not form.validate_on_submit():
        return _page(form, sso, None, 400)
    if limits.failures_exhausted():
        return _page(form, sso, texts.too_many_failures(), 429)
    ok = credentials.verify_current(app_settings(), sso.customer, form.current_password.data,
                                    g.realm.settings.brute_force)
    if not ok:
        audit.record("proof_failed", realm_id=sso.realm_id, customer_id=sso.customer_id,
                     how="password")
        db.session.commit()
        limits.count_failure(g.realm.id)
        return _page(form, sso, _("Mot de passe incorrect."), 401)
    _proved(sso, "password")
    return _back()


@bp.route("/done")
def done() -> Response:
    """Back from a social sign-in that proved the customer (``broker.proof``)."""
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    if needs_proof(sso):
        return redirect(url_for("account_proof.confirm", realm=g.realm.slug))
    return _back()


@bp.route("/passkey/options", methods=["POST"])
@credential_limit
def passkey_options() -> Any:
    sso = current_sso()
    if sso is None:
        return web_pk.refused(pk.PasskeyError("no_sign_in"), "authentication")
    try:
        rp = web_pk.relying_party()
    except pk.PasskeyError as err:
        return web_pk.refused(err, "authentication", sso.customer)
    ix = machine.ensure_interaction()
    options, challenge = pk.authentication_options(rp, g.realm.id)
    web_pk.keep_challenge(ix, challenge)
    db.session.commit()
    return jsonify(options)


@bp.route("/passkey/verify", methods=["POST"])
@credential_limit
def passkey_verify() -> Any:
    """One of *this customer's* passkeys answered: the session is proved again."""
    sso = current_sso()
    if sso is None:
        return web_pk.refused(pk.PasskeyError("no_sign_in"), "authentication")
    payload = request.get_json(silent=True)
    challenge = web_pk.take_challenge(machine.ensure_interaction())
    try:
        result = pk.verify_authentication(g.realm.id, web_pk.relying_party(), challenge,
                                          payload if payload is not None else "")
    except pk.PasskeyError as err:
        db.session.rollback()
        return web_pk.refused(err, "authentication", sso.customer)
    if result.customer.id != sso.customer_id:
        db.session.rollback()
        return web_pk.refused(pk.PasskeyError("unknown_credential", "another customer's"),
                              "authentication", sso.customer)
    _proved(sso, "passkey")
    return jsonify(redirect=_safe_next(session.pop(NEXT_KEY, None)))
