"""The OpenAPI 3.1 document of ``/api/v1``, built in code so it follows the routes."""

from __future__ import annotations

from typing import Any


def _obj(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    return schema


S, INT, N = {"type": "string"}, {"type": "integer"}, {"type": ["string", "null"]}
DATE = {"type": "string", "format": "date"}

SCHEMAS: dict[str, Any] = {
    "Error": _obj({"error": S, "error_description": S}, ["error"]),
    "Me": _obj({
        "issuer": S, "sub": S, "customer_id": S, "name": N,
        "balance": _obj({"amount_cents": INT, "currency": S, "formatted": S}),
        "open_interventions": INT,
        "agency": {"oneOf": [{"type": "null"}, _obj({"code": S, "name": S, "phone": S})]},
    }, ["issuer", "sub", "customer_id", "balance", "open_interventions"]),
    "Property": _obj({"ref": S, "label": S, "kind": S, "address": S, "postal_code": S,
                      "city": S, "role": {"enum": ["owner", "tenant"]}}),
    "LedgerEntry": _obj({"ref": S, "date": DATE, "label": S, "debit_cents": INT,
                         "credit_cents": INT, "balance_cents": INT, "property_ref": N}),
    "Intervention": _obj({"ref": S, "title": S, "description": S,
                          "status": {"enum": ["en_cours", "terminee"]}, "property_ref": N,
                          "opened_on": DATE, "closed_on": {"type": ["string", "null"]},
                          "provider": S}),
    "Document": _obj({"ref": S, "title": S, "category": S, "date": DATE, "filename": S,
                      "content_type": S, "download_url": S}),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _list(key: str, item: str) -> dict[str, Any]:
    return _obj({key: {"type": "array", "items": _ref(item)}})


ERRORS = {
    "401": {"description": "Missing token (no error code) or invalid_token; see "
                           "WWW-Authenticate", "content": {"application/json": {
                               "schema": _ref("Error")}}},
    "403": {"description": "insufficient_scope: the token's scope lacks `customer`",
            "content": {"application/json": {"schema": _ref("Error")}}},
}


def _get(summary: str, schema: dict[str, Any], params: list | None = None) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": ["customer"]}],
        "responses": {"200": {"description": "OK", "content": {
            "application/json": {"schema": schema}}}, **ERRORS},
    }
    if params:
        operation["parameters"] = params
    return {"get": operation}


def openapi_document(public_url: str) -> dict[str, Any]:
    """The OpenAPI document, with ``servers`` pointing at this deployment."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Espace Client portal API",
            "version": "1.0.0",
            "description": (
                "The signed-in customer's data. Send an RFC 9068 JWT access token of the "
                "portal's issuer (`Authorization: Bearer …`) whose `aud` contains the "
                "portal's API audience and whose `scope` contains `customer`."
            ),
        },
        "servers": [{"url": public_url + "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "bearerFormat": "JWT"}},
            "schemas": SCHEMAS,
        },
        "paths": {
            "/me": _get("The customer, balance and open interventions", _ref("Me")),
            "/properties": _get("Properties (lots)", _list("properties", "Property")),
            "/accounts": _get("Balance and ledger", _obj({
                "currency": S, "balance_cents": INT,
                "entries": {"type": "array", "items": _ref("LedgerEntry")}})),
            "/interventions": _get(
                "Interventions", _list("interventions", "Intervention"),
                [{"name": "status", "in": "query", "required": False,
                  "schema": {"enum": ["en_cours", "terminee"]}}]),
            "/documents": _get("Documents", _list("documents", "Document")),
            "/documents/{ref}": {"get": {
                "summary": "Download a document",
                "security": [{"bearer": ["customer"]}],
                "parameters": [{"name": "ref", "in": "path", "required": True, "schema": S}],
                "responses": {"200": {"description": "The document's bytes"},
                              "404": {"description": "No such document for this customer"},
                              **ERRORS},
            }},
        },
    }
