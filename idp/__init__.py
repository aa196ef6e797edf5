"""Espace Client identity provider: an OpenID Provider for property managers' customers."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, Request, g, jsonify, make_response, render_template, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from flask_babel import get_locale
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException

from shared import health
from shared.browsers import is_internet_explorer
from shared.config import is_https, load_config
from shared.i18n import pick_locale
from shared.logging_json import init_request_logging, safe_path
from shared.security import TrustedProxyFix, init_security_headers, parse_networks

from . import account, admin, api, oidc
from .account import consents as account_consents
from .account import passkeys as account_passkeys
from .account import privacy as account_privacy
from .account import proof as account_proof
from .account import ways as account_ways
from .account.views import register_section
from .commands import register_cli
from .core import credentials, crypto, outbound, passkeys, staff  # noqa: F401  (tables)
from .core.models import Realm
from .core.settings import AppSettings
from .extensions import babel, csrf, db, init_migrations, limiter, mail
from .federation import views as broker
from .flow import journey_views
from .flow import passkeys as flow_passkeys
from .flow import privacy as flow_privacy
from .flow import views as flow_views
from .flow.machine import register_completion_hook
from .web import invalidation
from .web import passkeys as web_passkeys
from .web.context import bind_audit_context
from .web.mail import deliver_queued
from .web.session import flow_locale

#: Flask's and its extensions' keys, with the idp's values (settings.FLASK_KEYS). The idp's
#: own keys and their defaults are the fields of AppSettings (idp/core/settings.py).
DEFAULTS: dict[str, Any] = {
    "SQLALCHEMY_DATABASE_URI": None,
    "SESSION_COOKIE_NAME": "idp_session",
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "MAIL_SERVER": "127.0.0.1",
    "MAIL_PORT": 8025,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_SUPPRESS_SEND": False,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Redis gone: per-process limits in memory (warning logged), back to Redis when it
    # answers again; short socket timeouts so a dead Redis never stalls a sign-in.
    "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
    "RATELIMIT_SWALLOW_ERRORS": True,
    "RATELIMIT_STORAGE_OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    "BABEL_DEFAULT_LOCALE": "fr",
    "WTF_CSRF_TIME_LIMIT": None,
}
log = logging.getLogger(__name__)


class CookieSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, without building its signer for a request that has
    no session cookie (every call of a client to the protocol endpoints): the same empty
    session, about 5 % of a client-credentials grant's CPU less."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # No Cookie header at all (a client's back-channel call): not even the cookie parse.
        if app.secret_key and ("HTTP_COOKIE" not in request.environ
                               or not request.cookies.get(self.get_cookie_name(app))):
            return self.session_class()
        return super().open_session(app, request)


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The app factory (Flask tutorial style): config, extensions, blueprints, CLI."""
    app = Flask(__name__, instance_relative_config=True)
    app.session_interface = CookieSessionInterface()
    load_config(app, "IDP", DEFAULTS, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    if not app.config.get("SQLALCHEMY_DATABASE_URI"):
        app.config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{Path(app.instance_path) / 'idp.db'}"
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = health.engine_options(
        app.config["SQLALCHEMY_DATABASE_URI"], app.config.get("SQLALCHEMY_ENGINE_OPTIONS"))
    # The one source of the idp's own settings; written back under their config names so
    # the code shared with the portal and Flask-Mail read the very same typed values.
    settings = AppSettings.from_mapping(app.config)
    app.config.update(settings.as_config())
    app.config["SESSION_COOKIE_SECURE"] = is_https(settings.public_url)
    if settings.production and not is_https(settings.public_url):
        raise RuntimeError("IDP_PUBLIC_URL must be https:// in production")
    if settings.production and settings.outbound_loopback:
        raise RuntimeError("IDP_OUTBOUND_LOOPBACK is for development only")
    app.extensions["idp.settings"] = settings
    # Request bodies are small (forms, JSON, a customer CSV): cap them (413).
    app.config["MAX_CONTENT_LENGTH"] = settings.max_content_length
    outbound.configure(loopback_allowed=settings.outbound_loopback)
    if not crypto.configure(settings.data_key, settings.secret_key, settings.production):
        log.warning("IDP_DATA_KEY is not set: stored secrets are encrypted with a key "
                    "derived from SECRET_KEY (development only)")
    if settings.proxy_fix:
        # Forwarded headers only from the configured proxies: a client reaching the port
        # directly must not choose its own address (rate limits, lockout audit, logs).
        trusted = settings.trusted_proxies
        if not parse_networks(trusted):
            raise RuntimeError("IDP_PROXY_FIX needs IDP_TRUSTED_PROXIES (the proxies' "
                               "addresses or CIDRs)")
        app.wsgi_app = TrustedProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, trusted, x_for=1, x_proto=1, x_host=1)
    logging.getLogger("authlib").setLevel(logging.INFO)

    db.init_app(app)
    invalidation.init_app(app)
    init_migrations(app, str(Path(__file__).parent / "migrations"))
    csrf.init_app(app)
    babel.init_app(
        app,
        # ui_locales on the request, else the sign-in state's (every screen of the flow
        # follows what the client asked), else the cookie, else Accept-Language.
        locale_selector=lambda: pick_locale(request.args.get("ui_locales") or flow_locale()),
        default_translation_directories=";".join(
            str(p) for p in sorted(Path(__file__).parent.glob("**/translations"))
        ),
    )
    app.jinja_env.globals["get_locale"] = lambda: str(get_locale() or "fr")
    mail.init_app(app)
    limiter.init_app(app)
    app.before_request(bind_audit_context)
    app.after_request(deliver_queued)
    # form-action must allow redirects to client apps after a form post (Chrome applies
    # it to the whole redirect chain); the pages' own forms all post to the idp.
    init_security_headers(app, form_action=settings.csp_form_action)

    _register_blueprints(app)
    _register_errors(app)
    _register_ops(app)
    _register_browser_gate(app)
    _enable_sqlite_fk(app)
    register_cli(app)
    return app


