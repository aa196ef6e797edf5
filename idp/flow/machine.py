"""One state machine for every sign-in: password, première connexion, social.

State lives in the signed session cookie: ``authz`` (the client request to resume),
``pending`` (a customer authenticated but still owing required actions). Completing
starts the SSO session (new ``sid``, new cookie) and resumes the client request.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from flask import g, redirect, session, url_for
from werkzeug.wrappers import Response

from ..core.models import Customer, SsoSession
from ..extensions import db
from ..redirects import respond
from ..sessions import start_sso
from . import actions

# Hooks run once the customer is fully signed in (e.g. linking a social identity); they
# get the carried data and the new SSO session (they may add to its ``amr``).
CompletionHook = Callable[[Customer, dict[str, Any], SsoSession], None]
_on_complete: list[CompletionHook] = []


def on_complete(hook: CompletionHook) -> None:
    _on_complete.append(hook)


def begin(authz_args: dict[str, str], login_hint: str | None = None) -> Response:
    """Remember the client request and send the browser to the sign-in page."""
    args = dict(authz_args)
    args["_flow"] = secrets.token_urlsafe(12)
    args.pop("csrf_token", None)
    args.pop("consent", None)
    session["authz"] = args
    session.pop("pending", None)
    session.pop("carry", None)
    params = {"realm": g.realm.slug}
    if login_hint:
        params["login_hint"] = login_hint
    return redirect(url_for("flow.login", **params))


def authenticated(
    customer: Customer, amr: list[str], idp: str | None = None, **extra: Any
) -> Response:
    """A credential was proven: note who, then drain required actions."""
    session["pending"] = {"customer": customer.id, "amr": amr, "idp": idp, **extra}
    return next_step()


def remember(key: str, value: Any) -> None:
    """Keep ``value`` until the sign-in completes (e.g. a social identity to link);
    completion hooks receive it in their data dict."""
    carry = dict(session.get("carry") or {})
    carry[key] = value
    session["carry"] = carry


def remembered(key: str) -> Any:
    return (session.get("carry") or {}).get(key)


def forget(key: str) -> None:
    carry = dict(session.get("carry") or {})
    carry.pop(key, None)
    session["carry"] = carry


def pending_customer() -> Customer | None:
    pending = session.get("pending")
    if not pending:
        return None
    customer = db.session.get(Customer, pending["customer"])
    if customer is None or customer.realm_id != g.realm.id or not customer.enabled:
        return None
    return customer


def pending_data() -> dict[str, Any]:
    return dict(session.get("pending") or {})


def update_pending(**values: Any) -> None:
    pending = dict(session.get("pending") or {})
    pending.update(values)
    session["pending"] = pending


def next_step() -> Response:
    """Where the customer goes now: the first pending action, or completion."""
    customer = pending_customer()
    if customer is None:
        return redirect(url_for("flow.login", realm=g.realm.slug))
    action = actions.first_pending(list(customer.required_actions or []))
    if action is not None:
        return redirect(url_for(action.endpoint, realm=g.realm.slug))
    return complete(customer)


def complete(customer: Customer) -> Response:
    pending = {**(session.get("carry") or {}), **pending_data()}
    authz = session.get("authz")
    sso = start_sso(customer, list(pending.get("amr") or ["pwd"]), pending.get("idp"))
    for hook in _on_complete:
        hook(customer, pending, sso)
    db.session.commit()
    if authz:
        session["fresh_login"] = authz.get("_flow")
        return redirect(url_for("oidc.authorize", realm=g.realm.slug, **authz))
    return redirect(url_for("account.home", realm=g.realm.slug))


def has_client_request() -> bool:
    return bool(session.get("authz"))


def cancel() -> Response:
    """Abandon the flow: back to the client with ``access_denied`` when there is one."""
    authz = session.pop("authz", None)
    session.pop("pending", None)
    if authz:
        params = {"error": "access_denied", "error_description": "Sign-in cancelled"}
        if "state" in authz:
            params["state"] = authz["state"]
        mode = authz.get("response_mode", "query")
        return respond(authz["redirect_uri"], mode if mode == "form_post" else "query", params)
    return redirect(url_for("flow.login", realm=g.realm.slug))
