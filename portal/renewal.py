"""A form posted while the session is being renewed is kept, then shown again.

Why: with a provider that grants no refresh token (OIDC Core §11 ignores ``offline_access``
without ``prompt=consent``), the portal renews its tokens through the browser: a silent
``prompt=none`` round trip, or a full sign-in when the provider wants the customer back.
A browser cannot re-send a POST body through those redirects, so the fields are kept in
the server-side session and handed back to the form afterwards. The portal never replays
the POST by itself: the customer sees what they typed and sends it again (the renewal may
have taken a sign-in and minutes; an action is not repeated unseen).
"""

from __future__ import annotations

import time
from typing import Any

from flask import request, session
from werkzeug.datastructures import MultiDict

STASH_KEY = "form_stash"
STASH_MAX_AGE = 3600  # seconds: an interactive sign-in may take a while, not a day
STASH_MAX_CHARS = 64 * 1024  # the session row is not a file store


def stash_form() -> bool:
    """Keep this request's form fields (not its CSRF token, never files) for later.

    The stash is bound to the signed-in ``issuer``/``sub``: only the same customer gets it
    back. Returns False when the form is too large to keep.
    """
    fields = [[k, v] for k, v in request.form.items(multi=True) if k != "csrf_token"]
    if sum(len(k) + len(v) for k, v in fields) > STASH_MAX_CHARS:
        return False
    rule = request.url_rule
    session[STASH_KEY] = {
        "path": request.path,
        # Pages that show the form (GET) re-render it filled in; POST-only actions get a
        # confirmation page instead (see ``auth.resume``).
        "get_ok": bool(rule and rule.methods and "GET" in rule.methods),
        "form": fields,
        "issuer": session.get("issuer"),
        "sub": session.get("sub"),
        "at": time.time(),
    }
    return True


def current_stash() -> dict[str, Any] | None:
    """The stash if it belongs to the signed-in customer and is recent, else None (dropped)."""
    stash = session.get(STASH_KEY)
    if not stash:
        return None
    if (
        time.time() - float(stash.get("at", 0)) > STASH_MAX_AGE
        or stash.get("issuer") != session.get("issuer")
        or stash.get("sub") != session.get("sub")
    ):
        session.pop(STASH_KEY, None)
        return None
    return dict(stash)


def drop_stash() -> None:
    """Forget the stash (used, or its request went through after all)."""
    session.pop(STASH_KEY, None)


def take_stashed_form(path: str) -> MultiDict | None:
    """The kept fields for the form of ``path``, once; None when there are none."""
    stash = current_stash()
    if stash is None or stash["path"] != path or not stash["get_ok"]:
        return None
    drop_stash()
    return MultiDict([(k, v) for k, v in stash["form"]])
