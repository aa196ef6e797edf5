"""The admin API's operations, declared once: the same pydantic models validate each
request and generate the OpenAPI 3.1 document (``/admin/openapi.json``).

An operation is a view plus what it needs: its staff action (permission and scope), its
query and body models, its response model and status, whether it takes ``If-Match``.
:meth:`Api.operation` registers the Flask route and wraps the view with authentication,
the permission check, validation and serialisation, so no view can forget one of them.
Pydantic's JSON Schema (draft 2020-12) is OpenAPI 3.1's schema dialect: no translation.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, request
from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from ..core import audit, customers, staff
from ..core import operations as admin
from ..core.db import db
from ..core.realms import RealmInfo, find_realm
from ..core.settings import SettingsError
from . import auth
from .problems import MEDIA_TYPE as PROBLEM
from .problems import TITLES, Problem
from .schemas import ProblemModel

JSON = "application/json"
#: Core error codes (AdminError, CustomerError) → problem codes; others are "invalid".
ERROR_CODES = {"not_found": "not_found", "not_linked": "not_found", "exists": "conflict",
               "last_way_in": "conflict", "no_secret": "conflict", "already_verified":
               "conflict", "no_email": "conflict"}
REF = "#/components/schemas/{model}"


@dataclass
class Context:
    """What a view gets: the caller, the realm slug, the validated query and body."""

    caller: auth.Caller
    realm: str
    query: Any = None
    body: Any = None
    raw: bytes = b""

    @property
    def principal(self) -> staff.Principal:
        return self.caller.principal

    def realm_info(self) -> RealmInfo:
        info = find_realm(self.realm)
        if info is None:
            raise Problem("not_found", "No such realm")
        return info

    def require_match(self, current: BaseModel) -> None:
        """412 unless the request's If-Match names ``current``'s ETag."""
        wanted = [t.strip() for t in request.headers.get("If-Match", "").split(",")]
        if etag_of(current) not in wanted and "*" not in wanted:
            raise Problem("precondition_failed", "The resource changed: read it again "
                          "and retry with its new ETag")


@dataclass
class Operation:
    method: str
    rule: str
    view: Callable[..., Any]
    summary: str
    tag: str
    action: staff.Action
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    body_media: str = JSON
    response: type[BaseModel] | None = None
    response_media: str = JSON
    status: int = 200
    if_match: bool = False
    errors: tuple[int, ...] = ()
    description: str = ""
    path_params: list[str] = field(default_factory=list)

    @property
    def operation_id(self) -> str:
        first, *rest = self.view.__name__.split("_")
        return first + "".join(word.title() for word in rest)

    @property
    def path(self) -> str:
        return re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", self.rule)


def etag_of(model: BaseModel) -> str:
    """A strong ETag of a representation: its canonical JSON's SHA-256 (first 32 hex)."""
    basis = getattr(model, "etag_basis", None)
    data = basis() if callable(basis) else model.model_dump(mode="json")
    canonical = json.dumps(data, sort_keys=True, ensure_ascii=False, default=str)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


def _pointer(loc: tuple[Any, ...]) -> str:
    return "/" + "/".join(str(part) for part in loc)


def validation_problem(exc: ValidationError, where: str) -> Problem:
    errors = [{"pointer": _pointer(e["loc"]), "detail": e["msg"], "in": where}
              for e in exc.errors(include_url=False, include_context=False)]
    return Problem("validation_failed", f"The {where} does not match the schema",
                   errors=errors[:50])


