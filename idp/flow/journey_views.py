"""Journey views: required actions (email, verification, new password), emailed links,
forgotten password. Thin: each reads a form, calls :mod:`idp.core.journey`, words the
outcome and hands back to the machine.
"""

from __future__ import annotations

from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from ..core import actions, audit, credentials, interaction, journey, links
from ..core.db import db
from ..core.mails import mask_email
from ..core.models import Customer
from ..core.policy import new_password_problems
from ..web import notices, texts
from ..web.context import app_settings, realm_blueprint
from ..web.forms import EmailForm, ForgotForm, NewPasswordForm
from ..web.limits import credential_limit
from ..web.mail import deliver_now, deliver_soon
from ..web.session import current_interaction, current_sso, forget_interaction
from . import machine

bp = realm_blueprint("journey", __name__)


def _pending_with(*names: str) -> Customer | None:
    """The customer of this browser's sign-in, if they owe one of ``names``."""
    customer = machine.pending_customer()
    if customer is None or not set(names) & set(customer.required_actions or []):
        return None
    return customer


def _problems(password: str, customer: Customer, email: str | None = None) -> list[str]:
    return texts.violations(new_password_problems(
        app_settings().code_key, password, customer, g.realm.settings.password_policy, email))


# --- SET_EMAIL ("Soumettre"), also "indiquer une autre adresse" -------------------------

@bp.route("/login-actions/email", methods=["GET", "POST"])
@credential_limit
def set_email() -> Any:
    customer = _pending_with(actions.SET_EMAIL, actions.VERIFY_EMAIL)
    ix = current_interaction()
    if customer is None or ix is None:
        return machine.next_step()
    form = EmailForm()
    if request.method == "GET":
        form.email.data = customer.email or ""
    error = None
    if form.validate_on_submit():
        outcome = journey.set_email(app_settings(), g.realm, ix, customer, form.email.data)
        if outcome.wait:
            error = texts.cooldown(outcome.wait)
        else:
            assert outcome.mail is not None
            journey.mail_result(ix, deliver_now(outcome.mail))
            db.session.commit()
            return redirect(url_for("journey.verify_email"))
    return render_template("journey/set_email.html", form=form, error=error,
                           changing=bool(customer.email)), (400 if form.errors or error else 200)


# --- VERIFY_EMAIL -------------------------------------------------------------------------

@bp.route("/login-actions/verify-email", methods=["GET"])
def verify_email() -> Any:
    customer = _pending_with(actions.VERIFY_EMAIL)
    ix = current_interaction()
    if customer is None or ix is None:
        return machine.next_step()
    if not customer.email:
        actions.owe(customer, actions.SET_EMAIL)
        db.session.commit()
        return machine.next_step()
    if customer.email_verified:  # confirmed meanwhile, maybe in another browser
        actions.finish(customer, actions.VERIFY_EMAIL)
        db.session.commit()
        return machine.next_step()
    if ix.verify_sent_to != customer.email_normalized:
        # First display only: a page refresh does not send another mail.
        row = journey.send_verification(app_settings(), g.realm, ix, customer)
        journey.mail_result(ix, deliver_now(row))
        db.session.commit()
    return render_template("journey/verify_email.html", customer=customer,
                           notice=notices.pop(), mail_failed=ix.mail_failed)


@bp.route("/login-actions/verify-email/resend", methods=["POST"])
@credential_limit
def resend_verification() -> Any:
    customer = _pending_with(actions.VERIFY_EMAIL)
    ix = current_interaction()
    if customer is None or ix is None or not customer.email:
        return machine.next_step()
    outcome = journey.resend_verification(app_settings(), g.realm, ix, customer)
    if outcome.wait:
        notices.push("error", texts.cooldown(outcome.wait))
    else:
        assert outcome.mail is not None
        sent = deliver_now(outcome.mail)
        journey.mail_result(ix, sent)
        if sent:
            notices.push("ok", _("Un nouveau courriel a été envoyé à %(email)s.",
                                 email=customer.email))
    db.session.commit()
    return redirect(url_for("journey.verify_email"))


# --- UPDATE_PASSWORD ------------------------------------------------------------------------

@bp.route("/login-actions/password", methods=["GET", "POST"])
@credential_limit
def update_password() -> Any:
    customer = _pending_with(actions.UPDATE_PASSWORD)
    if customer is None:
        return machine.next_step()
    form = NewPasswordForm()
    problems: list[str] = []
    if form.validate_on_submit():
        problems = _problems(form.password.data, customer)
        if not problems:
            ix = current_interaction()
            credentials.set_password(app_settings(), customer, form.password.data)
            actions.finish(customer, actions.UPDATE_PASSWORD)
            if ix is not None:  # the new credential version is this sign-in's own
                ix.credential_version = customer.credential_version
                interaction.save(ix)
            audit.record("password_changed", realm_id=customer.realm_id,
                         customer_id=customer.id, how="required_action")
            db.session.commit()
            return machine.next_step()
    elif request.method == "POST" and form.password.data and not form.password.errors:
        problems = _problems(form.password.data, customer)
    return _password_page(form, problems)


def _password_page(form: NewPasswordForm, problems: list[str], action: str | None = None,
                   title: str | None = None) -> tuple[str, int]:
    status = 400 if (problems or form.errors) else 200
    return render_template(
        "journey/update_password.html", form=form, problems=problems, action=action,
        rules=texts.rules(g.realm.settings.password_policy), title=title,
    ), status


