"""The agency staff console: server-rendered pages of the idp under ``/admin/console``.

Why blueprints of the idp rather than a separate OIDC client app: staff sign in through
the idp's own sign-in machine (staff realm, password + TOTP), the console then reads that
SSO session like Mon compte does; no second app, no token to store, and every action
goes straight to the domain core (:mod:`idp.core.operations`), where permissions are checked.
``/admin/realms/...`` stays free for the admin REST API.
"""

from __future__ import annotations

from typing import Any

from flask import url_for

from ..core import actions
from ..flow import otp
from ..flow.machine import register_action_page, register_landing, register_step
from ..web.context import app_settings
from . import branding, clients, customers, privacy, reports, settings_views  # noqa: F401 (routes)
from .blueprint import bp


def _console_landing(realm_slug: str) -> str | None:
    """A staff member signed in without a client: straight to the console."""
    if realm_slug == app_settings().staff_realm:
        return url_for("admin.home")
    return None


def init_app(app: Any) -> None:
    """Register the console, the branding stylesheet and the second-factor pages."""
    app.register_blueprint(bp)
    app.register_blueprint(branding.bp)
    app.register_blueprint(otp.bp)
    register_action_page(app, actions.CONFIGURE_TOTP, "otp.configure")
    register_step(app, otp.second_factor_step, before_required_actions=True)
    register_landing(app, _console_landing)