class Api:
    """A registry of operations on one blueprint."""

    def __init__(self, blueprint: Blueprint) -> None:
        self.bp = blueprint
        self.operations: list[Operation] = []

    def operation(self, method: str, rule: str, *, summary: str, tag: str,
                  action: staff.Action, **options: Any) -> Callable[[Callable[..., Any]],
                                                                    Callable[..., Any]]:
        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            op = Operation(method, rule, view, summary, tag, action,
                           description=(view.__doc__ or "").strip(), **options)
            op.path_params = re.findall(r"<(?:[a-z]+:)?([a-z_]+)>", rule)
            self.operations.append(op)

            def endpoint(**params: Any) -> Response:
                return self._run(op, params)

            endpoint.__name__ = view.__name__
            self.bp.add_url_rule(rule, view.__name__, endpoint, methods=[method])
            return view

        return register

    def _run(self, op: Operation, params: dict[str, Any]) -> Response:
        caller = auth.authenticate()
        realm = params.pop("realm")
        auth.authorize(caller, realm, op.action)
        current = audit.context.get()
        audit.context.set(audit.AuditContext(ip=current.ip, actor=caller.principal.actor))
        ctx = Context(caller=caller, realm=realm)
        if op.query is not None:
            try:
                ctx.query = op.query.model_validate(request.args.to_dict())
            except ValidationError as exc:
                raise validation_problem(exc, "query") from None
        if op.body is not None or op.body_media != JSON:
            ctx.body, ctx.raw = self._body(op)
        if op.if_match and not request.headers.get("If-Match"):
            raise Problem("precondition_required", "Send If-Match with the ETag of the "
                          "resource as you read it")
        try:
            result = op.view(ctx, **params)
        except staff.PermissionDenied as exc:
            auth.raise_denied(caller, exc, op.action)
        except (admin.AdminError, customers.CustomerError) as exc:
            db.session.rollback()
            raise Problem(ERROR_CODES.get(exc.code, "invalid"), f"{exc.code}: {exc}") from None
        except SettingsError as exc:
            raise Problem("invalid", str(exc)) from None
        return self._respond(op, result)

    @staticmethod
    def _body(op: Operation) -> tuple[Any, bytes]:
        media = (request.mimetype or "").lower()
        if media != op.body_media:
            raise Problem("unsupported_media_type", f"Send {op.body_media}")
        raw = request.get_data(cache=True)
        if op.body is None:
            return None, raw
        try:
            data = json.loads(raw or b"null")
        except ValueError:
            raise Problem("bad_request", "The body is not valid JSON") from None
        try:
            return op.body.model_validate(data), raw
        except ValidationError as exc:
            raise validation_problem(exc, "body") from None

    @staticmethod
    def _respond(op: Operation, result: Any) -> Response:
        if isinstance(result, Response):
            return result
        headers: dict[str, str] = {}
        if isinstance(result, tuple):
            result, headers = result
        if result is None:
            return Response(status=op.status, headers=headers)
        body = json.dumps(result.model_dump(mode="json", exclude_none=True),
                          ensure_ascii=False)
        resp = Response(body, status=op.status, mimetype=JSON, headers=headers)
        resp.headers["Cache-Control"] = "no-store"
        if request.method in ("GET", "PUT", "PATCH"):
            resp.headers["ETag"] = etag_of(result)
        return resp

    # --- OpenAPI 3.1 --------------------------------------------------------------------

    def openapi(self, server_url: str) -> dict[str, Any]:
        models: list[tuple[type[BaseModel], Any]] = [(ProblemModel, "serialization")]
        for op in self.operations:
            for model, mode in ((op.query, "validation"), (op.body, "validation"),
                                (op.response, "serialization")):
                if model is not None and (model, mode) not in models:
                    models.append((model, mode))
        keys, defs = models_json_schema(models, ref_template=REF)
        schemas = defs.get("$defs", {})
        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            paths.setdefault(op.path, {})[op.method.lower()] = self._operation_doc(
                op, keys, schemas)
        return {
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
            "info": {
                "title": "Espace Client admin API",
                "version": "1.0.0",
                "description": (
                    "Administration of the idp's realms: customers, clients, identity "
                    "providers, audit events, migration. Bearer access tokens of this idp: a "
                    "service client's (client credentials, admin scopes) or an agency "
                    "staff member's. Errors are RFC 9457 problem details. Updates need "
                    "If-Match with the ETag last read. See docs/admin-api.md."),
            },
            "servers": [{"url": server_url}],
            "paths": paths,
            "components": {
                "schemas": schemas,
                "securitySchemes": {
                    "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                               "description": "An RFC 9068 access token of this idp."},
                },
            },
            "security": [{"bearer": []}],
            "tags": sorted(({"name": t} for t in {op.tag for op in self.operations}),
                           key=lambda t: t["name"]),
        }

    def _operation_doc(self, op: Operation, keys: dict[Any, Any],
                       schemas: dict[str, Any]) -> dict[str, Any]:
        params: list[dict[str, Any]] = [
            {"name": name, "in": "path", "required": True,
             "schema": {"type": "string", "minLength": 1, "maxLength": 255}}
            for name in ["realm", *[p for p in op.path_params if p != "realm"]]]
        if op.query is not None:
            schema = schemas[keys[(op.query, "validation")]["$ref"].rsplit("/", 1)[1]]
            required = set(schema.get("required", []))
            for name, prop in schema.get("properties", {}).items():
                prop = dict(prop)
                description = prop.pop("description", None)
                prop.pop("title", None)
                entry = {"name": name, "in": "query", "required": name in required,
                         "schema": prop}
                if description:
                    entry["description"] = description
                params.append(entry)
        scope = auth.SCOPE_OF_ACTION.get(op.action)
        doc: dict[str, Any] = {
            "operationId": op.operation_id,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": params,
            "x-required-scope": scope,
            "x-staff-action": str(op.action),
            "responses": self._responses(op, keys),
        }
        description = op.description
        if scope:
            description += f"\n\nService clients need the scope `{scope}`."
        if op.action in staff.SENSITIVE:
            description += ("\n\nSensitive: only a staff token whose sign-in proved TOTP in the "
                            f"last {staff.STEP_UP_SECONDS // 60} minutes.")
        doc["description"] = description.strip()
        if op.if_match:
            params.append({"name": "If-Match", "in": "header", "required": True,
                           "schema": {"type": "string"},
                           "description": "The ETag of the resource as last read."})
        if op.body is not None:
            doc["requestBody"] = {"required": True, "content": {
                op.body_media: {"schema": keys[(op.body, "validation")]}}}
        elif op.body_media != JSON:
            doc["requestBody"] = {"required": True, "content": {
                op.body_media: {"schema": {"type": "string"}}}}
        return doc

    @staticmethod
    def _responses(op: Operation, keys: dict[Any, Any]) -> dict[str, Any]:
        problem = {"content": {PROBLEM: {"schema": keys[(ProblemModel, "serialization")]}}}
        responses: dict[str, Any] = {}
        ok: dict[str, Any] = {"description": "Success"}
        if op.response is not None:
            ok["content"] = {op.response_media: {
                "schema": keys[(op.response, "serialization")]}}
            if op.method in ("GET", "PUT", "PATCH"):
                ok["headers"] = {"ETag": {"schema": {"type": "string"},
                                          "description": "The representation's ETag."}}
        elif op.response_media != JSON:
            ok["content"] = {op.response_media: {"schema": {"type": "string"}}}
        responses[str(op.status)] = ok
        codes = {400, 401, 403, 404, 422, *op.errors}
        if op.body is not None or op.body_media != JSON:
            codes.add(415)
        if op.if_match:
            codes |= {412, 428}
        for code in sorted(codes):
            title = next((t for c, t in TITLES.items()
                          if Problem(c).status == code), "Error")
            responses[str(code)] = {"description": title, **problem}
        return responses
