"""Small services shared by the journey views and Mon compte (no views here)."""

from __future__ import annotations

from typing import Any

from flask import current_app

from .. import audit
from ..core.models import Customer, utcnow
from ..credentials import verify_temporary_code
from ..extensions import limiter
from . import actions
from .policy import violations

# One per-IP budget shared by every form that checks or sets a credential or sends a mail
# (Flask-Limiter; memory by default, Redis in production; generous for a NAT).
credential_limit = limiter.shared_limit(lambda: current_app.config["LOGIN_RATE_LIMIT"],
                                        scope="credential-forms", methods=["POST"])


def finish_action(customer: Customer, name: str) -> None:
    """Drop a done action; the first time none is left, the account is activated."""
    customer.required_actions = actions.remove(list(customer.required_actions or []), name)
    if not customer.required_actions and customer.activated_at is None:
        customer.activated_at = utcnow()
        audit.record("customer_activated", realm_id=customer.realm_id, customer_id=customer.id)


def password_problems(password: str, customer: Customer, settings: dict[str, Any],
                      email: str | None = None) -> list[str]:
    """Every policy rule the new password breaks, plus "not the temporary code"."""
    from flask_babel import gettext as _

    problems = violations(password, settings["password_policy"],
                          identifier=customer.identifier, email=email or customer.email)
    if customer.temporary_code_hash and verify_temporary_code(customer.temporary_code_hash,
                                                              password):
        problems.append(_("Le mot de passe ne doit pas être votre mot de passe provisoire."))
    return problems


def mask_email(email: str) -> str:
    """``m***@example.test``: enough for the owner to recognise it, little for others."""
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"
