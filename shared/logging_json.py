"""JSON logs, one line per request, with a request id carried from the portal to the idp.

Why: several instances behind a balancer write interleaved logs; one JSON object per line
is what log shippers index, and the request id ties a portal request to the idp calls it
made. What a line must never hold: query strings (codes, states, tokens ride there), the
secrets of emailed action links (``/realms/R/action/<token>`` carries one in its path),
headers or cookies. The server's own access log would print the raw request line, so it is
off (``config/serve.py``): these lines replace it.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from typing import Any

import requests
from flask import Flask, Response, g, has_request_context, request
from requests import PreparedRequest
from requests import Response as RequestsResponse
from requests.adapters import HTTPAdapter

from . import metrics

ACCESS_LOG = logging.getLogger("espace.access")
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Route variables whose values are secrets or session handles: masked in logged paths.
SECRET_ARGS = frozenset({"token", "code", "secret", "sid", "key"})
# Same idea for paths that matched no route (a mangled link still carries its secret).
_SECRET_SEGMENT = re.compile(r"(/action/)[^/]+")
MASK = "***"
# Fields copied from a record's ``extra`` into the JSON line.
FIELDS = ("app", "method", "path", "endpoint", "status", "duration_ms", "remote_addr")
_HANDLER_MARK = "_espace_json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, request id, extras."""

    def format(self, record: logging.LogRecord) -> str:
        created = record.created
        line: dict[str, Any] = {
            # ISO 8601 UTC with milliseconds, without a datetime per line (hot path).
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
            + f".{int(created * 1000) % 1000:03d}+00:00",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = request_id
        for name in FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class RequestIdFilter(logging.Filter):
    """Stamps every record made during a request with that request's id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = current_request_id()
        return True


def configure_logging(json_lines: bool = True) -> None:
    """Install the JSON handler on the root logger once per process (idempotent).

    The werkzeug development server logs raw request lines (query strings included): it
    is kept to warnings, the per-request lines below replace it.
    """
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    # The JSON line prints none of the caller's file and line, thread or process names:
    # not collecting them is the logging module's documented optimisation (each request
    # writes a line, so it counts on the token endpoint).
    logging._srcfile = None  # type: ignore[attr-defined]
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    if root.level == logging.NOTSET or root.level > logging.INFO:
        root.setLevel(logging.INFO)
    if not json_lines or any(getattr(h, _HANDLER_MARK, False) for h in root.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)


def current_request_id() -> str | None:
    """The id of the request being served, if any (for logs and outgoing calls)."""
    if has_request_context():
        return g.get("request_id")
    return None


def outgoing_headers() -> dict[str, str]:
    """Headers to add to a call made on behalf of the current request (the portal → idp)."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id else {}


def safe_path() -> str:
    """``request.path`` with secret route variables masked; never the query string."""
    path = request.path
    view_args = request.view_args or {}
    secrets = {str(v) for k, v in view_args.items() if k in SECRET_ARGS and v}
    if secrets:
        path = "/".join(MASK if part in secrets else part for part in path.split("/"))
    return _SECRET_SEGMENT.sub(rf"\1{MASK}", path)


def _incoming_id() -> str:
    """Honour a well-formed ``X-Request-ID`` (from the portal or the balancer), else a new one."""
    given = request.headers.get(REQUEST_ID_HEADER)
    if given and _VALID_ID.fullmatch(given):
        return given
    return os.urandom(16).hex()  # as random as uuid4().hex, without building a UUID


def init_request_logging(app: Flask, name: str, quiet_paths: tuple[str, ...] = ()) -> None:
    """Request id, one log line and one latency sample per request.

    ``quiet_paths`` (the probes, polled every few seconds) are logged only when they fail.
    """
    configure_logging(bool(app.config.get("LOG_JSON", True)))

    def _start() -> None:
        g.request_id = _incoming_id()
        g.request_started = time.perf_counter()
        metrics.request_started()

    # First of all hooks: the id and the clock must exist even if a later hook fails.
    app.before_request_funcs.setdefault(None, []).insert(0, _start)

    @app.after_request
    def _finish(response: Response) -> Response:
        request_id = g.get("request_id") or _incoming_id()
        response.headers[REQUEST_ID_HEADER] = request_id
        seconds = time.perf_counter() - g.get("request_started", time.perf_counter())
        endpoint = request.endpoint or ("unmatched" if request.url_rule is None else "unknown")
        metrics.observe_request(name, request.method, endpoint, response.status_code, seconds)
        status = response.status_code
        if status < 400 and request.path in quiet_paths:
            return response
        if not ACCESS_LOG.isEnabledFor(logging.INFO):
            return response
        path, method = safe_path(), request.method
        ACCESS_LOG.info(
            "%s %s %s %.1fms", method, path, status, seconds * 1000,
            extra={"app": name, "method": method, "path": path, "endpoint": endpoint,
                   "status": status, "duration_ms": round(seconds * 1000, 1),
                   "request_id": request_id, "remote_addr": request.remote_addr},
        )
        return response


class RequestIdAdapter(HTTPAdapter):
    """A requests transport adding the current request's id to every outgoing call."""

    def send(self, request: PreparedRequest, *args: Any, **kwargs: Any) -> RequestsResponse:  # type: ignore[override]
        for header, value in outgoing_headers().items():
            request.headers.setdefault(header, value)
        return super().send(request, *args, **kwargs)


def propagate_request_id(session: requests.Session) -> None:
    """Make ``session`` (the portal's client of the idp) forward ``X-Request-ID``."""
    adapter = RequestIdAdapter()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
