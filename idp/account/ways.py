"""Mon compte: "Mes moyens de connexion", every way in of the customer on one page (the
registry's :func:`ways_in.items_for`), each passkey or social account removable in one
click under the one last-way-in rule (:func:`ways_in.remove`). The forgotten-password
mail links here, so that a customer who just took their account back drops what they do
not recognise. Removing needs no fresh proof: it only takes access away.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, redirect, render_template, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..core import ways_in
from ..core.db import db
from ..core.models import Customer
from ..web import notices
from ..web.context import realm_blueprint
from ..web.session import current_sso
from .proof import fresh_proof_required, needs_proof
from .views import register_section

bp = realm_blueprint("account_ways", __name__, "/account/ways-in")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    register_section(app, account_section)


def account_section(customer: Customer) -> tuple[str, dict[str, Any]] | None:
    """A line on Mon compte's home: how many ways in, and the page to manage them."""
    items = ways_in.items_for(customer, first_factor_only=True)
    return "account/_ways_in_section.html", {"count": len(items)}


def _rows(customer: Customer) -> list[dict[str, Any]]:
    return [{"item": i, "removable": i.removable_by_customer
             and ways_in.may_remove(customer, i.kind, i.key)}
            for i in ways_in.items_for(customer, first_factor_only=True)]


@bp.route("/")
@fresh_proof_required
def page() -> Any:
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    rows = _rows(sso.customer)
    db.session.commit()
    return render_template("account/ways_in.html", rows=rows, notice=notices.pop())


_REFUSALS = {
    "last_way_in": lambda: _("Vous ne pouvez pas supprimer votre seul moyen de connexion."),
    "not_found": lambda: _("Ce moyen de connexion n'existe plus."),
    "not_removable": lambda: _("Ce moyen de connexion ne peut pas être supprimé ici."),
}


@bp.route("/<kind>/<key>/remove", methods=["POST"])
def remove(kind: str, key: str) -> Response:
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    if needs_proof(sso):  # the list asks for the proof first
        return redirect(url_for("account_ways.page", realm=g.realm.slug))
    try:
        ways_in.Kind(kind)
    except ValueError:
        notices.push("error", _REFUSALS["not_found"]())
        return redirect(url_for("account_ways.page", realm=g.realm.slug))
    try:
        ways_in.remove(sso.customer, kind, key)
    except ways_in.RemovalRefused as err:
        db.session.commit()  # the refusal's audit row
        notices.push("error", _REFUSALS[err.code]())
        return redirect(url_for("account_ways.page", realm=g.realm.slug))
    db.session.commit()
    notices.push("ok", _("Ce moyen de connexion a été supprimé."))
    return redirect(url_for("account_ways.page", realm=g.realm.slug))
