"""The admin API's CSV exports (pending customers, audit events): streamed, and every
cell a spreadsheet would run as a formula neutralised, as in the console."""

from __future__ import annotations

import csv
import io

from tests.api.conftest import PARIS, bearer, make_customer, service_token

REALM = f"/admin/realms/{PARIS}"


def rows_of(resp) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(resp.get_data(as_text=True))))


def test_pending_export_is_streamed_and_neutralises_formulas(client, crm):
    make_customer(client, crm, "-2+3", given_name="=HYPERLINK(\"http://evil\")",
                  family_name="@SUM(A1)", temporary_code="123456")
    make_customer(client, crm, "200002", given_name="Marie", family_name="+Dupont",
                  temporary_code="654321")
    resp = client.get(f"{REALM}/migration/pending", headers=crm, buffered=False)
    assert resp.status_code == 200 and resp.is_streamed
    assert resp.mimetype == "text/csv" and resp.headers["Cache-Control"] == "no-store"
    rows = {r["identifier"]: r for r in rows_of(resp)}
    assert set(rows) == {"'-2+3", "200002"}
    assert rows["'-2+3"]["given_name"] == "'=HYPERLINK(\"http://evil\")"
    assert rows["'-2+3"]["family_name"] == "'@SUM(A1)"
    assert (rows["200002"]["given_name"], rows["200002"]["family_name"]) == (
        "Marie", "'+Dupont")


def test_audit_export_is_streamed_filtered_and_neutralised(client, crm):
    make_customer(client, crm, "-2+3", temporary_code="123456")
    make_customer(client, crm, "200002", temporary_code="654321")
    resp = client.get(f"{REALM}/events/export", headers=crm, buffered=False,
                      query_string={"customer": "-2+3"})
    assert resp.status_code == 200 and resp.is_streamed
    rows = rows_of(resp)
    assert [(r["customer"], r["event"], r["realm"]) for r in rows] == [
        ("'-2+3", "admin_customer_created", PARIS)]
    assert rows[0]["actor"] == "client:crm"


def test_exports_check_permissions_before_streaming(client):
    reader = bearer(service_token(client, "crm-read", scope="admin:customers:read"))
    resp = client.get(f"{REALM}/events/export", headers=reader)
    assert resp.status_code == 403 and resp.mimetype == "application/problem+json"
    lyon = bearer(service_token(client, "lyon-crm", realm="lyon"))
    assert client.get(f"{REALM}/migration/pending", headers=lyon).status_code == 404
