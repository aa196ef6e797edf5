"""Mon compte: identifier and email, change email (re-verified), change password (current
one required), see and end sessions. Other features add sections through ``SECTIONS``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

import idp.mail as mailer

from .. import audit
from ..core.models import ActionToken, Customer, SsoSession, utcnow
from ..credentials import check_password, fail, is_locked, set_password
from ..extensions import db
from ..flow.journey_forms import ChangeEmailForm, ChangePasswordForm
from ..flow.steps import credential_limit, password_problems
from ..realms import realm_blueprint
from ..sessions import current_sso, touch

bp = realm_blueprint("account", __name__, "/account")

# Extra sections of the home page (e.g. linked social accounts, added by federation):
# each is a callable returning (template name, context) or None to show nothing.
SECTIONS: list[Callable[[Customer], tuple[str, dict[str, Any]] | None]] = []


def add_section(fn: Callable[[Customer], tuple[str, dict[str, Any]] | None]) -> None:
    SECTIONS.append(fn)



def _signed_in() -> SsoSession | None:
    sso = current_sso()
    if sso is not None:
        touch(sso)
    return sso


def _to_login() -> Response:
    return redirect(url_for("flow.login", next="account"))


def _live_sessions(customer: Customer) -> list[SsoSession]:
    rows = db.session.execute(
        db.select(SsoSession).filter_by(customer_id=customer.id, ended_at=None)
        .order_by(SsoSession.created_at.desc())
    ).scalars()
    from ..sessions import _alive

    return [r for r in rows if _alive(r)]


def _pending_email(customer: Customer) -> str | None:
    row = db.session.execute(
        db.select(ActionToken).filter_by(customer_id=customer.id, kind=mailer.CHANGE_EMAIL,
                                         used_at=None, superseded_at=None)
        .where(ActionToken.expires_at > utcnow())
    ).scalars().first()
    return row.email if row else None


@bp.route("/")
def home() -> Any:
    sso = _signed_in()
    if sso is None:
        return _to_login()
    customer = sso.customer
    sections = [s for s in (fn(customer) for fn in SECTIONS) if s]
    db.session.commit()
    return render_template(
        "account/home.html", customer=customer, sso=sso, sessions=_live_sessions(customer),
        pending_email=_pending_email(customer), sections=sections,
        notice=session.pop("account_notice", None),
    )


def _check_current(customer: Customer, password: str) -> bool:
    """The current password, with the same lockout as the sign-in form."""
    if is_locked(customer):
        from ..credentials import burn_time

        burn_time(password)
        return False
    if check_password(customer, password).customer is not None:
        return True
    fail(customer, g.realm_settings)
    return False


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
        elif wait := mailer.cooldown_left(customer, mailer.CHANGE_EMAIL):
            error = _("Un courriel vient d'être envoyé. Veuillez patienter %(num)d seconde(s) "
                      "avant d'en demander un nouveau.", num=wait)
        elif mailer.send_action(customer, mailer.CHANGE_EMAIL, form.email.data):
            audit.record("email_change_requested", realm_id=customer.realm_id,
                         customer_id=customer.id)
            db.session.commit()
            session["account_notice"] = _(
                "Un courriel de vérification a été envoyé à %(email)s. Votre adresse actuelle "
                "reste utilisée jusqu'à ce que vous cliquiez sur le lien.", email=form.email.data)
            return redirect(url_for("account.home"))
        else:
            db.session.commit()
            error = _("Le courriel n'a pas pu être envoyé. Veuillez réessayer dans quelques "
                      "instants.")
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
        problems = password_problems(form.password.data, customer, g.realm_settings)
        if not _check_current(customer, form.current_password.data):
            form.current_password.errors.append(_("Mot de passe incorrect."))
            audit.record("password_change_failed", realm_id=customer.realm_id,
                         customer_id=customer.id, reason="bad_password")
            db.session.commit()
        elif not problems:
            set_password(customer, form.password.data)
            audit.record("password_changed", realm_id=customer.realm_id,
                         customer_id=customer.id, how="account")
            db.session.commit()
            _end_other_sessions(customer, sso)
            if customer.email:
                mailer.send(g.realm, customer.email, "password_changed", customer=customer)
            session["account_notice"] = _("Votre mot de passe a été modifié. Vos autres "
                                          "sessions ont été fermées.")
            return redirect(url_for("account.home"))
    from ..flow.policy import rules_text

    bad = bool(form.errors or problems)
    return render_template("account/password.html", form=form, problems=problems,
                           rules=rules_text(g.realm_settings["password_policy"])), (
        400 if bad else 200)


def _end_other_sessions(customer: Customer, keep: SsoSession) -> None:
    from ..oidc.logout import end_session

    for row in _live_sessions(customer):
        if row.id != keep.id:
            end_session(row, "password_changed")


@bp.route("/sessions/<sid>/end", methods=["POST"])
def end_one_session(sid: str) -> Any:
    sso = _signed_in()
    if sso is None:
        return _to_login()
    row = db.session.get(SsoSession, sid)
    if row is None or row.customer_id != sso.customer_id or row.ended_at is not None:
        session["account_notice"] = _("Cette session est déjà fermée.")
        return redirect(url_for("account.home"))
    from ..oidc.logout import end_session

    end_session(row, "account")
    if row.id == sso.id:
        session.clear()
        return render_template("logged_out.html")
    session["account_notice"] = _("La session a été fermée.")
    return redirect(url_for("account.home"))
