"""Admin API, privacy: a customer's data export, and erased accounts read by cursor as
``customer_deleted`` events."""

from __future__ import annotations

from datetime import timedelta

from idp.core import deletion
from idp.core.models import Customer
from idp.core.realms import find_realm
from idp.extensions import db
from tests.api.conftest import LYON, PARIS, bearer, make_customer, service_token

BASE = f"/admin/realms/{PARIS}"


def test_export_is_the_customers_document(client, crm):
    make_customer(client, crm, "200001", email="marie@example.test", email_verified=True,
                  given_name="Marie", family_name="Dupont", password="Bonjour-2026!")
    resp = client.get(f"{BASE}/customers/200001/export", headers=crm)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    doc = resp.json
    assert doc["format"] == "espace-client/mes-donnees"
    assert doc["account"]["identifier"] == "200001"
    assert doc["emails"][0] == {"address": "marie@example.test", "verified": True,
                                "verified_at": doc["emails"][0]["verified_at"],
                                "use": "current"}
    assert doc["emails"][0]["verified_at"].endswith("Z")
    assert doc["ways_in"]["password"]["set"] is True
    assert client.get(f"{BASE}/customers/999999/export", headers=crm).status_code == 404


def test_export_needs_the_read_scope_and_the_realm(client, crm):
    make_customer(client, crm, "200001")
    plain = bearer(service_token(client, "plain", scope="openid"))
    refused = client.get(f"{BASE}/customers/200001/export", headers=plain)
    assert refused.json["code"] == "insufficient_scope"
    lyon = bearer(service_token(client, "lyon-crm", realm=LYON))
    # Another realm's client is answered as for a realm it cannot see (no oracle).
    assert client.get(f"{BASE}/customers/200001/export", headers=lyon).status_code == 404


def test_customer_deleted_events_by_cursor(app, client, crm):
    for n in ("200001", "200002", "200003"):
        make_customer(client, crm, n, email=f"{n}@example.test", email_verified=True,
                      password="Bonjour-2026!")
    with app.app_context():
        cfg = app.extensions["idp.settings"]
        realm = find_realm(PARIS)
        for n in ("200001", "200002", "200003"):
            c = db.session.execute(db.select(Customer).filter_by(identifier=n)).scalar_one()
            deletion.request(cfg, realm, c, f"http://idp.test/realms/{PARIS}")
            c.deletion_requested_at -= timedelta(days=31)
            db.session.commit()
        subs = {c.identifier: c.sub for c in db.session.execute(db.select(Customer)).scalars()}
        assert len(deletion.purge_due(cfg)) == 3
    first = client.get(f"{BASE}/events", query_string={"type": "customer_deleted",
                                                       "limit": 2}, headers=crm).json
    assert [e["customer"] for e in first["items"]] == ["200003", "200002"]
    assert first["items"][0]["detail"]["sub"] == subs["200003"]
    rest = client.get(f"{BASE}/events", query_string={
        "type": "customer_deleted", "limit": 2, "cursor": first["next_cursor"]},
        headers=crm).json
    assert [e["customer"] for e in rest["items"]] == ["200001"]
    assert "next_cursor" not in rest
