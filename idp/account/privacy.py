"""Mon compte, privacy: Mes données (JSON download and readable page), Supprimer mon
compte, Activité du compte with "Ce n'était pas moi". Thin over :mod:`idp.core.privacy`,
:mod:`idp.core.deletion`, :mod:`idp.core.activity` and :mod:`idp.core.devices`."""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, abort, g, redirect, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_wtf import FlaskForm

from ..core import activity, audit, deletion, devices, privacy
from ..core.db import db
from ..core.models import Customer
from ..flow.privacy import not_me_done
from ..web.context import app_settings, issuer, realm_blueprint
from ..web.limits import credential_limit
from ..web.session import current_sso, sign_out
from .proof import fresh_proof_required
from .views import register_section

bp = realm_blueprint("privacy", __name__, "/account")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_section(app, activity_section)
    register_section(app, privacy_section)


def _locale() -> str:
    return str(get_locale() or "fr")


def activity_section(customer: Customer) -> tuple[str, dict[str, Any]] | None:
    return "privacy/_activity_section.html", {"entries": activity.recent(customer)}


def _may_delete() -> bool:
    """Staff accounts are the agency's, not personal accounts to erase."""
    return g.realm.slug != app_settings().staff_realm


def privacy_section(customer: Customer) -> tuple[str, dict[str, Any]] | None:
    return "privacy/_privacy_section.html", {
        "refused_reason": customer.deletion_refused_reason,
        "refused_at": customer.deletion_refused_at, "may_delete": _may_delete()}


def _customer() -> Customer:
    sso = current_sso()
    assert sso is not None  # fresh_proof_required checked it
    return sso.customer


def _document(customer: Customer) -> dict[str, Any]:
    audit.record("data_exported", realm_id=customer.realm_id, customer_id=customer.id,
                 by="customer")
    data = privacy.export(g.realm, customer)
    db.session.commit()
    return data


@bp.route("/data")
@fresh_proof_required
def data_page() -> Any:
    return render_template("privacy/data.html", data=_document(_customer()))


@bp.route("/data.json")
@fresh_proof_required
def data_json() -> Any:
    customer = _customer()
    body = json.dumps(_document(customer), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="mes-donnees-{customer.identifier}.json"',
        "Cache-Control": "no-store"})


@bp.route("/delete", methods=["GET", "POST"])
@credential_limit
@fresh_proof_required
def delete_account() -> Any:
    if not _may_delete():
        abort(404)
    customer = _customer()
    form = FlaskForm()
    if form.validate_on_submit():
        try:
            deletion.request(app_settings(), g.realm, customer, issuer(), _locale())
        except deletion.DeletionError:
            db.session.rollback()
        when = deletion.erase_on(customer, g.realm.settings)
        sign_out()
        return render_template("privacy/deletion_requested.html", erase_on=when,
                               email=customer.email)
    return render_template("privacy/delete.html", data=privacy.export(g.realm, customer),
                           days=g.realm.settings.deletion_grace_days)


@bp.route("/not-me", methods=["POST"])
@credential_limit
def not_me() -> Any:
    """"Ce n'était pas moi" in Activité du compte: the same as the mail's link."""
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    if not FlaskForm().validate_on_submit():
        return redirect(url_for("account.home"))
    devices.not_me(app_settings(), g.realm, sso.customer, issuer(), _locale(), where="account")
    sign_out()
    return render_template("privacy/done.html", title=_("Sessions fermées"),
                           message=not_me_done())
