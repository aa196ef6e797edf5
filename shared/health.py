"""Probes and database-outage handling shared by the idp and the portal.

Why here: both apps sit behind a load balancer on the same PostgreSQL. The balancer needs
``/healthz`` (is the process alive: never any I/O, so a slow database never gets a healthy
process killed) and ``/readyz`` (can it serve: database reachable within a short timeout),
and a customer hitting an instance during an outage must get a 503 with ``Retry-After``
(an outage, retry soon) rather than a 500 (a bug) and never a stack trace.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify
from sqlalchemy import event, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# Seconds: a stopped or unreachable PostgreSQL must fail a request fast, not hang a worker.
CONNECT_TIMEOUT = 3
READY_STATEMENT_TIMEOUT_MS = 2000
PROBE_PATHS = ("/healthz", "/readyz")
# A pooled connection idle longer than this is tested before use (ping_when_idle).
IDLE_PING_SECONDS = 5.0

UNAVAILABLE_TEXT = {
    "fr": "Le service est momentanément indisponible. Veuillez réessayer dans quelques instants.",
    "en": "The service is temporarily unavailable. Please try again in a few moments.",
}
UNAVAILABLE_DESCRIPTION = "The service is temporarily unavailable, retry later"

Check = Callable[[], bool]


def engine_options(uri: str, configured: Mapping[str, Any] | None) -> dict[str, Any]:
    """SQLAlchemy engine options that let an instance ride out a database restart.

    A pooled connection idle for a while is tested before it is handed out
    (:func:`ping_when_idle`, installed by each app on its engine), so connections killed
    by a PostgreSQL restart are replaced instead of failing requests forever; one that
    served a request in the last seconds is not (SQLAlchemy's ``pool_pre_ping`` made a
    ``SELECT 1`` round trip on *every* checkout: one per request, a quarter of a token
    grant's database time). The pool is sized for the server's blocking threads: one connection per
    thread plus one (``SERVER_THREADS``, config/serve.py), a few more under bursts.
    ``connect_timeout`` bounds how long a request waits for an unreachable server;
    ``hide_parameters`` keeps bound values (hashes, codes, e-mails) out of error messages,
    which end up in logs. Options already configured win.
    """
    options: dict[str, Any] = dict(configured or {})
    options.setdefault("hide_parameters", True)
    backend = make_url(uri).get_backend_name()
    if backend == "postgresql":
        threads = int(os.environ.get("SERVER_THREADS") or os.environ.get("GUNICORN_THREADS") or 4)
        options.setdefault("pool_size", threads + 1)
        options.setdefault("max_overflow", threads)
        connect_args = dict(options.get("connect_args") or {})
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT)
        options["connect_args"] = connect_args
    return options


def ping_when_idle(engine: Any, idle_seconds: float = IDLE_PING_SECONDS) -> None:
    """Test a pooled PostgreSQL connection before handing it out when it sat idle more
    than ``idle_seconds``, or when the process has seen the database fail since the
    connection was opened (a failed test discards it and the pool opens another).

    A busy instance makes no extra round trip in normal times. After an outage (any
    failed statement, connect or test in this process starts a new "epoch"), every pooled
    connection is tested once before its next use: once ``/readyz`` says ready, no request
    runs on a connection the restart killed, however recently it was used.
    """
    if engine.dialect.name != "postgresql":
        return
    epoch = [0]  # bumped on every outage seen by this engine (a lost race still bumps)

    @event.listens_for(engine, "connect")
    def _connect(_dbapi_conn: Any, record: Any) -> None:
        record.info["epoch"] = epoch[0]

    @event.listens_for(engine, "handle_error")
    def _failed(context: Any) -> None:
        if context.is_disconnect or is_db_outage(context.sqlalchemy_exception):
            epoch[0] += 1

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("idle_since")
        idle = since is not None and time.monotonic() - since >= idle_seconds
        if not idle and record.info.get("epoch") == epoch[0]:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            epoch[0] += 1  # one dead connection: test the others too
            raise sa_exc.DisconnectionError(type(exc).__name__) from exc
        record.info["epoch"] = epoch[0]


def is_db_outage(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) means the database cannot be reached right now.

    Schema mistakes (SQLite's "no such table") are bugs, not outages: they stay 500.
    """
    seen = 0
    while error is not None and seen < 5:
        if isinstance(error, sa_exc.TimeoutError):  # pool exhausted while the server hangs
            return True
        if isinstance(error, sa_exc.DBAPIError):
            if error.connection_invalidated:
                return True
            if isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
                return "no such " not in str(error.orig)
            return False
        error = getattr(error, "original_exception", None) or error.__cause__
        seen += 1
    return False


def _redis_errors() -> tuple[type[BaseException], ...]:
    try:
        from redis import exceptions
    except ImportError:  # the redis extra is not installed: nothing of it can fail
        return ()
    return (exceptions.ConnectionError, exceptions.TimeoutError)


REDIS_ERRORS = _redis_errors()


def is_redis_outage(error: BaseException | None) -> bool:
    """Whether ``error`` (or what it wraps) is Redis being unreachable."""
    seen = 0
    while error is not None and seen < 5:
        if REDIS_ERRORS and isinstance(error, REDIS_ERRORS):
            return True
        error = getattr(error, "original_exception", None) or error.__cause__
        seen += 1
    return False


def is_outage(error: BaseException | None) -> bool:
    """A dependency (the database, Redis) cannot be reached: the one test every app's
    error handler makes before treating an exception as a bug."""
    return is_db_outage(error) or is_redis_outage(error)


def outage_kind(error: BaseException) -> str:
    """``"redis"`` or ``"database"``, for the log line."""
    return "redis" if is_redis_outage(error) else "database"


def describe(error: BaseException) -> str:
    """One line for the log: the driver's message, never the SQL or its parameters."""
    orig = getattr(error, "orig", None) or error
    first = str(orig).strip().splitlines()
    return f"{type(orig).__name__}: {first[0] if first else ''}"[:300]


def unavailable_text(locale: str | None) -> str:
    """The customer-facing sentence, in the page's language (French by default)."""
    return UNAVAILABLE_TEXT["en" if (locale or "").startswith("en") else "fr"]


def unavailable_json() -> Response:
    """RFC 6749 §4.1.2.1/§5.2 allow ``temporarily_unavailable``; APIs use the same body."""
    response = jsonify(error="temporarily_unavailable", error_description=UNAVAILABLE_DESCRIPTION)
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def unavailable_problem(instance: str) -> Response:
    """The admin API's form of :func:`unavailable_json`: an RFC 9457 problem (what its
    clients parse) that also carries the OAuth ``error`` member (what every other machine
    client of the idp reads)."""
    body = {
        "type": "about:blank", "title": "Service Unavailable", "status": 503,
        "code": "temporarily_unavailable", "detail": UNAVAILABLE_DESCRIPTION,
        "instance": instance, "error": "temporarily_unavailable",
        "error_description": UNAVAILABLE_DESCRIPTION,
    }
    response = Response(json.dumps(body), status=503, mimetype="application/problem+json")
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def with_retry_after(response: Response) -> Response:
    """Mark an HTML 503 page as an outage (balancers and browsers may retry)."""
    response.status_code = 503
    response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response.headers["Cache-Control"] = "no-store"
    return response


def fallback_page(locale: str | None) -> Response:
    """A page needing no template, for when even rendering the error page fails."""
    body = (
        "<!doctype html><html lang=\"fr\"><meta charset=\"utf-8\">"
        "<title>Service indisponible / Service unavailable</title>"
        f"<p>{UNAVAILABLE_TEXT['fr']}</p><p lang=\"en\">{UNAVAILABLE_TEXT['en']}</p></html>"
    )
    return with_retry_after(Response(body, mimetype="text/html"))


def database_check(engine: Callable[[], Any]) -> Check:
    """A readiness check: one ``SELECT 1`` on a pooled connection, bounded in time."""

    def check() -> bool:
        try:
            with engine().connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn.exec_driver_sql(
                        f"SET LOCAL statement_timeout = {READY_STATEMENT_TIMEOUT_MS}"
                    )
                conn.execute(text("SELECT 1"))
            return True
        except Exception as error:  # any failure means "not ready", never a 500
            log.warning("readiness: database unavailable (%s)", describe(error))
            return False

    return check


def init_probes(app: Flask, checks: Mapping[str, Check], optional: frozenset[str] = frozenset(),
                exempt: Callable[[Callable[..., Any]], Any] | None = None) -> None:
    """Register ``/healthz`` and ``/readyz``.

    A failing check in ``optional`` reports ``degraded`` but keeps the instance ready: the
    idp's rate limits fall back to per-process memory when Redis is gone, so taking every
    instance out of the balancer for it would turn a Redis outage into a full outage.
    ``exempt`` is the CSRF/limiter exemption decorator of the app, when it has one.
    """

    def healthz() -> Response:
        return jsonify(status="ok")

    def readyz() -> tuple[Response, int]:
        results = {name: check() for name, check in checks.items()}
        failed = {name for name, ok in results.items() if not ok}
        if failed - optional:
            status, code = "unavailable", 503
        elif failed:
            status, code = "degraded", 200
        else:
            status, code = "ok", 200
        body = jsonify(status=status,
                       checks={name: ("ok" if ok else "unavailable")
                               for name, ok in results.items()})
        body.headers["Cache-Control"] = "no-store"
        if code == 503:
            body.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return body, code

    for path, view in (("/healthz", healthz), ("/readyz", readyz)):
        app.add_url_rule(path, endpoint=path.strip("/"),
                         view_func=exempt(view) if exempt else view)


def init_metrics_endpoint(app: Flask, exempt: Callable[[Callable[..., Any]], Any] | None = None
                          ) -> None:
    """``/metrics`` for Prometheus: 404 unless ``METRICS_TOKEN`` is set, then bearer-only."""
    from flask import abort, request

    from . import metrics

    def metrics_view() -> Response:
        token = app.config.get("METRICS_TOKEN")
        if not token:
            abort(404)
        if not metrics.authorized(request.headers.get("Authorization"), token):
            response = Response("unauthorized\n", status=401, mimetype="text/plain")
            response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
            return response
        body, content_type = metrics.exposition()
        return Response(body, content_type=content_type, headers={"Cache-Control": "no-store"})

    app.add_url_rule("/metrics", endpoint="metrics",
                     view_func=exempt(metrics_view) if exempt else metrics_view)


def init_outcome_metrics(app: Flask, sign_in_endpoints: frozenset[str],
                         token_endpoints: frozenset[str]) -> None:
    """Count sign-ins and tokens from the HTTP exchange, until the core reports them itself.

    An approximation by status code (a redirect after a credential form means accepted,
    401 refused, 429 rate-limited, 503 unavailable); skipped when the core already called
    ``metrics.sign_in``/``metrics.token_issued`` during the request.
    """
    from flask import request

    from . import metrics

    outcomes = {401: "failure", 429: "rate_limited", 503: "unavailable"}

    @app.after_request
    def _count(response: Response) -> Response:
        if request.method != "POST":
            return response
        status = response.status_code
        if request.endpoint in sign_in_endpoints and not metrics.reported("sign_in"):
            outcome = "success" if 300 <= status < 400 else outcomes.get(status)
            if outcome:
                metrics.sign_in(outcome)
        elif (request.endpoint in token_endpoints and status == 200
              and not metrics.reported("token")):
            metrics.token_issued(request.form.get("grant_type", "other"))
        return response
