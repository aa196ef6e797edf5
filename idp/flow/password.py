"""The password step of the sign-in machine, shared by every form that asks for it
(the sign-in page, the social-account link page)."""

from __future__ import annotations

from collections.abc import Callable

from flask import g, request
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..core.credentials import authenticate, find_customers
from ..core.models import Customer
from ..web import limits, texts
from ..web.context import app_settings
from ..web.forms import LoginForm
from . import machine

# A veto on a proven customer (e.g. "this social account belongs to someone else"):
# a response to show instead of continuing, or None.
Veto = Callable[[Customer], Response | tuple[str, int] | None]


def login_candidates(login: str) -> list[Customer]:
    """The accounts ``login`` names in this realm, looked up once per request: the
    login interceptors (the deletion offer) and the password step ask the same question
    of the same form."""
    found = g.get("_login_candidates")
    if found is None or found[0] != login:
        found = g._login_candidates = (login, find_customers(g.realm, login))
    return found[1]


def password_step(form: LoginForm, veto: Veto | None = None) -> tuple[object | None, str | None]:
    """Check a submitted identifier + password form.

    Returns ``(response, None)`` when the machine takes over (or the veto answers),
    ``(None, message)`` for an error to show with the form, ``(None, None)`` otherwise.
    Unknown, locked and wrong all get the same message.
    """
    if form.validate_on_submit():
        if limits.failures_exhausted():
            form.password.data = ""
            return None, texts.too_many_failures()
        attempt = authenticate(app_settings(), g.realm, form.login.data, form.password.data,
                               login_candidates(form.login.data))
        if attempt.customer is not None:
            refusal = veto(attempt.customer) if veto else None
            if refusal is not None:
                return refusal, None
            return machine.authenticated(attempt.customer, ["pwd"],
                                         used_temporary=attempt.used_temporary), None
        limits.count_failure(g.realm.id)
        form.password.data = ""
        return None, _("Identifiant ou mot de passe incorrect.")
    if request.method == "POST" and "csrf_token" in form.errors:
        return None, _("La page a expiré. Veuillez réessayer.")
    return None, None
