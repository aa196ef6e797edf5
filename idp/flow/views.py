"""Sign-in views: thin, they read forms and hand over to the machine."""

from __future__ import annotations

from flask import g, render_template, request

from ..core.db import db
from ..core.models import IdentityProvider
from ..core.providers import REGISTRY
from ..web.context import realm_blueprint
from ..web.forms import LoginForm
from ..web.limits import credential_limit
from . import machine
from .password import password_step

bp = realm_blueprint("flow", __name__)


def social_buttons() -> list[tuple[str, str]]:
    """``(alias, display name)`` of the realm's enabled providers, in registry order."""
    enabled = set(db.session.execute(
        db.select(IdentityProvider.alias).filter_by(realm_id=g.realm.id, enabled=True)
    ).scalars())
    return [(p.alias, p.display_name) for p in REGISTRY if p.alias in enabled]


@bp.route("/login", methods=["GET", "POST"])
@credential_limit
def login():
    form = LoginForm()
    first = request.args.get("first") == "1" or request.form.get("first") == "1"
    if request.method == "GET" and request.args.get("login_hint"):
        form.login.data = request.args["login_hint"][:320]
    response, error = password_step(form)
    if response is not None:
        return response
    return render_template(
        "login.html",
        form=form,
        error=error,
        first=first,
        providers=social_buttons(),
        has_client=machine.has_client_request(),
    ), (401 if error else 200)


@bp.route("/login/cancel", methods=["POST"])
def cancel():
    return machine.cancel()


@bp.route("/about")
def about():
    return render_template("about.html")
