"""Sign-in views: thin, they read forms and hand over to the machine."""

from __future__ import annotations

from flask import g, render_template, request

from ..core.models import IdentityProvider
from ..extensions import db
from ..realms import realm_blueprint
from . import machine
from .forms import LoginForm
from .password import password_step
from .steps import credential_limit

bp = realm_blueprint("flow", __name__)


def social_buttons() -> list[IdentityProvider]:
    return list(
        db.session.execute(
            db.select(IdentityProvider)
            .filter_by(realm_id=g.realm.id, enabled=True)
            .order_by(IdentityProvider.alias)
        ).scalars()
    )


@bp.route("/login", methods=["GET", "POST"])
@credential_limit
def login():
    form = LoginForm()
    first = request.args.get("first") == "1" or request.form.get("first") == "1"
    if request.method == "GET" and request.args.get("login_hint"):
        form.login.data = request.args["login_hint"]
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

