"""Journey views: required actions (email, verification, new password), emailed links,
forgotten password. Thin: each reads a form, calls a service, hands back to the machine.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

import idp.mail as mailer

from .. import audit
from ..core.models import Customer
from ..credentials import find_customers, set_password
from ..extensions import db
from ..realms import realm_blueprint
from ..sessions import current_sso
from . import actions, machine
from .journey_forms import EmailForm, ForgotForm, NewPasswordForm
from .steps import credential_limit, finish_action, mask_email, password_problems

bp = realm_blueprint("journey", __name__)



def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _pending_with(*names: str) -> Customer | None:
    """The customer of this browser's flow, if they owe one of ``names``."""
    customer = machine.pending_customer()
    if customer is None or not set(names) & set(customer.required_actions or []):
        return None
    return customer


def _lifetime_minutes() -> int:
    return max(1, -(-int(g.realm_settings["action_token_lifetime"]) // 60))


# --- SET_EMAIL ("Soumettre"), also "indiquer une autre adresse" -------------------------

@bp.route("/login-actions/email", methods=["GET", "POST"])
@credential_limit
def set_email() -> Any:
    customer = _pending_with(actions.SET_EMAIL.name, actions.VERIFY_EMAIL.name)
    if customer is None:
        return machine.next_step()
    form = EmailForm()
    if request.method == "GET":
        form.email.data = customer.email or ""
    error = None
    if form.validate_on_submit():
        wait = 0 if machine.pending_data().get("mail_failed") else mailer.cooldown_left(
            customer, mailer.VERIFY_EMAIL)
        if wait:
            error = _("Veuillez patienter %(num)d seconde(s) avant de demander un nouveau "
                      "courriel.", num=wait)
        else:
            if form.email.data.lower() != (customer.email_normalized or ""):
                customer.set_email(form.email.data, verified=False)
                audit.record("email_set", realm_id=customer.realm_id, customer_id=customer.id)
            customer.required_actions = actions.add(
                actions.remove(list(customer.required_actions), actions.SET_EMAIL.name),
                actions.VERIFY_EMAIL.name)
            _send_verification(customer)
            db.session.commit()
            return redirect(url_for("journey.verify_email"))
    return render_template("journey/set_email.html", form=form, error=error,
                           changing=bool(customer.email)), (400 if form.errors or error else 200)


def _send_verification(customer: Customer) -> bool:
    """Mail a verification link to the customer's address; remember the outcome."""
    ok = mailer.send_action(customer, mailer.VERIFY_EMAIL, customer.email or "")
    machine.update_pending(verify_sent_to=customer.email_normalized, mail_failed=not ok)
    audit.record("verify_email_sent" if ok else "mail_failed", realm_id=customer.realm_id,
                 customer_id=customer.id, kind=mailer.VERIFY_EMAIL)
    return ok


# --- VERIFY_EMAIL -------------------------------------------------------------------------

@bp.route("/login-actions/verify-email", methods=["GET"])
def verify_email() -> Any:
    customer = _pending_with(actions.VERIFY_EMAIL.name)
    if customer is None:
        return machine.next_step()
    if not customer.email:
        customer.required_actions = actions.add(list(customer.required_actions),
                                                actions.SET_EMAIL.name)
        db.session.commit()
        return machine.next_step()
    if customer.email_verified:  # confirmed meanwhile, maybe in another browser
        finish_action(customer, actions.VERIFY_EMAIL.name)
        db.session.commit()
        return machine.next_step()
    pending = machine.pending_data()
    if pending.get("verify_sent_to") != customer.email_normalized:
        # First display only: a page refresh does not send another mail.
        _send_verification(customer)
        db.session.commit()
        pending = machine.pending_data()
    notice = session.pop("journey_notice", None)
    return render_template("journey/verify_email.html", customer=customer, notice=notice,
                           mail_failed=pending.get("mail_failed"))


@bp.route("/login-actions/verify-email/resend", methods=["POST"])
@credential_limit
def resend_verification() -> Any:
    customer = _pending_with(actions.VERIFY_EMAIL.name)
    if customer is None or not customer.email:
        return machine.next_step()
    wait = 0 if machine.pending_data().get("mail_failed") else mailer.cooldown_left(
        customer, mailer.VERIFY_EMAIL)
    if wait:
        session["journey_notice"] = ("error", _(
            "Un courriel vient d'être envoyé. Veuillez patienter %(num)d seconde(s) avant "
            "d'en demander un nouveau.", num=wait))
    elif _send_verification(customer):
        session["journey_notice"] = ("ok", _("Un nouveau courriel a été envoyé à %(email)s.",
                                             email=customer.email))
    db.session.commit()
    return redirect(url_for("journey.verify_email"))


# --- UPDATE_PASSWORD ------------------------------------------------------------------------

@bp.route("/login-actions/password", methods=["GET", "POST"])
@credential_limit
def update_password() -> Any:
    customer = _pending_with(actions.UPDATE_PASSWORD.name)
    if customer is None:
        return machine.next_step()
    form = NewPasswordForm()
    problems: list[str] = []
    if form.validate_on_submit():
        problems = password_problems(form.password.data, customer, g.realm_settings)
        if not problems:
            set_password(customer, form.password.data)
            finish_action(customer, actions.UPDATE_PASSWORD.name)
            audit.record("password_changed", realm_id=customer.realm_id,
                         customer_id=customer.id, how="required_action")
            db.session.commit()
            return machine.next_step()
    elif request.method == "POST" and form.password.data and not form.password.errors:
        problems = password_problems(form.password.data, customer, g.realm_settings)
    return _password_page(form, problems)


def _password_page(form: NewPasswordForm, problems: list[str], action: str | None = None,
                   title: str | None = None) -> tuple[str, int]:
    from .policy import rules_text

    status = 400 if (problems or form.errors) else 200
    return render_template(
        "journey/update_password.html", form=form, problems=problems, action=action,
        rules=rules_text(g.realm_settings["password_policy"]), title=title,
    ), status


# --- emailed links ------------------------------------------------------------------------

@bp.route("/action/<token>", methods=["GET"])
def action(token: str) -> Any:
    """Opening a link changes nothing (mail scanners open links too): a button confirms."""
    found = mailer.lookup(token, g.realm)
    if found.status != "ok":
        return _invalid_link(found, token)
    if found.token.kind == mailer.RESET_PASSWORD:
        return _password_page(NewPasswordForm(), [], action=url_for("journey.action_confirm",
                              token=token), title=_("Créer un nouveau mot de passe"))
    return render_template("journey/confirm_email.html", token=token, email=found.token.email)


@bp.route("/action/<token>", methods=["POST"])
@credential_limit
def action_confirm(token: str) -> Any:
    found = mailer.lookup(token, g.realm)
    if found.status != "ok":
        return _invalid_link(found, token)
    row, customer = found.token, found.customer
    assert row is not None and customer is not None
    if row.kind == mailer.RESET_PASSWORD:
        return _reset_password(token, row, customer)
    old = customer.email
    customer.set_email(row.email, verified=True)
    mailer.consume(row)
    for name in (actions.SET_EMAIL.name, actions.VERIFY_EMAIL.name):
        finish_action(customer, name)
    if row.kind == mailer.CHANGE_EMAIL:
        audit.record("email_changed", realm_id=customer.realm_id, customer_id=customer.id)
        db.session.commit()
        if old and old.lower() != row.email.lower():
            mailer.send(g.realm, old, "email_changed", customer=customer,
                        masked=mask_email(row.email))
    else:
        audit.record("email_verified", realm_id=customer.realm_id, customer_id=customer.id)
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


def _reset_password(token: str, row: Any, customer: Customer) -> Any:
    form = NewPasswordForm()
    problems: list[str] = []
    if form.validate_on_submit():
        problems = password_problems(form.password.data, customer, g.realm_settings,
                                     email=row.email)
        if not problems:
            set_password(customer, form.password.data)
            customer.failed_attempts = 0
            customer.locked_until = None
            mailer.consume(row)
            if (customer.email_normalized or "") == row.email.lower():
                customer.email_verified = True  # the link proved the mailbox
                finish_action(customer, actions.VERIFY_EMAIL.name)
            finish_action(customer, actions.UPDATE_PASSWORD.name)
            audit.record("password_reset", realm_id=customer.realm_id, customer_id=customer.id)
            db.session.commit()
            from ..oidc.logout import end_all_sessions  # a call into a lower service

            end_all_sessions(customer.id, "password_reset")
            session.pop("pending", None)
            mailer.send(g.realm, row.email, "password_changed", customer=customer)
            return render_template("journey/done.html", title=_("Mot de passe modifié"),
                                   message=_("Votre mot de passe a été modifié et toutes vos "
                                             "sessions ont été fermées. Connectez-vous avec "
                                             "votre nouveau mot de passe."))
    elif request.method == "POST" and form.password.data and not form.password.errors:
        problems = password_problems(form.password.data, customer, g.realm_settings,
                                     email=row.email)
    return _password_page(form, problems, action=url_for("journey.action_confirm", token=token),
                          title=_("Créer un nouveau mot de passe"))


def _invalid_link(found: mailer.Lookup, token: str) -> tuple[str, int]:
    renewable = found.customer is not None and not (
        found.token.kind != mailer.RESET_PASSWORD and found.status == "used"
        and found.customer.email_verified)
    return render_template("journey/invalid_link.html", status=found.status, token=token,
                           renewable=renewable), 410 if found.status != "unknown" else 404


@bp.route("/action/<token>/renew", methods=["POST"])
@credential_limit
def action_renew(token: str) -> Any:
    """A new link in place of an expired, used or superseded one (same kind, same owner)."""
    found = mailer.lookup(token, g.realm)
    if found.customer is None or found.token is None:
        return _invalid_link(found, token)
    customer, kind = found.customer, found.token.kind
    to = found.token.email if kind == mailer.CHANGE_EMAIL else customer.email
    if kind == mailer.VERIFY_EMAIL and customer.email_verified:
        to = None
    message, ok = _("Ce lien n'a pas pu être renouvelé. Connectez-vous pour continuer."), False
    if to:
        wait = mailer.cooldown_left(customer, kind)
        if wait:
            message = _("Un courriel vient d'être envoyé. Veuillez patienter %(num)d seconde(s) "
                        "avant d'en demander un nouveau.", num=wait)
        elif mailer.send_action(customer, kind, to):
            ok = True
            message = _("Un nouveau lien vient d'être envoyé à %(email)s. Il expire dans "
                        "%(num)d minute(s).", email=mask_email(to), num=_lifetime_minutes())
            audit.record("action_link_renewed", realm_id=customer.realm_id,
                         customer_id=customer.id, kind=kind)
        else:
            message = _("Le courriel n'a pas pu être envoyé. Veuillez réessayer dans quelques "
                        "instants.")
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
        for customer in find_customers(g.realm, form.login.data):
            _send_reset(customer)
        db.session.commit()
        # The same answer whatever happened: nothing tells whether the account exists.
        return render_template("journey/forgot_sent.html", login=form.login.data,
                               minutes=_lifetime_minutes(),
                               agency=g.realm_settings.get("agency_contact"))
    return render_template("journey/forgot.html", form=form,
                           agency=g.realm_settings.get("agency_contact")), (
        400 if form.errors else 200)


def _send_reset(customer: Customer) -> None:
    if not customer.email or not customer.enabled or customer.locked_permanently:
        audit.record("reset_refused", realm_id=customer.realm_id, customer_id=customer.id,
                     reason="no_email" if not customer.email else "locked")
        return
    if mailer.cooldown_left(customer, mailer.RESET_PASSWORD):
        audit.record("reset_refused", realm_id=customer.realm_id, customer_id=customer.id,
                     reason="cooldown")
        return
    ok = mailer.send_action(customer, mailer.RESET_PASSWORD, customer.email)
    audit.record("reset_sent" if ok else "mail_failed", realm_id=customer.realm_id,
                 customer_id=customer.id, kind=mailer.RESET_PASSWORD)
