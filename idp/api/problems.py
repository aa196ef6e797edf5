"""RFC 9457 problem details: every error of the admin API is ``application/problem+json``.

``type`` is a relative URI naming the problem on the API's browsable page
(``/admin/docs#problem-<code>``), so a client can branch on it and a person can read it.
"""

from __future__ import annotations

from typing import Any

from flask import Response, json, request

MEDIA_TYPE = "application/problem+json"

TITLES: dict[str, str] = {
    "bad_request": "The request cannot be read",
    "validation_failed": "The request does not match the schema",
    "unauthorized": "A valid bearer token is required",
    "insufficient_scope": "The token lacks the scope this operation needs",
    "forbidden": "The principal may not do this",
    "step_up_required": "A fresh second factor is required",
    "not_found": "No such resource",
    "conflict": "The resource already exists or its state forbids this",
    "precondition_failed": "The resource changed since it was read (If-Match)",
    "precondition_required": "Updates need If-Match with the resource's ETag",
    "unsupported_media_type": "Unsupported request body media type",
    "method_not_allowed": "Method not allowed",
    "payload_too_large": "The request body is larger than the idp accepts",
    "invalid": "The data is refused",
    "server_error": "An unexpected error occurred",
}
STATUS_CODES = {
    "bad_request": 400, "validation_failed": 422, "unauthorized": 401,
    "insufficient_scope": 403, "forbidden": 403, "step_up_required": 403, "not_found": 404,
    "conflict": 409, "precondition_failed": 412, "precondition_required": 428,
    "unsupported_media_type": 415, "method_not_allowed": 405, "invalid": 422,
    "server_error": 500, "payload_too_large": 413,
}


class Problem(Exception):
    """Raised anywhere under ``/admin``; turned into a problem+json response."""

    def __init__(self, code: str, detail: str | None = None, *, status: int | None = None,
                 errors: list[dict[str, str]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or code)
        self.code = code
        self.status = status or STATUS_CODES.get(code, 400)
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}


def problem_type(code: str) -> str:
    return f"/admin/docs#problem-{code}"


def response(problem: Problem) -> Response:
    body: dict[str, Any] = {
        "type": problem_type(problem.code),
        "title": TITLES.get(problem.code, problem.code.replace("_", " ")),
        "status": problem.status,
        "code": problem.code,
        "instance": request.path,
    }
    if problem.detail:
        body["detail"] = problem.detail
    if problem.errors:
        body["errors"] = problem.errors
    resp = Response(json.dumps(body), status=problem.status, mimetype=MEDIA_TYPE)
    resp.headers["Cache-Control"] = "no-store"
    for key, value in problem.headers.items():
        resp.headers[key] = value
    return resp


def from_status(status: int, detail: str | None = None) -> Response:
    """A problem for an HTTP error raised outside a view (routing 404, 405…)."""
    code = next((c for c, s in STATUS_CODES.items() if s == status), "bad_request")
    return response(Problem(code, detail, status=status))
