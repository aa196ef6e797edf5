"""Console: the realm's client applications (list, create, edit, rotate the secret,
disable, delete) and who signed in through each lately."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..core import operations as ops
from ..core.clients import CLIENT_DEFAULTS
from ..core.db import db
from ..core.staff import Action
from ..web import notices
from ..web.context import app_settings
from .blueprint import ActionForm, bp, principal, target
from .forms import ClientForm


@bp.route("/realms/<slug>/clients")
def clients(slug: str) -> Any:
    realm = target(slug, Action.CLIENTS_READ)
    return render_template("admin/clients.html", realm=realm,
                           rows=ops.list_clients(principal(), realm), notice=notices.pop())


def _fill(form: ClientForm, meta: dict[str, Any]) -> None:
    merged = {**CLIENT_DEFAULTS, **meta}
    for name in ("redirect_uris", "post_logout_redirect_uris"):
        getattr(form, name).data = "\n".join(merged.get(name) or [])
    form.grant_types.data = list(merged.get("grant_types") or [])
    for name in ("client_name", "scope", "token_endpoint_auth_method",
                 "id_token_signed_response_alg", "backchannel_logout_uri"):
        getattr(form, name).data = merged.get(name) or ""
    form.first_party.data = bool(merged.get("first_party"))


@bp.route("/realms/<slug>/clients/new", methods=["GET", "POST"])
def client_new(slug: str) -> Any:
    realm = target(slug, Action.CLIENTS_WRITE)
    form = ClientForm()
    error = None
    if request.method == "GET":
        _fill(form, {})
    elif form.validate_on_submit():
        try:
            secret = ops.create_client(principal(), app_settings(), realm,
                                       form.client_id.data or "", form.data_for_core())
        except ops.AdminError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            return render_template("admin/secret_shown.html", realm=realm,
                                   client_id=form.client_id.data.strip(), secret=secret,
                                   created=True)
    return render_template("admin/client_form.html", realm=realm, form=form, error=error,
                           client=None), 400 if error or form.errors else 200


@bp.route("/realms/<slug>/clients/<client_id>", methods=["GET", "POST"])
def client(slug: str, client_id: str) -> Any:
    realm = target(slug, Action.CLIENTS_READ)
    try:
        line = ops.get_client(principal(), realm, client_id)
    except ops.AdminError:
        return render_template("error.html", status=404, message=None), 404
    form = ClientForm()
    error = None
    if request.method == "GET":
        _fill(form, line.meta)
    elif form.validate_on_submit():
        try:
            ops.update_client(principal(), app_settings(), realm, client_id,
                              form.data_for_core())
        except ops.AdminError as exc:
            db.session.rollback()
            error = str(exc)
        else:
            db.session.commit()
            notices.push("ok", _("Application enregistrée."))
            return redirect(url_for("admin.client", slug=slug, client_id=client_id))
    return render_template(
        "admin/client_form.html", realm=realm, form=form, error=error, client=line,
        action_form=ActionForm(), notice=notices.pop(),
        sign_ins=ops.recent_sign_ins(principal(), realm, client_id),
    ), 400 if error or form.errors else 200


@bp.route("/realms/<slug>/clients/<client_id>/<action>", methods=["POST"])
def client_action(slug: str, client_id: str, action: str) -> Any:
    realm = target(slug, Action.CLIENTS_READ)
    if not ActionForm().validate_on_submit():
        notices.push("error", _("La page a expiré. Veuillez réessayer."))
        return redirect(url_for("admin.client", slug=slug, client_id=client_id))
    who, back = principal(), url_for("admin.client", slug=slug, client_id=client_id)
    try:
        if action == "rotate":
            secret = ops.rotate_secret(who, app_settings(), realm, client_id)
            db.session.commit()
            return render_template("admin/secret_shown.html", realm=realm,
                                   client_id=client_id, secret=secret, created=False)
        if action == "delete":
            ops.delete_client(who, app_settings(), realm, client_id)
            db.session.commit()
            notices.push("ok", _("L'application %(id)s est supprimée.", id=client_id))
            return redirect(url_for("admin.clients", slug=slug))
        if action in ("disable", "enable"):
            ops.set_client_enabled(who, app_settings(), realm, client_id,
                                   action == "enable")
            db.session.commit()
            notices.push("ok", _("Application réactivée.") if action == "enable"
                         else _("Application désactivée."))
            return redirect(back)
    except ops.AdminError as exc:
        db.session.rollback()
        notices.push("error", str(exc))
        return redirect(back)
    return render_template("error.html", status=404, message=None), 404
