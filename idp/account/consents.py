"""Mon compte: the apps the customer allowed, and withdrawing them (rules in
:mod:`idp.core.consents`). Registered per app in ``create_app``: the section with
``register_section``, the blueprint explicitly."""

from __future__ import annotations

from typing import Any

from flask import redirect, url_for
from flask_babel import gettext as _

from ..core import consents
from ..core.db import db
from ..core.models import Customer
from ..web import notices
from ..web.context import realm_blueprint
from ..web.session import current_sso

bp = realm_blueprint("consents", __name__, "/account/consents")


def account_section(customer: Customer) -> tuple[str, dict[str, Any]] | None:
    """The "Applications autorisées" section; none when the customer allowed no app."""
    rows = consents.list_for(customer.id)
    if not rows:
        return None
    return "account/_consents_section.html", {"consents": rows}


@bp.route("/<client_id>/revoke", methods=["POST"])
def revoke(client_id: str) -> Any:
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    done = consents.revoke(sso.realm_id, sso.customer_id, client_id)
    db.session.commit()
    notices.push("ok", _("L'autorisation a été retirée.") if done
                 else _("Cette autorisation avait déjà été retirée."))
    return redirect(url_for("account.home"))