# --- emailed links ------------------------------------------------------------------------

@bp.route("/action/<token>", methods=["GET"])
def action(token: str) -> Any:
    """Opening a link changes nothing (mail scanners open links too): a button confirms."""
    found = links.lookup(token, g.realm.id)
    if found.status != "ok":
        return _invalid_link(found, token)
    assert found.token is not None
    if found.token.kind == links.RESET_PASSWORD:
        return _password_page(NewPasswordForm(), [], action=url_for("journey.action_confirm",
                              token=token), title=_("Créer un nouveau mot de passe"))
    return render_template("journey/confirm_email.html", token=token, email=found.token.email)


@bp.route("/action/<token>", methods=["POST"])
@credential_limit
def action_confirm(token: str) -> Any:
    found = links.lookup(token, g.realm.id)
    if found.status != "ok":
        return _invalid_link(found, token)
    row, customer = found.token, found.customer
    assert row is not None and customer is not None
    if row.kind == links.RESET_PASSWORD:
        return _reset_password(token, row, customer)
    if not journey.confirm_email(g.realm, row, customer, _locale()):
        db.session.rollback()
        return _invalid_link(links.Lookup("used", row, customer), token)
    db.session.commit()
    pending = machine.pending_customer()
    if pending is not None and pending.id == customer.id:
        return machine.next_step()  # same browser, flow still there: carry on
    sso = current_sso()
    if sso is not None and sso.customer_id == customer.id:
        return redirect(url_for("account.home"))
    return render_template("journey/done.html", title=_("Adresse email vérifiée"),
                           message=_("Votre adresse email est vérifiée. Connectez-vous pour "
                                     "continuer."))


def _locale() -> str | None:
    return str(get_locale() or "fr")


def _reset_password(token: str, row: Any, customer: Customer) -> Any:
    form = NewPasswordForm()
    problems: list[str] = []
    if form.validate_on_submit():
        problems = _problems(form.password.data, customer, email=row.email)
        if not problems:
            if not journey.reset_password(app_settings(), g.realm, row, customer,
                                          form.password.data, _locale()):
                db.session.rollback()
                return _invalid_link(links.Lookup("used", row, customer), token)
            forget_interaction()
            db.session.commit()
            return render_template("journey/done.html", title=_("Mot de passe modifié"),
                                   message=_("Votre mot de passe a été modifié et toutes vos "
                                             "sessions ont été fermées. Connectez-vous avec "
                                             "votre nouveau mot de passe."))
    elif request.method == "POST" and form.password.data and not form.password.errors:
        problems = _problems(form.password.data, customer, email=row.email)
    return _password_page(form, problems, action=url_for("journey.action_confirm", token=token),
                          title=_("Créer un nouveau mot de passe"))


def _invalid_link(found: links.Lookup, token: str) -> tuple[str, int]:
    renewable = (found.customer is not None and found.token is not None
                 and found.token.kind in links.RENEWABLE
                 and not (found.token.kind == links.VERIFY_EMAIL
                          and found.customer.email_verified))
    return render_template("journey/invalid_link.html", status=found.status, token=token,
                           renewable=renewable), 410 if found.status != "unknown" else 404


@bp.route("/action/<token>/renew", methods=["POST"])
@credential_limit
def action_renew(token: str) -> Any:
    """A new link in place of an expired, used or superseded one (verify and reset links
    only, always to the customer's current address)."""
    found = links.lookup(token, g.realm.id)
    if found.customer is None or found.token is None:
        return _invalid_link(found, token)
    outcome = journey.renew_link(app_settings(), g.realm, found, _locale())
    message, ok = _("Ce lien n'a pas pu être renouvelé. Connectez-vous pour continuer."), False
    if outcome is not None and outcome.wait:
        message = texts.cooldown(outcome.wait)
    elif outcome is not None and outcome.mail is not None:
        to = outcome.mail.recipient
        if deliver_now(outcome.mail):
            ok = True
            message = _("Un nouveau lien vient d'être envoyé à %(email)s. Il expire dans "
                        "%(num)d minute(s).", email=mask_email(to),
                        num=links.lifetime_minutes(g.realm.settings))
        else:
            message = texts.mail_not_sent()
    db.session.commit()
    return render_template("journey/done.html", title=_("Nouveau lien"), message=message,
                           retry_token=None if ok else token), 200 if ok else 400


# --- Mot de passe oublié ---------------------------------------------------------------------

@bp.route("/forgot-password", methods=["GET", "POST"])
@credential_limit
def forgot_password() -> Any:
    form = ForgotForm()
    if request.method == "GET" and request.args.get("login"):
        form.login.data = request.args["login"][:320]
    if form.validate_on_submit():
        queued = journey.request_reset(app_settings(), g.realm, form.login.data, _locale())
        db.session.commit()
        for row in queued:
            deliver_soon(row.id)
        # The same answer whatever happened: nothing tells whether the account exists.
        return render_template("journey/forgot_sent.html", login=form.login.data,
                               minutes=links.lifetime_minutes(g.realm.settings),
                               agency=g.realm.settings.agency_contact)
    return render_template("journey/forgot.html", form=form,
                           agency=g.realm.settings.agency_contact), (
        400 if form.errors else 200)
