"""The OIDC blueprint under ``/realms/<realm>/``, shared by the one-module-per-endpoint
views. Paths follow Keycloak's layout (``protocol/openid-connect/...``) so agencies moving
from Keycloak keep their client configuration habits."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, url_for

from ..extensions import csrf
from ..web.context import issuer, realm_blueprint

bp = realm_blueprint("oidc", __name__)
csrf.exempt(bp)
PROTOCOL = "/protocol/openid-connect"


def no_store(resp: Response) -> Response:
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Pragma"] = "no-cache"
    return resp


def endpoint_url(endpoint: str) -> str:
    """The public URL of an endpoint of the current realm (issuer + path)."""
    return issuer() + url_for(endpoint).split(f"/realms/{g.realm.slug}", 1)[1]


def oauth_server() -> Any:
    """This app's Authlib server (built by :func:`idp.oidc.server.init_server`)."""
    return current_app.extensions["idp.oauth_server"]
