"""Console: realm settings (branding, policies, lifetimes, lockout, mails, contact) and
social providers, validated exactly as ``idp realms import`` validates them."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..core import operations as ops
from ..core.db import db
from ..core.providers import REGISTRY
from ..core.settings import SettingsError
from ..core.staff import Action
from ..web import notices
from .blueprint import bp, principal, target
from .forms import ProviderForm, SettingsForm

FLAT = ("access_token_lifetime", "id_token_lifetime", "refresh_token_lifetime",
        "action_token_lifetime", "resend_cooldown", "sso_session_idle", "sso_session_max",
        "audit_retention_days")
POLICY = ("min_length", "uppercase", "digits", "special")
LOCKOUT = ("failure_factor", "wait_increment_seconds", "max_wait_seconds",
           "temporary_code_max_failures")


def _fill(form: SettingsForm, name: str, s: Any) -> None:
    form.display_name.data = name
    for field in ("logo_url", "brand_color", "mail_sender", "agency_contact", *FLAT):
        getattr(form, field).data = getattr(s, field)
    for field in POLICY:
        getattr(form, field).data = getattr(s.password_policy, field)
    for field in LOCKOUT:
        getattr(form, field).data = getattr(s.brute_force, field)


def _changes(form: SettingsForm, s: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {f: getattr(form, f).data for f in FLAT}
    for f in ("logo_url", "brand_color", "agency_contact"):
        changes[f] = (getattr(form, f).data or "").strip()
    changes["mail_sender"] = (form.mail_sender.data or "").strip() or None
    changes["password_policy"] = {**s.password_policy.__dict__,
                                  **{f: getattr(form, f).data for f in POLICY}}
    changes["brute_force"] = {**s.brute_force.__dict__,
                              **{f: getattr(form, f).data for f in LOCKOUT}}
    return changes


@bp.route("/realms/<slug>/settings", methods=["GET", "POST"])
def settings(slug: str) -> Any:
    realm = target(slug, Action.SETTINGS_READ)
    name, current, providers = ops.realm_settings(principal(), realm)
    form = SettingsForm()
    error = None
    if request.method == "GET":
        _fill(form, name, current)
    elif form.validate_on_submit():
        try:
            ops.update_settings(principal(), realm, form.display_name.data,
                                _changes(form, current))
        except SettingsError as exc:
            db.session.rollback()
            error = str(exc)  # names the key, as realm import does
        else:
            db.session.commit()
            notices.push("ok", _("Paramètres enregistrés."))
            return redirect(url_for("admin.settings", slug=slug))
    known = {p.alias: p for p in providers}
    rows = [(p.alias, p.display_name, known.get(p.alias)) for p in REGISTRY]
    return render_template("admin/settings.html", realm=realm, form=form, error=error,
                           providers=rows, provider_form=ProviderForm,
                           notice=notices.pop()), 400 if error or form.errors else 200


@bp.route("/realms/<slug>/settings/providers/<alias>", methods=["POST"])
def provider(slug: str, alias: str) -> Any:
    realm = target(slug, Action.SETTINGS_WRITE)
    form = ProviderForm()
    if not form.validate_on_submit():
        notices.push("error", _("Identifiant du fournisseur manquant ou page expirée."))
        return redirect(url_for("admin.settings", slug=slug))
    try:
        ops.save_provider(principal(), realm, alias, form.client_id.data,
                          form.client_secret.data or "", bool(form.enabled.data))
    except ops.AdminError as exc:
        db.session.rollback()
        notices.push("error", str(exc))
    else:
        db.session.commit()
        notices.push("ok", _("Fournisseur %(alias)s enregistré.", alias=alias))
    return redirect(url_for("admin.settings", slug=slug))
