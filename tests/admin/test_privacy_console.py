"""Console, privacy: pending deletions (refuse with a reason) and a customer's data file."""

from __future__ import annotations

import json

from idp.core import deletion
from idp.core.models import Customer
from idp.core.realms import find_realm
from idp.extensions import db
from tests.idp.conftest import REALM

from .conftest import OTHER, audit_events

DELETIONS = f"/admin/console/realms/{REALM}/deletions"


def _request_deletion(app, identifier="100001"):
    with app.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier=identifier)).scalar_one()
        deletion.request(app.extensions["idp.settings"], find_realm(REALM), c,
                         f"http://idp.test/realms/{REALM}")


def test_pending_deletions_listed_and_refused_with_a_reason(app, paris_admin,
                                                            customers_in_both):
    paris_admin.sign_in()
    empty = paris_admin.client.get(DELETIONS)
    assert empty.status_code == 200 and 'id="no-deletions"' in empty.text
    _request_deletion(app)
    page = paris_admin.client.get(DELETIONS)
    assert 'data-identifier="100001"' in page.text
    missing = paris_admin.post(f"{DELETIONS}/100001/refuse", {"reason": "  "}, page=DELETIONS)
    assert missing.status_code == 400 and "Indiquez le motif du refus" in missing.text
    done = paris_admin.post(f"{DELETIONS}/100001/refuse", {"reason": "Bail en cours"},
                            page=DELETIONS)
    assert done.status_code == 302
    after = paris_admin.client.get(DELETIONS)
    assert "est refusée" in after.text and 'data-identifier="100001"' not in after.text
    with app.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        assert c.deletion_refused_reason == "Bail en cours" and c.deletion_requested_at is None
    [(_realm, _cid, detail)] = audit_events(app, "customer_deletion_refused")
    assert detail["actor"] == "staff:paris@agence.example"


def test_another_realms_admin_sees_nothing(app, staff_factory, customers_in_both):
    lyon = staff_factory("lyon@agence.example", "--realm", OTHER)
    lyon.sign_in()
    _request_deletion(app)
    # Another realm is answered like a realm that does not exist (no oracle).
    assert lyon.client.get(DELETIONS).status_code == 404
    refused = lyon.post(f"{DELETIONS}/100001/refuse", {"reason": "x"})
    assert refused.status_code == 404
    assert lyon.client.get(f"/admin/console/realms/{REALM}/customers/100001/export.json"
                           ).status_code == 404
    with app.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        assert c.deletion_requested_at is not None and c.deletion_refused_reason is None


def test_export_downloads_the_customers_file(app, paris_admin, customers_in_both):
    paris_admin.sign_in()
    page = paris_admin.client.get(f"/admin/console/realms/{REALM}/customers/100001")
    assert 'id="export-data"' in page.text
    resp = paris_admin.client.get(f"/admin/console/realms/{REALM}/customers/100001/export.json")
    assert resp.status_code == 200 and "attachment" in resp.headers["Content-Disposition"]
    doc = json.loads(resp.text)
    assert doc["account"]["identifier"] == "100001"
    assert doc["emails"][0]["address"] == "marie@example.test"
    [(_realm, _cid, detail)] = audit_events(app, "data_exported")
    assert detail["by"] == "staff"


def test_staff_accounts_are_not_deleted_from_mon_compte(app, paris_admin):
    paris_admin.sign_in()
    home = paris_admin.client.get("/realms/agency-staff/account/")
    assert home.status_code == 200 and 'id="delete-account"' not in home.text
    assert 'id="download-data"' in home.text
    assert paris_admin.client.get("/realms/agency-staff/account/delete").status_code == 404
    login = paris_admin.client.get("/realms/agency-staff/login")
    assert 'id="email-code"' not in login.text
