"""The browser's side of the sign-in state and of the SSO session.

The signed ``idp_session`` cookie holds two random ids and the locale, nothing more: the
sign-in in progress (``ix``, an :class:`idp.core.interaction.Interaction` row) and the
SSO session (``sid``). The server can end either at any time.
"""

from __future__ import annotations

from flask import g, request, session

from ..core import interaction, sessions
from ..core.interaction import Interaction
from ..core.models import Customer, SsoSession

IX_KEY = "ix"
SID_KEY = "sid"


# --- sign-in state --------------------------------------------------------------------------

def current_interaction() -> Interaction | None:
    """This browser's live sign-in state in the current realm, if any."""
    if "ix" not in g:
        g.ix = interaction.load(session.get(IX_KEY), g.realm.id)
    return g.ix


def start_interaction(request_args: dict[str, str] | None = None,
                      login_hint: str | None = None) -> Interaction:
    """A new sign-in state (an earlier unfinished one of this browser is dropped)."""
    interaction.discard(session.get(IX_KEY))
    locale = None
    if request_args and request_args.get("ui_locales"):
        locale = _supported(request_args["ui_locales"])
    ix = interaction.start(g.realm.id, g.realm.settings.interaction_lifetime, request_args,
                           locale=locale or session.get("locale"), login_hint=login_hint)
    session[IX_KEY] = ix.id
    g.ix = ix
    return ix


def forget_interaction() -> None:
    interaction.discard(session.pop(IX_KEY, None))
    g.ix = None


def interaction_id() -> str | None:
    return session.get(IX_KEY)


def _supported(ui_locales: str) -> str | None:
    for tag in ui_locales.split():
        base = tag.split("-")[0].lower()
        if base in ("fr", "en"):
            return base
    return None


# --- SSO session ----------------------------------------------------------------------------

def current_sso() -> SsoSession | None:
    """The live SSO session of this browser in the current realm, if any."""
    if "sso" not in g:
        g.sso = sessions.find_alive(session.get(SID_KEY), g.realm.id, g.realm.settings)
    return g.sso


def sign_in(customer: Customer, amr: list[str], idp: str | None,
            acr: str | None = None) -> SsoSession:
    """Start the SSO session: a new ``sid`` and a fresh cookie (no session fixation).

    ``acr`` is what the proof was worth ("2" for a passkey); None means a password's "1".
    """
    keep = {k: session[k] for k in ("locale",) if k in session}
    old = session.get(SID_KEY)
    session.clear()
    session.update(keep)
    row = sessions.start(customer, amr, idp, user_agent=request.user_agent.string or "",
                         ip=request.remote_addr, replaces=old, acr=acr or "1")
    session[SID_KEY] = row.id
    session.permanent = False
    g.sso = row
    g.ix = None
    return row


def sign_out() -> None:
    interaction.discard(session.get(IX_KEY))
    session.clear()
    g.sso = None
    g.ix = None


def flow_locale() -> str | None:
    """The locale a sign-in in progress asked for (``ui_locales``), if any."""
    if "realm" not in g:
        return None
    ix = current_interaction()
    return ix.locale if ix is not None else None
