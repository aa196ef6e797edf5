"""The realm's colour as a stylesheet of the idp (the CSP allows no inline style), linked
from the sign-in pages' layout when the realm sets ``brand_color``."""

from __future__ import annotations

from flask import Response, g

from ..web.context import realm_blueprint

bp = realm_blueprint("branding", __name__)


@bp.route("/theme.css")
def theme() -> Response:
    color = g.realm.settings.brand_color  # validated #rrggbb: safe in CSS
    css = f":root {{ --brand: {color}; }}\n" if color else ""
    response = Response(css, mimetype="text/css")
    response.cache_control.public = True
    response.cache_control.max_age = 300
    return response
