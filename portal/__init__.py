"""Espace Client portal: the customer's home, an OpenID Connect client of the idp."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request
from flask_babel import format_date, get_locale

from shared import health
from shared.config import is_https, load_config
from shared.i18n import pick_locale
from shared.logging_json import init_request_logging, propagate_request_id
from shared.security import init_security_headers

from .extensions import babel, csrf, db, migrate
from .money import format_amount
from .oidc_client import OIDCClient
from .sessions import API_PATH_PREFIX, ServerSessionInterface

DEFAULTS: dict[str, Any] = {
    "OIDC_ISSUER": "http://127.0.0.1:5100/realms/paris-ile-de-france",
    "OIDC_CLIENT_ID": "portal",
    "OIDC_CLIENT_SECRET": "",
    # client_secret_basic | client_secret_post | none (public client, PKCE only)
    "OIDC_TOKEN_AUTH_METHOD": "client_secret_basic",
    "OIDC_TIMEOUT": 5.0,
    "JWKS_MIN_REFETCH_INTERVAL": 10.0,
    "PUBLIC_URL": "http://127.0.0.1:5101",
    "API_AUDIENCE": None,  # default: OIDC_CLIENT_ID
    "API_TOKEN_VALIDATION": "local",  # local | introspection
    "TOKEN_REFRESH_MARGIN": 60,
    # Scopes asked at sign-in. offline_access is only honoured by OPs that grant it without
    # prompt=consent (OIDC Core §11); without a refresh token the portal renews silently.
    "OIDC_SCOPES": "openid profile email customer offline_access",
    # The claim (id_token/UserInfo and API access tokens) naming the customer.
    "CUSTOMER_CLAIM": "customer_id",
    # "Mon compte": this URL, else the OP's discovery field ACCOUNT_DISCOVERY_KEY, else hidden.
    "ACCOUNT_URL": "",
    "SESSION_COOKIE_NAME": "portal_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "PERMANENT_SESSION_LIFETIME": 8 * 3600,
    "BABEL_DEFAULT_LOCALE": "fr",
    "BABEL_TRANSLATION_DIRECTORIES": "translations",
    "SQLALCHEMY_TRACK_MODIFICATIONS": False,
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "METRICS_TOKEN": None,  # /metrics answers only when set (docs/operations.md)
    "LOG_JSON": True,
}

MIGRATIONS_DIR = str(Path(__file__).parent / "migrations")


def _select_locale() -> str:
    return pick_locale(request.args.get("lang"))


#: Stands for "no SECRET_KEY given" through ``load_config`` (which would otherwise quietly
#: pick a random key): the portal's cookies and CSRF tokens must not depend on luck.
_NO_SECRET = "portal-secret-key-not-set"


def _require_secret_key(app: Flask) -> None:
    """Refuse to start without ``PORTAL_SECRET_KEY``, except in tests or explicit
    development (``PORTAL_DEBUG``/``FLASK_DEBUG``, ``TESTING``), where a random key is used."""
    if app.config.get("SECRET_KEY") not in (_NO_SECRET, None, ""):
        return
    if not (app.config.get("TESTING") or app.config.get("DEBUG")):
        raise RuntimeError("PORTAL_SECRET_KEY must be set (set PORTAL_DEBUG=1 for a "
                           "development run with a throwaway key)")
    app.logger.warning("PORTAL_SECRET_KEY is not set: using a random key (development)")
    app.config["SECRET_KEY"] = secrets.token_urlsafe(32)


def _gate_browser_hooks(app: Flask) -> None:
    """Run the app-wide ``before_request`` hooks registered so far (CSRF check, token
    renewal, Internet Explorer gate, session-store outage) on every path but the API's.

    Why: they all serve the browser pages. A bearer-token API call has no form to check,
    no session tokens to renew and no page to show: one prefix test replaces four hooks.
    Hooks meant for every request (request ids, shared ``init_*``) are registered after
    this point and stay app-wide.
    """
    hooks = app.before_request_funcs.pop(None, [])

    def browser_hooks() -> Any:
        if request.path.startswith(API_PATH_PREFIX):
            return None
        for hook in hooks:
            answer = app.ensure_sync(hook)()
            if answer is not None:
                return answer
        return None

    app.before_request_funcs.setdefault(None, []).append(browser_hooks)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the portal app. ``PORTAL_X`` environment variables set the setting ``X``."""
    app = Flask(__name__, instance_relative_config=True)
    load_config(app, "PORTAL", {**DEFAULTS, "SECRET_KEY": _NO_SECRET}, test_config)
    if (test_config or {}).get("SECRET_KEY", os.environ.get("PORTAL_SECRET_KEY")) == "":
        app.config["SECRET_KEY"] = _NO_SECRET  # set but empty: as good as missing
    _require_secret_key(app)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        os.makedirs(app.instance_path, exist_ok=True)
        app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(
            app.instance_path, "portal.db"
        )
    app.config["PUBLIC_URL"] = str(app.config["PUBLIC_URL"]).rstrip("/")
    app.config["OIDC_ISSUER"] = str(app.config["OIDC_ISSUER"]).rstrip("/")
    app.config["SESSION_COOKIE_SECURE"] = is_https(app.config["PUBLIC_URL"])
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = health.engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))
    app.config.setdefault("API_AUDIENCE", None)
    if not app.config["API_AUDIENCE"]:
        app.config["API_AUDIENCE"] = app.config["OIDC_CLIENT_ID"]
    # Signing out posts a form to the portal that redirects to the idp; browsers apply the
    # CSP form-action directive to that redirect, so the idp's origin must be allowed.
    idp = urlsplit(app.config["OIDC_ISSUER"])
    app.config.setdefault("CSP_FORM_ACTION", f"{idp.scheme}://{idp.netloc}")

    db.init_app(app)
    migrate.init_app(app, db, directory=MIGRATIONS_DIR)
    babel.init_app(app, locale_selector=_select_locale)
    csrf.init_app(app)
    app.session_interface = ServerSessionInterface()
    init_security_headers(app)

    app.extensions["portal_oidc"] = OIDCClient(
        app.config["OIDC_ISSUER"],
        app.config["OIDC_CLIENT_ID"],
        app.config["OIDC_CLIENT_SECRET"],
        token_auth_method=app.config["OIDC_TOKEN_AUTH_METHOD"],
        scopes=str(app.config["OIDC_SCOPES"]),
        timeout=float(app.config["OIDC_TIMEOUT"]),
        jwks_min_refetch_interval=float(app.config["JWKS_MIN_REFETCH_INTERVAL"]),
    )

    from . import api, auth, errors, pages

    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)
    errors.init_app(app)
    _gate_browser_hooks(app)
    # Probes, /metrics, request ids (forwarded to the idp) and JSON request lines.
    with app.app_context():
        health.ping_when_idle(db.engine)
    health.init_probes(app, {"database": health.database_check(lambda: db.engine)})
    health.init_metrics_endpoint(app)
    init_request_logging(app, "portal", quiet_paths=health.PROBE_PATHS)
    propagate_request_id(app.extensions["portal_oidc"].http)
    api.init_app(app)

    app.jinja_env.globals.update(get_locale=get_locale, format_date=format_date)
    app.jinja_env.filters["money"] = lambda cents: format_amount(cents, str(get_locale()))
    return app
