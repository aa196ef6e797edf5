"""Sign-in views: thin, they read forms and hand over to the machine."""

from __future__ import annotations

from flask import current_app, g, render_template, request

from ..core import interaction
from ..core.db import db
from ..core.models import IdentityProvider
from ..core.providers import REGISTRY
from ..web.context import realm_blueprint
from ..web.forms import LoginForm
from ..web.limits import credential_limit
from ..web.session import current_interaction
from . import machine
from .password import password_step

bp = realm_blueprint("flow", __name__)
#: Callables ``(form) -> response | None`` tried before the password step (registered
#: per app in ``create_app``): one answers for a sign-in the password step must not take.
LOGIN_INTERCEPTORS = "idp.login_interceptors"


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
    linking = _keep_pending_link(request.values.get("link"))
    if request.method == "GET" and request.args.get("login_hint"):
        form.login.data = request.args["login_hint"][:320]
    for intercept in current_app.extensions.get(LOGIN_INTERCEPTORS, []):
        taken = intercept(form)  # e.g. the password of an account pending deletion
        if taken is not None:
            return taken
    response, error = password_step(form)
    if response is not None:
        return response
    return render_template(
        "login.html",
        form=form,
        error=error,
        first=first,
        linking=linking,
        providers=social_buttons(),
        has_client=machine.has_client_request(),
    ), (401 if error else 200)


def _keep_pending_link(alias: str | None) -> str | None:
    """A social identity waiting to be linked survives only on the pages that say so
    (the link page and its "Première connexion" button carry ``link=<alias>``): on the
    plain sign-in page it is dropped, so the next customer who signs in on a shared
    computer is never linked to someone else's social account."""
    ix = current_interaction()
    if ix is None or not ix.link:
        return None
    if alias and ix.link.get("provider") == alias:
        return alias
    ix.link = None
    interaction.save(ix)
    db.session.commit()
    return None


@bp.route("/login/cancel", methods=["POST"])
def cancel():
    return machine.cancel()


@bp.route("/about")
def about():
    return render_template("about.html")
