"""The admin REST API under ``/admin`` (issue 14; docs/admin-api.md): Keycloak's resource
layout (``/admin/realms/{realm}/customers|clients|identity-providers|events|migration``),
JSON in and out, RFC 9457 problems, OpenAPI 3.1 at ``/admin/openapi.json`` generated from
the pydantic models that validate the requests, a browsable page at ``/admin/docs``.

Registered explicitly by ``create_app`` (:func:`init_app`). Every operation calls the
console's domain functions (:mod:`idp.core.operations`) behind the staff permission model.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, json, render_template

from ..extensions import csrf, limiter
from ..web.context import app_settings
from . import clients, customers, problems, realm
from .problems import Problem
from .spec import Api

bp = Blueprint("api", __name__, url_prefix="/admin", template_folder="templates")
csrf.exempt(bp)
API = Api(bp)
for module in (customers, clients, realm):
    module.register(API)


@bp.errorhandler(Problem)
def _problem(exc: Problem) -> Response:
    return problems.response(exc)


@bp.route("/openapi.json")
def openapi() -> Response:
    """The document, public (it describes the API; it grants nothing)."""
    doc = API.openapi(app_settings().public_url.rstrip("/") + "/admin")
    resp = Response(json.dumps(doc, ensure_ascii=False), mimetype="application/json")
    resp.headers["Cache-Control"] = "public, max-age=300"
    return resp


@bp.route("/docs")
def docs() -> Any:
    """Every operation with its scope, parameters and schemas, server-rendered (no script:
    the idp's CSP allows none from elsewhere, and none is needed)."""
    doc = API.openapi(app_settings().public_url.rstrip("/") + "/admin")
    operations = [
        {"method": method.upper(), "path": path, **spec}
        for path, item in doc["paths"].items() for method, spec in item.items()]
    schemas = {name: json.dumps(schema, indent=2, ensure_ascii=False)
               for name, schema in doc["components"]["schemas"].items()}
    return render_template("api/docs.html", doc=doc, operations=operations, schemas=schemas,
                           problem_titles=problems.TITLES, problem_status=problems.STATUS_CODES)


def init_app(app: Flask) -> None:
    limiter.exempt(bp)  # machine clients: bounded by their tokens, not per-IP budgets
    app.register_blueprint(bp)


def wants_problem(path: str) -> bool:
    """Errors raised before a view of the API runs (no route, wrong method) are problems
    too (the app's error handler asks)."""
    return path == "/admin" or path.startswith("/admin/")


__all__ = ["API", "bp", "init_app", "problems", "wants_problem"]
