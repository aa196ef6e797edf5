"""Mon compte: identifier and email, change email (re-verified), change password (current
one required), see and end sessions. Other features add sections, registered per app in
``create_app`` (:func:`register_section`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..core import audit, credentials, journey, links, logout, mails, sessions
from ..core.db import db
from ..core.models import Customer, SsoSession
from ..core.policy import new_password_problems
from ..web import notices, texts
from ..web.context import app_settings, issuer, realm_blueprint
from ..web.forms import ChangeEmailForm, ChangePasswordForm
from ..web.limits import credential_limit
from ..web.mail import deliver_now
from ..web.session import current_sso

bp = realm_blueprint("account", __name__, "/account")

Section = Callable[[Customer], tuple[str, dict[str, Any]] | None]
SECTIONS_KEY = "idp.account_sections"


def register_section(app: Any, section: Section) -> None:
    """Add a section to the Mon compte home page (explicit, per app)."""
    app.extensions.setdefault(SECTIONS_KEY, []).append(section)


def _signed_in() -> SsoSession | None:
    sso = current_sso()
    if sso is not None:
        sessions.touch(sso)
    return sso


def _to_login() -> Response:
    return redirect(url_for("flow.login", next="account"))


@bp.route("/")
def home() -> Any:
    sso = _signed_in()
    if sso is None:
        return _to_login()
    customer = sso.customer
    sections = [s for s in (fn(customer) for fn in current_app.extensions.get(
        SECTIONS_KEY, [])) if s]
    db.session.commit()
    return render_template(
        "account/home.html", customer=customer, sso=sso,
        sessions=sessions.live_sessions(customer, g.realm.settings),
        pending_email=links.pending_change(customer), sections=sections,
        notice=notices.pop(),
    )


def _check_current(customer: Customer, password: str) -> bool:
    """The current password, with the very same lockout as the sign-in form."""
    ok = credentials.verify_current(app_settings(), customer, password,
                                    g.realm.settings.brute_force)
    db.session.commit()
    return ok


@bp.route("/email", methods=["GET", "POST"])
@credential_limit
def change_email() -> Any:
    sso = _signed_in()
    if sso is None:
        return _to_login()
    customer = sso.customer
    form = ChangeEmailForm()
    error = None
    if form.validate_on_submit():
        if not _check_current(customer, form.current_password.data):
            form.current_password.errors.append(_("Mot de passe incorrect."))
            audit.record("email_change_failed", realm_id=customer.realm_id,
                         customer_id=customer.id, reason="bad_password")
            db.session.commit()
        elif form.email.data.lower() == (customer.email_normalized or ""):
            form.email.errors.append(_("C'est déjà votre adresse email."))
        else:
            outcome = journey.request_email_change(app_settings(), g.realm, customer,
                                                   form.email.data, str(get_locale() or "fr"))
            if outcome.wait:
                error = texts.cooldown(outcome.wait)
            else:
                assert outcome.mail is not None
                sent = deliver_now(outcome.mail)
                notices.push("ok" if sent else "error", _(
                    "Un courriel de vérification a été envoyé à %(email)s. Votre adresse "
                    "actuelle reste utilisée jusqu'à ce que vous cliquiez sur le lien.",
                    email=form.email.data) if sent else texts.mail_not_sent())
                return redirect(url_for("account.home"))
    elif request.method == "GET":
        form.email.data = ""
    bad = bool(form.errors or error or (form.current_password.errors))
    return render_template("account/email.html", form=form, error=error,
                           customer=customer), 400 if bad else 200


@bp.route("/password", methods=["GET", "POST"])
@credential_limit
def change_password() -> Any:
    sso = _signed_in()
    if sso is None:
        return _to_login()
    customer = sso.customer
    form = ChangePasswordForm()
    problems: list[str] = []
    if form.validate_on_submit():
        problems = texts.violations(new_password_problems(
            app_settings().code_key, form.password.data, customer,
            g.realm.settings.password_policy))
        if not _check_current(customer, form.current_password.data):
            form.current_password.errors.append(_("Mot de passe incorrect."))
            audit.record("password_change_failed", realm_id=customer.realm_id,
                         customer_id=customer.id, reason="bad_password")
            db.session.commit()
        elif not problems:
            credentials.set_password(app_settings(), customer, form.password.data)
            links.supersede(customer.id, links.CHANGE_EMAIL, links.RESET_PASSWORD)
            audit.record("password_changed", realm_id=customer.realm_id,
                         customer_id=customer.id, how="account")
            if customer.email:
                mails.notify(g.realm, customer, customer.email, "password_changed",
                             str(get_locale() or "fr"), linked=[])
            db.session.commit()
            _end_other_sessions(customer, sso)
            notices.push("ok", _("Votre mot de passe a été modifié. Vos autres sessions ont "
                                 "été fermées."))
            return redirect(url_for("account.home"))
    bad = bool(form.errors or problems)
    return render_template("account/password.html", form=form, problems=problems,
                           rules=texts.rules(g.realm.settings.password_policy)), (
        400 if bad else 200)


def _end_other_sessions(customer: Customer, keep: SsoSession) -> None:
    for row in sessions.live_sessions(customer, g.realm.settings):
        if row.id != keep.id:
            logout.end_session(row, "password_changed", issuer())


@bp.route("/sessions/<sid>/end", methods=["POST"])
def end_one_session(sid: str) -> Any:
    sso = _signed_in()
    if sso is None:
        return _to_login()
    row = db.session.get(SsoSession, sid)
    if row is None or row.customer_id != sso.customer_id or row.ended_at is not None:
        notices.push("ok", _("Cette session est déjà fermée."))
        return redirect(url_for("account.home"))
    logout.end_session(row, "account", issuer())
    if row.id == sso.id:
        session.clear()
        return render_template("logged_out.html")
    notices.push("ok", _("La session a été fermée."))
    return redirect(url_for("account.home"))
