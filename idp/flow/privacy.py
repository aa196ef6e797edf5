"""Sign-in side of the privacy features (issue 22), thin over the core:

- "Recevoir un code par email" (:mod:`idp.core.email_code`): the button of the sign-in
  form, the code page, the same answer whether or not the account exists;
- the deletion-pending step: a sign-in during the grace period offers to cancel the
  deletion and completes only if the customer does;
- the device cookie and the new-device mail (:mod:`idp.core.devices`), as a completion
  hook; the "Ce n'était pas moi" and cancel-deletion links of the mails.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..core import deletion, devices, email_code, interaction
from ..core.db import db
from ..core.interaction import Interaction
from ..core.models import Customer, SsoSession
from ..web import limits, texts
from ..web.context import app_settings, client_ip, issuer, realm_blueprint
from ..web.forms import LoginForm
from ..web.limits import credential_limit
from ..web.session import current_interaction, sign_out
from . import machine
from .password import login_candidates
from .views import LOGIN_INTERCEPTORS, social_buttons

bp = realm_blueprint("privacy_flow", __name__)
DEVICE_COOKIE = "idp_device"
DEVICE_COOKIE_DAYS = 400  # browsers cap cookie lifetimes at 400 days


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    machine.register_completion_hook(app, remember_device)
    app.extensions.setdefault(LOGIN_INTERCEPTORS, []).append(deletion_sign_in)
    app.after_request(_set_device_cookie)
    app.jinja_env.globals["email_code_offered"] = offered


def _locale() -> str:
    return str(get_locale() or "fr")


def offered() -> bool:
    return "realm" in g and email_code.offered(g.realm, app_settings().staff_realm)


# --- Se connecter avec un code reçu par email ---------------------------------------------

class CodeRequestForm(FlaskForm):
    login = StringField(_l("Identifiant ou courriel"), validators=[
        DataRequired(_l("Saisissez d'abord votre identifiant ou votre adresse email, puis "
                        "demandez le code.")), Length(max=320)])


class CodeForm(FlaskForm):
    code = StringField(_l("Code reçu par email"), validators=[
        DataRequired(_l("Veuillez saisir le code à 6 chiffres reçu par email.")),
        Length(max=12)])


def _login_page(login: str, error: str, status: int = 400) -> tuple[str, int]:
    """The sign-in page again, with what was typed and why nothing happened."""
    form = LoginForm(formdata=None)
    form.login.data = login
    return render_template("login.html", form=form, error=error, first=False, linking=None,
                           providers=social_buttons(),
                           has_client=machine.has_client_request()), status


@bp.route("/login/email-code/send", methods=["POST"])
@credential_limit
def email_code_send() -> Any:
    """The "Recevoir un code par email" button of the sign-in form (or "send again")."""
    if not offered():
        return _login_page(request.form.get("login", "")[:320],
                           _("La connexion par code n'est pas proposée ici."))
    form = CodeRequestForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            return _login_page(form.login.data or "", _("La page a expiré. Veuillez réessayer."))
        return _login_page(form.login.data or "", form.login.errors[0])
    login = form.login.data.strip()
    email_code.request(app_settings(), g.realm, login, _locale())
    ix = machine.ensure_interaction()
    ix.login_hint = login
    interaction.save(ix)
    db.session.commit()  # the mail leaves after the response (deliver_queued)
    return redirect(url_for("privacy_flow.email_code_page", sent=1))


@bp.route("/login/email-code", methods=["GET", "POST"])
@credential_limit
def email_code_page() -> Any:
    ix = current_interaction()
    login = ix.login_hint if ix is not None else None
    if not offered() or not login:
        return redirect(url_for("flow.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        if limits.failures_exhausted():
            error = texts.too_many_failures()
        else:
            check = email_code.verify(app_settings(), g.realm, login, form.code.data)
            if check.customer is not None:
                return machine.authenticated(check.customer, list(email_code.AMR),
                                             acr=email_code.ACR)
            limits.count_failure(g.realm.id)
            error = _("Ce code est incorrect ou a expiré. Vérifiez le dernier courriel reçu, "
                      "ou demandez un nouveau code.")
        form.code.data = ""
    elif request.method == "POST" and "csrf_token" in form.errors:
        error = _("La page a expiré. Veuillez réessayer.")
    return render_template("privacy/email_code.html", form=form, login=login, error=error,
                           sent=request.args.get("sent") == "1",
                           resend=CodeRequestForm(formdata=None, login=login),
                           ), (400 if (error or form.errors) else 200)


# --- deletion pending: offered to cancel at sign-in ---------------------------------------
# The registry refuses every sign-in of a pending account (``deletion_pending``); only the
# password proves who may cancel. The proof lives ten minutes in the cookie session.
PROOF_KEY = "deletion_proof"
PROOF_SECONDS = 600


def deletion_sign_in(form: LoginForm) -> Any:
    """Login interceptor: the password of an account pending deletion leads to the
    cancel offer (a wrong one gets the usual answer); None for every other sign-in."""
    if request.method != "POST" or not form.validate_on_submit():
        return None
    if not deletion.pending_for(login_candidates(form.login.data)):
        return None
    if limits.failures_exhausted():
        return _login_page(form.login.data, texts.too_many_failures(), 401)
    customer = deletion.prove(app_settings(), g.realm, form.login.data, form.password.data)
    if customer is None:
        limits.count_failure(g.realm.id)
        return _login_page(form.login.data, _("Identifiant ou mot de passe incorrect."), 401)
    session[PROOF_KEY] = {"c": customer.id, "v": customer.credential_version or 0,
                          "at": int(time.time())}
    return redirect(url_for("privacy_flow.deletion_pending"))


def _proven() -> Customer | None:
    proof = session.get(PROOF_KEY)
    if not isinstance(proof, dict) or time.time() - proof.get("at", 0) > PROOF_SECONDS:
        return None
    customer = db.session.get(Customer, proof.get("c"))
    if (customer is None or customer.realm_id != g.realm.id or not deletion.pending(customer)
            or (customer.credential_version or 0) != proof.get("v")):
        return None
    return customer


@bp.route("/login-actions/deletion-pending", methods=["GET", "POST"])
def deletion_pending() -> Any:
    customer = _proven()
    if customer is None:
        session.pop(PROOF_KEY, None)
        return redirect(url_for("flow.login"))
    if request.method == "POST" and FlaskForm().validate_on_submit():
        session.pop(PROOF_KEY, None)
        if request.form.get("choice") == "cancel":
            deletion.cancel(customer, "sign_in")
            db.session.commit()
            return machine.authenticated(customer, ["pwd"])
        return machine.cancel()
    return render_template("privacy/deletion_pending.html",
                           erase_on=deletion.erase_on(customer, g.realm.settings))


@bp.route("/account-deletion/cancel/<token>", methods=["GET", "POST"])
@credential_limit
def cancel_by_link(token: str) -> Any:
    """The mail's link: opening it changes nothing (mail scanners), a button cancels."""
    customer = deletion.customer_of_cancel_token(app_settings(), g.realm, token)
    if customer is None:
        return _done(_("Lien sans effet"), _(
            "Ce lien ne correspond à aucune demande de suppression en cours (elle a peut-"
            "être déjà été annulée, refusée ou menée à son terme)."), 410)
    if _confirmed():
        deletion.cancel(customer, "mail_link")
        db.session.commit()
        return _done(_("Suppression annulée"), _(
            "La suppression de votre compte est annulée. Vous pouvez vous connecter à "
            "nouveau."))
    return render_template("privacy/cancel_deletion.html", token=token,
                           erase_on=deletion.erase_on(customer, g.realm.settings))


