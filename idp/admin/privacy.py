"""Console, privacy: pending account deletions (refuse one with a reason the customer
sees) and a customer's Mes données file (a request by letter). Thin: every action is
one call to :mod:`idp.core.operations`."""

from __future__ import annotations

import json
from typing import Any

from flask import Response, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from ..core import deletion
from ..core import operations as ops
from ..core.db import db
from ..core.staff import Action
from ..web import notices
from ..web.mail import deliver_soon
from .blueprint import bp, principal, target


class RefuseForm(FlaskForm):
    reason = TextAreaField(_l("Motif (montré au client)"), validators=[
        DataRequired(_l("Indiquez le motif du refus : il est montré au client.")),
        Length(max=500, message=_l("500 caractères au plus."))])


@bp.route("/realms/<slug>/deletions")
def deletions(slug: str) -> Any:
    realm = target(slug, Action.CUSTOMERS_READ)
    rows = ops.pending_deletions(principal(), realm)
    return render_template("admin/deletions.html", realm=realm, rows=rows,
                           erase_on={c.id: deletion.erase_on(c, realm.settings) for c in rows},
                           notice=notices.pop(), form=RefuseForm(formdata=None),
                           failed=None)


@bp.route("/realms/<slug>/deletions/<identifier>/refuse", methods=["POST"])
def refuse_deletion(slug: str, identifier: str) -> Any:
    realm = target(slug, Action.CUSTOMERS_WRITE)
    form = RefuseForm()
    if form.validate_on_submit():
        try:
            row = ops.refuse_deletion(principal(), realm, identifier, form.reason.data,
                                      None)
        except ops.AdminError as exc:
            db.session.rollback()
            notices.push("error", _("Cette demande n'est plus en attente.")
                          if exc.code == "not_pending" else _("Action impossible."))
            return redirect(url_for("admin.deletions", slug=slug))
        db.session.commit()
        if row is not None:
            deliver_soon(row.id)
        notices.push("ok", _("La suppression du compte %(identifier)s est refusée ; le client "
                             "en est informé.", identifier=identifier))
        return redirect(url_for("admin.deletions", slug=slug))
    rows = ops.pending_deletions(principal(), realm)
    return render_template("admin/deletions.html", realm=realm, rows=rows,
                           erase_on={c.id: deletion.erase_on(c, realm.settings) for c in rows},
                           notice=None, form=form, failed=identifier), 400


@bp.route("/realms/<slug>/customers/<identifier>/export.json")
def export_customer(slug: str, identifier: str) -> Any:
    realm = target(slug, Action.CUSTOMERS_READ)
    try:
        doc = ops.export_customer(principal(), realm, identifier)
    except ops.AdminError:
        return render_template("error.html", status=404, message=None), 404
    db.session.commit()
    return Response(json.dumps(doc, ensure_ascii=False, indent=2), mimetype="application/json",
                    headers={"Content-Disposition":
                             f'attachment; filename="donnees-{identifier}.json"',
                             "Cache-Control": "no-store"})


