"""The OpenAPI document is generated from the models that validate requests, and the
browsable page lists every operation without any script."""

from __future__ import annotations

from idp.api import API
from idp.api.schemas import CustomerCreate


def test_document_comes_from_the_validating_models(client):
    doc = client.get("/admin/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    create = doc["paths"]["/realms/{realm}/customers"]["post"]
    ref = create["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    schema = doc["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert schema["properties"] == CustomerCreate.model_json_schema()["properties"]
    assert schema["additionalProperties"] is False
    assert create["x-required-scope"] == "admin:customers:write"
    assert {"409", "415", "422"} <= set(create["responses"])
    patch = doc["paths"]["/realms/{realm}/customers/{identifier}"]["patch"]
    assert {"412", "428"} <= set(patch["responses"])
    ids = [op["operationId"] for item in doc["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids)) == len(API.operations)


def test_browsable_page(client):
    page = client.get("/admin/docs")
    assert page.status_code == 200
    assert "<script" not in page.text
    for op in API.operations:
        assert f'id="op-{op.operation_id}"' in page.text
    assert 'id="problem-precondition_failed"' in page.text


def test_unknown_admin_path_is_a_problem(client):
    resp = client.get("/admin/realms/paris/nothing-here")
    assert resp.status_code == 404 and resp.mimetype == "application/problem+json"
    wrong = client.put("/admin/realms/paris/customers", json={})
    assert wrong.status_code == 405 and wrong.mimetype == "application/problem+json"