def _register_blueprints(app: Flask) -> None:
    """Every blueprint, completion hook and Mon compte section, explicitly, per app."""
    oidc.init_app(app)
    for bp in (flow_views.bp, journey_views.bp, account.views.bp, broker.bp,
               account_consents.bp):
        app.register_blueprint(bp)
    register_completion_hook(app, broker.link_on_complete)
    register_section(app, broker.account_section)
    register_section(app, account_consents.account_section)
    # Passkeys: sign-in, the offer step after sign-in, the Mon compte section.
    flow_passkeys.init_app(app)
    account_passkeys.init_app(app)
    account_proof.init_app(app)  # Mon compte's fresh proof (confirm page)
    account_ways.init_app(app)  # Mon compte: every way in, one-click removal
    app.jinja_env.globals["passkeys_enabled"] = web_passkeys.enabled
    # Privacy (issue 22): emailed code, deletion step, devices; Mes données, activity.
    flow_privacy.init_app(app)
    account_privacy.init_app(app)
    admin.init_app(app)  # staff console, second-factor pages, realm theme
    api.init_app(app)

    @app.route("/")
    def index() -> Any:
        realms = db.session.execute(db.select(Realm).filter_by(enabled=True)).scalars().all()
        return render_template("index.html", realms=realms)


def _register_ops(app: Flask) -> None:
    """Probes, /metrics, request ids and JSON request lines (docs/operations.md)."""
    checks = {"database": health.database_check(lambda: db.engine)}
    if not str(app.config["RATELIMIT_STORAGE_URI"]).startswith("memory://"):
        checks["redis"] = lambda: bool(limiter.storage.check())
    health.init_probes(app, checks, optional=frozenset({"redis"}), exempt=limiter.exempt)
    health.init_metrics_endpoint(app, exempt=limiter.exempt)
    health.init_outcome_metrics(app, frozenset({"flow.login"}), frozenset({"oidc.token"}))
    init_request_logging(app, "idp", quiet_paths=health.PROBE_PATHS)


