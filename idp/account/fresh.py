"""The fresh-proof seam of the privacy pages: until the ways-in branch lands its confirm
page (``idp.account.proof``), a proof is fresh when the sign-in itself is under five
minutes old; an older session signs in again. Switched to ``proof.fresh_proof_required``
when merged."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from flask import redirect, url_for

from ..web.session import current_sso, sign_out

WINDOW = 300


def fresh_proof_required(view: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        sso = current_sso()
        if sso is None:
            return redirect(url_for("flow.login", next="account"))
        if time.time() - sso.auth_time > WINDOW:
            sign_out()
            return redirect(url_for("flow.login", next="account"))
        return view(*args, **kwargs)

    return wrapper
