"""Prometheus metrics: a tiny Flask-free API for the domain core, plus the web exposition.

The core calls ``sign_in(outcome)``, ``token_issued(grant)`` and ``mail(outcome)``; it never
imports Flask or prometheus-client itself. Under the server (config/serve.py) every worker
is a process: with ``PROMETHEUS_MULTIPROC_DIR`` set (an empty directory per service, wiped
at start), values live in files there and ``/metrics`` adds up every worker's (a dead
worker's counts stay in the sum, as they should: only counters and histograms are used).
Without it (tests, ``flask run``), the process's own registry is used.

``/metrics`` answers only when ``METRICS_TOKEN`` is set, and only to
``Authorization: Bearer <METRICS_TOKEN>``: it must not be readable through the public
load balancer, whatever the network layout.
"""

from __future__ import annotations

import contextvars
import hmac
import os
from collections.abc import Iterable

_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if _MULTIPROC_DIR:  # prometheus-client writes its files there from the first metric on
    os.makedirs(_MULTIPROC_DIR, exist_ok=True)

from prometheus_client import (  # noqa: E402 (needs the directory above)
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

SIGN_IN_OUTCOMES = frozenset({
    "success", "failure", "locked", "rate_limited", "unavailable",
    "temporary_code", "social", "other",
})
GRANTS = frozenset({"authorization_code", "refresh_token", "client_credentials", "other"})
MAIL_OUTCOMES = frozenset({"sent", "failed", "queued"})

# Latency buckets (seconds): argon2 sign-ins sit around 0.1-0.5 s, protocol calls far below.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_LATENCY = Histogram(
    "http_request_duration_seconds", "Time to answer an HTTP request, by Flask endpoint.",
    ["app", "method", "endpoint", "status"], buckets=BUCKETS,
)
SIGN_INS = Counter("idp_sign_ins", "Sign-in attempts by outcome.", ["outcome"])
TOKENS = Counter("idp_tokens_issued", "Token responses issued, by grant type.", ["grant"])
MAILS = Counter("idp_mails", "Mails by outcome: sent, failed, queued.", ["outcome"])

# Set when the core reported the current request's sign-in or token itself, so the web
# hook's approximation (by status code) does not count it twice.
_reported: contextvars.ContextVar[frozenset[str]] = contextvars.ContextVar(
    "metrics_reported", default=frozenset()
)


def _known(value: str, allowed: Iterable[str]) -> str:
    """Unknown labels collapse to ``other``: label values must stay a small, fixed set."""
    return value if value in allowed else "other"


def sign_in(outcome: str) -> None:
    """Count one sign-in attempt: success, failure, locked, rate_limited, unavailable…"""
    SIGN_INS.labels(_known(outcome, SIGN_IN_OUTCOMES)).inc()
    _reported.set(_reported.get() | {"sign_in"})


def token_issued(grant: str) -> None:
    """Count one successful token response for an OAuth grant type."""
    TOKENS.labels(_known(grant, GRANTS)).inc()
    _reported.set(_reported.get() | {"token"})


def mail(outcome: str) -> None:
    """Count one mail event: ``sent``, ``failed`` (for good or for this try) or ``queued``."""
    if outcome not in MAIL_OUTCOMES:
        raise ValueError(f"unknown mail outcome {outcome!r}")
    MAILS.labels(outcome).inc()


def request_started() -> None:
    """Forget what the previous request on this thread reported."""
    _reported.set(frozenset())


def reported(kind: str) -> bool:
    """Whether the core already counted ``kind`` (``sign_in`` or ``token``) this request."""
    return kind in _reported.get()


def observe_request(app: str, method: str, endpoint: str, status: int, seconds: float) -> None:
    """One latency sample; ``endpoint`` is the route's name, never the raw path."""
    REQUEST_LATENCY.labels(app, method, endpoint, str(status)).observe(seconds)


def exposition() -> tuple[bytes, str]:
    """The text format of every worker's metrics (or this process's) and its content type."""
    if _MULTIPROC_DIR:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


def authorized(header: str | None, token: str | None) -> bool:
    """Constant-time bearer check; no token configured means no metrics endpoint."""
    if not token or not header or not header.startswith("Bearer "):
        return False
    return hmac.compare_digest(header[7:].encode(), str(token).encode())


def mark_process_dead(pid: int) -> None:
    """A server's worker-exit hook: drop a dead worker's live files (multi-process mode only)."""
    if _MULTIPROC_DIR:
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
