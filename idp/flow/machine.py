"""One state machine for every sign-in: password, première connexion, social, passkey.

The state is the server-side :class:`~idp.core.interaction.Interaction` (the cookie holds
its id). A proven credential binds it to the customer (:func:`authenticated`); each
required action is a page (:data:`ACTION_PAGES`), and so is each registered step (the
second factor, the passkey offer); :func:`complete` runs the completion
hooks registered in ``create_app``, starts the SSO session and resumes the client's
authorization request exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import current_app, g, redirect, url_for
from werkzeug.wrappers import Response

from ..core import actions, interaction
from ..core.db import db
from ..core.interaction import Interaction
from ..core.models import Customer, SsoSession
from ..web.redirects import respond
from ..web.session import (
    current_interaction,
    forget_interaction,
    sign_in,
    start_interaction,
)

#: The page performing each required action.
ACTION_PAGES: dict[str, str] = {
    actions.SET_EMAIL: "journey.set_email",
    actions.VERIFY_EMAIL: "journey.verify_email",
    actions.UPDATE_PASSWORD: "journey.update_password",
}

# A completion hook runs once the customer is fully signed in (e.g. linking a social
# identity carried by the sign-in state); it may add to the new SSO session's ``amr``.
CompletionHook = Callable[[Customer, Interaction, SsoSession], None]
HOOKS_KEY = "idp.completion_hooks"


def register_completion_hook(app: Any, hook: CompletionHook) -> None:
    """Explicit, per app (called from ``create_app``): no process-wide list."""
    app.extensions.setdefault(HOOKS_KEY, []).append(hook)


# A step is a page the sign-in may owe besides the account's required actions: the second
# factor of ``otp_required`` realms (before them), the passkey offer (after them).
# ``step(customer, interaction)`` names its endpoint, or None when it has nothing to ask;
# the page hands back to :func:`next_step`, so a step must answer None once done.
Step = Callable[[Customer, Interaction | None], str | None]
STEPS_BEFORE_KEY = "idp.steps_before_actions"
STEPS_AFTER_KEY = "idp.steps_after_actions"


def register_step(app: Any, step: Step, *, before_required_actions: bool = False) -> None:
    """Explicit, per app (called from ``create_app``), like the completion hooks."""
    key = STEPS_BEFORE_KEY if before_required_actions else STEPS_AFTER_KEY
    app.extensions.setdefault(key, []).append(step)


def register_action_page(app: Any, action: str, endpoint: str) -> None:
    app.extensions.setdefault("idp.action_pages", {})[action] = endpoint


#: Where a sign-in without a client request lands, per realm (default: Mon compte).
LANDING_KEY = "idp.landings"
Landing = Callable[[str], str | None]


def register_landing(app: Any, landing: Landing) -> None:
    """``landing(realm_slug)`` returns a URL to go to after a sign-in without a client
    (e.g. the staff console for the staff realm), or None."""
    app.extensions.setdefault(LANDING_KEY, []).append(landing)


def _action_page(action: str) -> str | None:
    extra = current_app.extensions.get("idp.action_pages", {})
    return extra.get(action) or ACTION_PAGES.get(action)


def begin(request_args: dict[str, str], login_hint: str | None = None) -> Response:
    """Remember the client request server-side and send the browser to the sign-in page."""
    args = {k: v for k, v in request_args.items() if k not in ("csrf_token", "consent")}
    start_interaction(args, login_hint=login_hint)
    db.session.commit()
    params = {"realm": g.realm.slug}
    if login_hint:
        params["login_hint"] = login_hint
    return redirect(url_for("flow.login", **params))


def ensure_interaction() -> Interaction:
    """The sign-in state of this browser, a new one (no client: Mon compte) if none."""
    ix = current_interaction()
    if ix is None:
        ix = start_interaction(None)
    return ix


def authenticated(customer: Customer, amr: list[str], idp: str | None = None,
                  used_temporary: bool = False, acr: str | None = None) -> Response:
    """A credential was proven: bind the sign-in state to the customer, then drain
    required actions. ``acr``: what the proof is worth ("2" for a passkey)."""
    ix = ensure_interaction()
    interaction.authenticated(ix, customer, amr, idp, used_temporary, acr=acr)
    # One transaction with what follows: a sign-in owing nothing completes at once
    # (complete() commits the binding with the session, or rolls both back if another
    # request completed this state first); otherwise the bound state is committed here,
    # before the browser goes to the page it owes.
    response = next_step()
    db.session.commit()
    return response


def pending_customer() -> Customer | None:
    """The customer this browser's sign-in state authenticated (re-checked: lock,
    disable, credential change)."""
    ix = current_interaction()
    return interaction.pending_customer(ix) if ix is not None else None


def next_step() -> Response:
    """Where the customer goes now: the first pending action, or completion."""
    customer = pending_customer()
    if customer is None:
        return redirect(url_for("flow.login", realm=g.realm.slug))
    ix = current_interaction()
    for step in current_app.extensions.get(STEPS_BEFORE_KEY, []):
        if endpoint := step(customer, ix):
            return redirect(url_for(endpoint, realm=g.realm.slug))
    action = actions.first_pending(list(customer.required_actions or []))
    if action is not None:
        page = _action_page(action)
        if page is not None:
            return redirect(url_for(page, realm=g.realm.slug))
    for step in current_app.extensions.get(STEPS_AFTER_KEY, []):
        if endpoint := step(customer, ix):
            return redirect(url_for(endpoint, realm=g.realm.slug))
    return complete(customer)


def owes_nothing(customer: Customer, ix: Interaction | None) -> bool:
    """The sign-in is complete but for its last page: no step before the required
    actions (the second factor) and no required action (email, verification, new
    password) is owed. Adding a way in (the passkey offer) waits for this: a temporary
    code alone, or a password without its second factor, must not be able to add one."""
    for step in current_app.extensions.get(STEPS_BEFORE_KEY, []):
        if step(customer, ix):
            return False
    return not list(customer.required_actions or [])


def complete(customer: Customer) -> Response:
    ix = current_interaction()
    assert ix is not None
    sso = sign_in(customer, ix.amr or ["pwd"], ix.idp, acr=ix.acr)
    for hook in current_app.extensions.get(HOOKS_KEY, []):
        hook(customer, ix, sso)
    if not interaction.complete(ix, sso.id):
        db.session.rollback()  # a concurrent request completed this sign-in first
        return redirect(url_for("flow.login", realm=g.realm.slug))
    db.session.commit()
    if ix.request:
        return redirect(url_for("oidc.authorize", realm=g.realm.slug, _ix=ix.id))
    for landing in current_app.extensions.get(LANDING_KEY, []):
        target = landing(g.realm.slug)
        if target:
            return redirect(target)
    return redirect(url_for("account.home", realm=g.realm.slug))


def has_client_request() -> bool:
    ix = current_interaction()
    return bool(ix is not None and ix.request)


def cancel() -> Response:
    """Abandon the flow: back to the client with ``access_denied`` when there is one."""
    ix = current_interaction()
    forget_interaction()
    db.session.commit()
    if ix is not None and ix.request:
        req = ix.request
        params = {"error": "access_denied", "error_description": "Sign-in cancelled"}
        if "state" in req:
            params["state"] = req["state"]
        mode = req.get("response_mode", "query")
        return respond(req["redirect_uri"], mode if mode == "form_post" else "query", params)
    return redirect(url_for("flow.login", realm=g.realm.slug))
