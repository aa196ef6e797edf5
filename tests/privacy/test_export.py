"""Mes données: the JSON document, the readable page, fresh proof, the agency's copy."""

from __future__ import annotations

import json

import pytest

from tests.idp.conftest import REALM
from tests.idp.journey_helpers import submit

from .helpers import PASSWORD, age_session, marie, signed_in

DATA = f"/realms/{REALM}/account/data"


def _add_passkey_and_link(app):
    from idp.core import passkeys as pk
    from idp.core.models import Customer, FederatedIdentity
    from idp.extensions import db

    with app.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        db.session.add(pk.Passkey(realm_id=c.realm_id, customer_id=c.id, credential_id=b"c1",
                                  public_key=b"k", name="iPhone de Marie"))
        db.session.add(FederatedIdentity(realm_id=c.realm_id, customer_id=c.id,
                                         provider="google", subject="g-1",
                                         email="marie@gmail.example"))
        db.session.commit()


def test_json_download_holds_everything(app, runner, smtp):
    marie(runner)
    _add_passkey_and_link(app)
    client = signed_in(app)
    resp = client.get(f"{DATA}.json")
    assert resp.status_code == 200 and resp.mimetype == "application/json"
    assert "attachment" in resp.headers["Content-Disposition"]
    doc = json.loads(resp.text)
    assert doc["format"] == "espace-client/mes-donnees" and doc["version"] == 1
    assert doc["account"]["identifier"] == "100001"
    assert doc["realm"]["slug"] == REALM
    assert (doc["account"]["given_name"], doc["account"]["family_name"]) == ("Marie", "Dupont")
    assert doc["emails"][0]["address"] == "marie@example.test"
    assert doc["emails"][0]["verified"] is True and doc["emails"][0]["verified_at"]
    assert [p["name"] for p in doc["ways_in"]["passkeys"]] == ["iPhone de Marie"]
    assert [s["provider"] for s in doc["ways_in"]["social_accounts"]] == ["google"]
    assert doc["ways_in"]["password"]["set"] is True
    assert len(doc["sessions"]) == 1 and doc["sessions"][0]["method"] == "password"
    assert doc["sign_ins"][0]["method"] == "password" and doc["sign_ins"][0]["ip"]
    assert "password_hash" not in resp.text and "$argon2" not in resp.text


def test_html_page_is_the_same_document(app, runner, smtp):
    marie(runner)
    _add_passkey_and_link(app)
    page = signed_in(app).get(DATA)
    assert page.status_code == 200
    for text in ("100001", "marie@example.test", "iPhone de Marie", "Google",
                 "Historique des connexions"):
        assert text in page.text


@pytest.mark.parametrize("path", [DATA, f"{DATA}.json"])
def test_needs_a_fresh_proof(app, runner, smtp, path):
    marie(runner)
    client = signed_in(app)
    age_session(app, client)
    resp = client.get(path)
    assert resp.status_code == 302 and "/account/confirm" in resp.headers["Location"]
    wrong = submit(client, "account/confirm/", {"current_password": "wrong"})
    assert wrong.status_code == 401
    proved = submit(client, "account/confirm/", {"current_password": PASSWORD})
    assert proved.status_code == 302
    back = client.get(proved.headers["Location"])
    back = client.get(back.headers["Location"]) if back.status_code == 302 else back
    assert back.status_code == 200 and "100001" in back.text


def test_needs_a_session(app, runner, smtp):
    resp = app.test_client().get(f"{DATA}.json")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_agency_export_is_permission_checked(app, runner, smtp):
    from idp.core import operations as ops
    from idp.core.realms import find_realm
    from idp.core.staff import PermissionDenied, Principal

    marie(runner)
    with app.app_context():
        realm = find_realm(REALM)
        with pytest.raises(PermissionDenied):
            ops.export_customer(Principal(actor="staff:x", realms=frozenset({"lyon"})),
                                realm, "100001")
        doc = ops.export_customer(Principal(actor="staff:boss", super_admin=True), realm,
                                  "100001")
        assert doc["account"]["identifier"] == "100001"