def _confirmed() -> bool:
    """A mail's link acts on its page's button only: mail scanners open links (GET)."""
    return request.method == "POST" and FlaskForm().validate_on_submit()


def _done(title: str, message: str, status: int = 200) -> tuple[str, int]:
    return render_template("privacy/done.html", title=title, message=message), status


# --- known devices ------------------------------------------------------------------------

def _cookie_name() -> str:
    return f"{DEVICE_COOKIE}_{g.realm.slug}"


def remember_device(customer: Customer, ix: Interaction, sso: SsoSession) -> None:
    """Completion hook: note this browser; a new one gets the customer a mail."""
    seen = devices.signed_in(app_settings(), g.realm, customer,
                             request.cookies.get(_cookie_name()),
                             request.user_agent.string, client_ip(),
                             first_sign_in=bool(ix.used_temporary), locale=_locale())
    g.device_cookie = seen.cookie


def _set_device_cookie(response: Response) -> Response:
    value = g.pop("device_cookie", None)
    if value and "realm" in g:
        response.set_cookie(_cookie_name(), value, max_age=DEVICE_COOKIE_DAYS * 86400,
                            path=f"/realms/{g.realm.slug}/", httponly=True, samesite="Lax",
                            secure=request.is_secure)
    return response


@bp.route("/not-me/<token>", methods=["GET", "POST"])
@credential_limit
def not_me_link(token: str) -> Any:
    """The new-device mail's "Ce n'était pas moi": a button confirms (mail scanners)."""
    customer = devices.customer_of_token(app_settings(), g.realm, token)
    if customer is None:
        return _done(_("Lien expiré"), _(
            "Ce lien n'est plus valable. Si vous pensez que quelqu'un d'autre utilise votre "
            "compte, utilisez « Mot de passe oublié ? » et prévenez votre agence."), 410)
    if _confirmed():
        devices.not_me(app_settings(), g.realm, customer, issuer(), _locale())
        sign_out()
        return _done(_("Sessions fermées"), not_me_done())
    return render_template("privacy/not_me.html", token=token)


def not_me_done() -> str:
    return _("Toutes les sessions de votre compte sont fermées. Si votre adresse email est "
             "vérifiée, un lien pour choisir un nouveau mot de passe vient de vous être "
             "envoyé. Prévenez votre agence si vous pensez que votre compte a été utilisé "
             "par quelqu'un d'autre.")
