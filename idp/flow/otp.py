"""The second factor of the sign-in machine (realms with ``otp_required``: agency staff).

Two pages, registered in ``create_app``:

* ``otp.configure``: the CONFIGURE_TOTP required action. A QR code rendered on the server
  (segno, inline SVG: no script, no third party) and the secret as text, then a first code
  to confirm; the recovery codes are shown once, in the answer to that POST only.
* ``otp.verify``: every later sign-in, after the password and before any required action
  or completion; a recovery code is accepted instead of a TOTP code.

Both add ``otp`` and ``mfa`` to the sign-in's ``amr``; :func:`second_factor_step`, a step
of the sign-in machine registered before the required actions, sends every sign-in of
such a realm to one of them until that is so. ``step_up_check`` is the same check for a
signed-in staff member re-proving the factor before a sensitive console action.
"""

from __future__ import annotations

import io
from typing import Any

import segno
from flask import g, render_template
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..core import actions, audit, interaction, totp
from ..core.db import db
from ..core.models import Customer
from ..web import limits, texts
from ..web.context import app_settings, realm_blueprint
from ..web.limits import credential_limit
from ..web.session import current_interaction
from . import machine

bp = realm_blueprint("otp", __name__)


class OtpForm(FlaskForm):
    code = StringField(
        _l("Code à 6 chiffres"),
        validators=[DataRequired(_l("Veuillez saisir le code affiché par votre application.")),
                    Length(max=32)],
    )


def qr_svg(uri: str, title: str) -> Markup:
    """The QR code of ``uri`` as inline SVG markup (segno escapes the title)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", xmldecl=False, svgns=True, scale=5,
                                    border=4, title=title, nl=False, svgclass="qr",
                                    lineclass=None)
    return Markup(out.getvalue().decode())  # noqa: S704 (segno's own, escaped output)


def _lock_seconds() -> int:
    return g.realm.settings.brute_force.max_wait_seconds


def check_code(customer: Customer, code: str) -> bool:
    """A TOTP code, or a recovery code (anything longer than 6 characters)."""
    cfg = app_settings()
    code = (code or "").strip()
    if len(code.replace(" ", "")) > totp.DIGITS:
        return totp.use_recovery_code(cfg, customer, code, _lock_seconds())
    return totp.verify(cfg, customer, code, lock_seconds=_lock_seconds())


def _proven() -> None:
    """The second factor is proven for this sign-in."""
    ix = current_interaction()
    if ix is not None:
        ix.amr = [*[a for a in ix.amr if a not in ("otp", "mfa")], "otp", "mfa"]
        interaction.save(ix)


def second_factor_step(customer: Customer, ix: interaction.Interaction | None) -> str | None:
    """Realms with ``otp_required``: a sign-in proves a TOTP code before anything else
    (a password alone changes nothing), enrolling first when there is none yet."""
    if not g.realm.settings.otp_required or (ix is not None and "otp" in (ix.amr or [])):
        return None
    return "otp.verify" if totp.enrolled(customer.id) else "otp.configure"


def _needs_enrolment(customer: Customer) -> bool:
    return (actions.CONFIGURE_TOTP in (customer.required_actions or [])
            or (g.realm.settings.otp_required and not totp.enrolled(customer.id)))


@bp.route("/login-actions/otp", methods=["GET", "POST"])
@credential_limit
def verify() -> Any:
    customer = machine.pending_customer()
    ix = current_interaction()
    if customer is None or ix is None or not totp.enrolled(customer.id) or "otp" in ix.amr:
        return machine.next_step()
    form = OtpForm()
    error = None
    if form.validate_on_submit():
        if limits.failures_exhausted():
            error = texts.too_many_failures()
        elif check_code(customer, form.code.data):
            _proven()
            db.session.commit()
            return machine.next_step()
        else:
            limits.count_failure(g.realm.id)
            db.session.commit()
            if machine.pending_customer() is None:  # locked by too many wrong codes
                return machine.next_step()
            error = _("Code incorrect ou déjà utilisé. Saisissez le code suivant.")
    return render_template("admin/otp/verify.html", form=form, error=error), (
        400 if error or form.errors else 200)


@bp.route("/login-actions/configure-totp", methods=["GET", "POST"])
@credential_limit
def configure() -> Any:
    customer = machine.pending_customer()
    ix = current_interaction()
    if customer is None or ix is None or not _needs_enrolment(customer):
        return machine.next_step()
    cfg = app_settings()
    if totp.enrolled(customer.id):  # enrolled elsewhere meanwhile: just prove it
        actions.finish(customer, actions.CONFIGURE_TOTP)
        db.session.commit()
        return machine.next_step()
    secret = totp.pending_secret(cfg, customer)
    form = OtpForm()
    error = None
    if form.validate_on_submit():
        codes = totp.confirm(cfg, customer, form.code.data)
        if codes is not None:
            _proven()
            db.session.commit()
            # Shown once: only this answer holds them; "Continuer" resumes the sign-in.
            return render_template("admin/otp/recovery.html", codes=codes)
        limits.count_failure(g.realm.id)
        error = _("Ce code ne correspond pas. Vérifiez l'heure de votre téléphone et "
                  "saisissez le code affiché maintenant.")
    db.session.commit()
    label = customer.email or customer.identifier
    uri = totp.provisioning_uri(secret, label, g.realm.display_name)
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template(
        "admin/otp/configure.html", form=form, error=error, secret=grouped,
        qr=qr_svg(uri, _("Code QR à scanner avec votre application d'authentification")),
    ), (400 if error or form.errors else 200)


@bp.route("/login-actions/continue", methods=["POST"])
def resume() -> Any:
    """After the recovery codes page: on with the sign-in."""
    return machine.next_step()


def step_up_check(customer: Customer, code: str) -> bool:
    """Re-prove the second factor of a signed-in staff member (sensitive actions)."""
    ok = check_code(customer, code)
    audit.record("step_up" if ok else "step_up_failed", realm_id=customer.realm_id,
                 customer_id=customer.id)
    return ok
