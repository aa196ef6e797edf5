"""Customers through the admin API: search, read, create, import, the console's actions,
problems and If-Match."""

from __future__ import annotations

from idp.core import customers as service
from idp.core.models import AuditEvent, Customer
from idp.extensions import db
from tests.api.conftest import PARIS, make_customer

BASE = f"/admin/realms/{PARIS}/customers"


def test_create_read_search(client, crm):
    created = make_customer(client, crm, "200001", email="Marie@Example.test",
                            given_name="Marie", family_name="Dupont", temporary_code="123456")
    assert created["status"] == "migration_pending"
    assert created["email"].lower() == "marie@example.test"
    resp = client.get(f"{BASE}/200001", headers=crm)
    assert resp.status_code == 200
    assert resp.headers["ETag"].startswith('"')
    assert resp.json["required_actions"] and resp.json["linked_accounts"] == []
    found = client.get(BASE, query_string={"q": "dup"}, headers=crm).json
    assert [c["identifier"] for c in found["items"]] == ["200001"]
    assert found["total"] == 1 and found["has_next"] is False
    assert client.get(BASE, query_string={"q": "zzz"}, headers=crm).json["items"] == []


def test_create_conflict_and_validation_are_problems(client, crm):
    make_customer(client, crm, "200001")
    again = client.post(BASE, json={"identifier": "200001"}, headers=crm)
    assert again.status_code == 409
    assert again.mimetype == "application/problem+json"
    assert again.json["code"] == "conflict" and again.json["status"] == 409
    bad = client.post(BASE, json={"identifier": "x", "temporary_code": "12ab56",
                                  "colour": "red"}, headers=crm)
    assert bad.status_code == 422
    pointers = {e["pointer"] for e in bad.json["errors"]}
    assert {"/temporary_code", "/colour"} <= pointers
    assert client.post(BASE, data="identifier=1", headers=crm).status_code == 415
    assert client.get(f"{BASE}/nobody", headers=crm).json["code"] == "not_found"


def test_import_reports_line_numbered_errors(client, crm, app):
    csv = ("identifier,email,temporary_password\n"
           "300001,a@example.test,123456\n"
           "300002,not-an-email,123456\n"
           "300003,,12\n")
    resp = client.post(f"{BASE}/import", data=csv.encode(), headers={
        **crm, "Content-Type": "text/csv"})
    assert resp.status_code == 200, resp.text
    report = resp.json
    assert report["created"] == 1 and report["failed"] == 2
    assert [e["line"] for e in report["errors"]] == [3, 4]
    again = client.post(f"{BASE}/import", data=csv.encode(), headers={
        **crm, "Content-Type": "text/csv"}).json
    assert again["created"] == 0 and again["unchanged"] == 1
    bad = client.post(f"{BASE}/import", data=b"name\nx\n",
                      headers={**crm, "Content-Type": "text/csv"})
    assert bad.status_code == 422 and "identifier" in bad.json["detail"]


def test_temporary_code_works_for_premiere_connexion(client, crm, app):
    make_customer(client, crm, "200002", email="jean@example.test")
    resp = client.post(f"{BASE}/200002/temporary-code", headers=crm)
    assert resp.status_code == 200
    code = resp.json["temporary_code"]
    assert len(code) == 6 and code.isdigit()
    with app.app_context():
        from idp.core import credentials
        from idp.core.realms import find_realm

        row = service.find(find_realm(PARIS), "200002")
        assert credentials.verify_temporary_code(
            app.extensions["idp.settings"].code_key, row.temporary_code_hash, code)
        events = db.session.execute(db.select(AuditEvent).filter_by(
            event="admin_temporary_password_set")).scalars().all()
        assert events and events[-1].detail["actor"] == "client:crm"


def test_actions(client, crm, app):
    make_customer(client, crm, "200003", email="s@example.test", password="Bonjour-2026!")
    sent = client.post(f"{BASE}/200003/send-verify-email", headers=crm)
    assert sent.status_code == 202 and sent.json["outbox_id"] > 0
    with app.app_context():
        row = db.session.execute(db.select(Customer).filter_by(identifier="200003")).scalar_one()
        row.locked_permanently = True
        db.session.commit()
    assert client.get(f"{BASE}/200003", headers=crm).json["status"] == "locked"
    unlocked = client.post(f"{BASE}/200003/unlock", headers=crm)
    assert unlocked.status_code == 200 and unlocked.json["locked"] is False
    assert client.post(f"{BASE}/200003/logout", headers=crm).json == {"ended": 0}
    gone = client.delete(f"{BASE}/200003/federated-identity/google", headers=crm)
    assert gone.status_code == 404
    assert client.delete(f"{BASE}/200003/consents/rp", headers=crm).status_code == 404


def test_patch_needs_if_match(client, crm):
    make_customer(client, crm, "200004", email="p@example.test")
    url = f"{BASE}/200004"
    missing = client.patch(url, json={"enabled": False}, headers=crm)
    assert missing.status_code == 428
    etag = client.get(url, headers=crm).headers["ETag"]
    stale = client.patch(url, json={"enabled": False}, headers={**crm, "If-Match": '"old"'})
    assert stale.status_code == 412
    done = client.patch(url, json={"enabled": False}, headers={**crm, "If-Match": etag})
    assert done.status_code == 200 and done.json["status"] == "disabled"
    # The first writer changed it: a second admin holding the old ETag is refused.
    late = client.patch(url, json={"email": "q@example.test"},
                        headers={**crm, "If-Match": etag})
    assert late.status_code == 412
