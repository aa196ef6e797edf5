"""Mon compte: identifier, email, and signing out. Richer actions register on this bp."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, url_for

from ..realms import load_realm
from ..sessions import current_sso

bp = Blueprint("account", __name__, url_prefix="/realms/<realm>/account")


@bp.url_value_preprocessor
def _realm(endpoint: str | None, values: dict | None) -> None:
    load_realm(values.pop("realm"))


@bp.url_defaults
def _realm_default(endpoint: str, values: dict) -> None:
    if "realm" not in values and "realm" in g:
        values["realm"] = g.realm.slug


@bp.route("/")
def home() -> Any:
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    return render_template("account/home.html", customer=sso.customer, sso=sso)