def _register_browser_gate(app: Flask) -> None:
    """Internet Explorer gets a plain "unsupported browser" page instead of the screens."""
    pages = {"flow", "journey", "account", "broker", "privacy", "privacy_flow"}

    @app.before_request
    def _gate() -> Any:
        if request.blueprint in pages and is_internet_explorer(request.user_agent.string):
            return render_template("unsupported.html"), 200
        return None


def _register_errors(app: Flask) -> None:
    def wants_json() -> bool:
        return "/protocol/" in request.path or request.path.startswith("/api/") or (
            "/clients-registrations/" in request.path) or (
            request.accept_mimetypes.best == "application/json"
        )

    def unavailable(exc: BaseException) -> Any:
        # A dependency outage: 503 + Retry-After (an outage, not a bug, and never the
        # caller's fault), one log line. Every entry point reaches here: the lookups
        # (realm, client, keys, tokens) let the error rise instead of answering "unknown".
        log.warning("%s unavailable on %s %s: %s", health.outage_kind(exc), request.method,
                    safe_path(), health.describe(exc))
        with contextlib.suppress(Exception):  # the connection may be gone already
            db.session.rollback()
        g.pop("realm", None)  # expired by the rollback: the page must not reload it
        if api.wants_problem(request.path):
            return health.unavailable_problem(request.path)
        # Machines (every endpoint of the protocol blueprint: token, registration,
        # discovery, JWKS…) get the RFC 6749 JSON error they can act on.
        if wants_json() or request.blueprint == oidc.bp.name:
            return health.unavailable_json()
        try:
            page = render_template("error.html", status=503,
                                   message=health.unavailable_text(str(get_locale() or "fr")))
            return health.with_retry_after(make_response(page))
        except Exception:
            return health.fallback_page(None)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        if health.is_outage(exc):  # raised while opening the request (no view yet)
            return unavailable(exc)
        if api.wants_problem(request.path):
            return api.problems.from_status(exc.code or 500, exc.description)
        if wants_json():
            return jsonify(error=exc.name.lower().replace(" ", "_"),
                           error_description=exc.description), exc.code
        return render_template("error.html", status=exc.code, message=None), exc.code

    @app.errorhandler(credentials.CredentialChanged)
    def credential_changed(exc: credentials.CredentialChanged) -> Any:
        # Lost a race with another request changing the same password (two browsers
        # finishing one première connexion): nothing of this one is kept; sign in again.
        db.session.rollback()
        log.info("credential change lost a race: %s", exc)
        page = render_template("error.html", status=409, message=_(
            "Votre mot de passe vient d'être modifié depuis une autre fenêtre. "
            "Veuillez vous connecter avec le nouveau mot de passe."))
        return page, 409

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        if health.is_outage(exc):
            return unavailable(exc)
        # The detail goes to the log only: never SQL, tokens or secrets in a response.
        log.exception("unexpected error on %s %s", request.method, safe_path())
        db.session.rollback()
        if api.wants_problem(request.path):
            return api.problems.from_status(500)
        if wants_json():
            return jsonify(error="server_error",
                           error_description="An unexpected error occurred"), 500
        return render_template("error.html", status=500, message=None), 500


def _enable_sqlite_fk(app: Flask) -> None:
    from sqlalchemy import event

    with app.app_context():
        engine = db.engine
        health.ping_when_idle(engine)
        if engine.dialect.name == "sqlite":

            @event.listens_for(engine, "connect")
            def _fk(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA foreign_keys=ON")
                cur.execute("PRAGMA journal_mode=WAL")
                # WAL + NORMAL: no fsync per commit, still no corruption on a crash.
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.execute("PRAGMA busy_timeout=5000")
                cur.close()
