"""Sign-in views: thin, they read forms and hand over to the machine."""

from __future__ import annotations

from flask import current_app, g, render_template, request
from flask_babel import gettext as _

from ..credentials import authenticate
from ..extensions import db, limiter
from ..models import IdentityProvider
from ..realms import realm_blueprint
from . import machine
from .forms import LoginForm

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
@limiter.limit(lambda: current_app.config["LOGIN_RATE_LIMIT"], methods=["POST"])
def login():
    form = LoginForm()
    first = request.args.get("first") == "1" or request.form.get("first") == "1"
    if request.method == "GET" and request.args.get("login_hint"):
        form.login.data = request.args["login_hint"]
    error = None
    if form.validate_on_submit():
        attempt = authenticate(g.realm, form.login.data, form.password.data, g.realm_settings)
        db.session.commit()
        if attempt.customer is not None:
            return machine.authenticated(
                attempt.customer, ["pwd"], temporary=attempt.used_temporary
            )
        error = _("Identifiant ou mot de passe incorrect.")
        form.password.data = ""
    elif request.method == "POST" and form.errors and "csrf_token" in form.errors:
        error = _("La page a expiré. Veuillez réessayer.")
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

