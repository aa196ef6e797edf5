"""Who may call what: tokens, scopes, realms, staff roles, step-up."""

from __future__ import annotations

import pytest

from idp.core import staff
from tests.api.conftest import LYON, PARIS, STAFF, bearer, make_customer, service_token, staff_token
from tests.support.sign_in import sign_in


def test_no_or_bad_token_is_401_with_challenge(client):
    resp = client.get(f"/admin/realms/{PARIS}/customers")
    assert resp.status_code == 401
    assert resp.mimetype == "application/problem+json"
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")
    forged = client.get(f"/admin/realms/{PARIS}/customers",
                        headers=bearer("eyJhbGciOiJub25lIn0.eyJpc3MiOiJ4In0.x"))
    assert forged.status_code == 401


def test_id_token_and_revoked_token_are_refused(client):
    token = service_token(client)
    ok = client.get(f"/admin/realms/{PARIS}/customers", headers=bearer(token))
    assert ok.status_code == 200
    import base64

    basic = base64.b64encode(b"crm:" + b"svc-secret-" + b"s" * 40).decode()
    client.post(f"/realms/{PARIS}/protocol/openid-connect/revoke", data={"token": token},
                headers={"Authorization": f"Basic {basic}"})
    assert client.get(f"/admin/realms/{PARIS}/customers",
                      headers=bearer(token)).status_code == 401


def test_scope_limits_a_service_client(client):
    read = bearer(service_token(client, "crm-read"))
    assert client.get(f"/admin/realms/{PARIS}/customers", headers=read).status_code == 200
    denied = client.post(f"/admin/realms/{PARIS}/customers", json={"identifier": "1"},
                         headers=read)
    assert denied.status_code == 403 and denied.json["code"] == "insufficient_scope"
    assert client.get(f"/admin/realms/{PARIS}/clients", headers=read).status_code == 403
    plain = service_token(client, "plain", scope="openid")
    assert client.get(f"/admin/realms/{PARIS}/customers",
                      headers=bearer(plain)).json["code"] == "insufficient_scope"


def test_service_client_administers_its_own_realm_only(client, crm):
    for path in ("customers", "clients", "events", "migration"):
        resp = client.get(f"/admin/realms/{LYON}/{path}", headers=crm)
        assert resp.status_code == 404, path  # another realm does not even exist for it
    assert client.get(f"/admin/realms/{STAFF}/customers", headers=crm).status_code == 404
    assert client.get("/admin/realms/nowhere/customers", headers=crm).status_code == 404


def test_service_client_never_does_sensitive_actions(client, crm):
    rotate = client.post(f"/admin/realms/{PARIS}/clients/rp/client-secret", headers=crm)
    assert rotate.status_code == 403 and rotate.json["code"] == "step_up_required"
    assert client.delete(f"/admin/realms/{PARIS}/clients/rp", headers=crm).status_code == 403


def test_realm_admin_boundaries(client, app):
    token = bearer(staff_token(app, "paris-admin@agence.example"))
    make_customer(client, token, "400001")
    assert client.get(f"/admin/realms/{PARIS}/customers/400001", headers=token).status_code == 200
    for realm in (LYON, STAFF):
        assert client.get(f"/admin/realms/{realm}/customers",
                          headers=token).status_code == 404
        assert client.post(f"/admin/realms/{realm}/customers", json={"identifier": "9"},
                           headers=token).status_code == 404
    rotated = client.post(f"/admin/realms/{PARIS}/clients/rp/client-secret", headers=token)
    assert rotated.status_code == 200 and rotated.json["client_secret"]


def test_super_admin_sees_every_realm_and_step_up(client, app):
    fresh = bearer(staff_token(app, "boss@agence.example"))
    assert client.get(f"/admin/realms/{LYON}/customers", headers=fresh).status_code == 200
    stale = bearer(staff_token(app, "boss@agence.example", otp_age=3600))
    resp = client.delete(f"/admin/realms/{LYON}/clients/lyon-crm", headers=stale)
    assert resp.status_code == 403 and resp.json["code"] == "step_up_required"
    assert client.delete(f"/admin/realms/{LYON}/clients/lyon-crm",
                         headers=fresh).status_code == 204


def test_client_credentials_scope_stays_within_the_client(client):
    """A client asking for admin scopes it was not given gets none of them."""
    import base64

    basic = base64.b64encode(b"crm-read:" + b"svc-secret-" + b"s" * 40).decode()
    resp = client.post(f"/realms/{PARIS}/protocol/openid-connect/token",
                       data={"grant_type": "client_credentials",
                             "scope": "admin:customers:write admin:clients"},
                       headers={"Authorization": f"Basic {basic}"})
    assert resp.status_code == 200
    assert "admin:customers:write" not in resp.json["scope"].split()
    token = bearer(resp.json["access_token"])
    assert client.post(f"/admin/realms/{PARIS}/customers", json={"identifier": "7"},
                       headers=token).status_code == 403


def test_customer_token_never_administers(client, app):
    make_customer(client, bearer(service_token(client)), "500001", password="Bonjour-2026!",
                  email="c@example.test", email_verified=True)
    client.get(f"/realms/{PARIS}/protocol/openid-connect/auth", query_string={
        "client_id": "rp", "redirect_uri": "https://rp.example/cb", "response_type": "code",
        "scope": "openid admin:customers:write", "state": "s"})
    resp = flow_login(client, "500001")
    while resp.status_code == 302 and resp.headers["Location"].startswith("/"):
        resp = client.get(resp.headers["Location"])
    from urllib.parse import parse_qs, urlsplit

    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    import base64

    basic = base64.b64encode(b"rp:" + b"svc-secret-" + b"s" * 40).decode()
    tok = client.post(f"/realms/{PARIS}/protocol/openid-connect/token", data={
        "grant_type": "authorization_code", "code": code,
        "redirect_uri": "https://rp.example/cb"}, headers={"Authorization": f"Basic {basic}"})
    assert tok.status_code == 200, tok.text
    assert "admin" not in tok.json["scope"]
    denied = client.get(f"/admin/realms/{PARIS}/customers",
                        headers=bearer(tok.json["access_token"]))
    assert denied.status_code == 403 and denied.json["code"] == "insufficient_scope"


def flow_login(client, identifier, password="Bonjour-2026!"):
    return sign_in(client, identifier, password, realm=PARIS)


def test_staff_token_of_a_client_not_meant_for_the_api_is_refused(client, app):
    """Any other staff-realm client (a wiki signing staff in) gets no admin powers."""
    wiki = bearer(staff_token(app, "boss@agence.example", client_id="wiki"))
    resp = client.get(f"/admin/realms/{PARIS}/customers", headers=wiki)
    assert resp.status_code == 401
    assert resp.json["code"] == "unauthorized"
    console = bearer(staff_token(app, "boss@agence.example"))
    assert client.get(f"/admin/realms/{PARIS}/customers", headers=console).status_code == 200


def test_taking_the_api_audience_away_from_the_client_acts_at_once(client, app):
    token = bearer(staff_token(app, "boss@agence.example"))
    with app.app_context():
        from idp.core.clients import forget_client
        from idp.core.models import Client, Realm
        from idp.extensions import db

        realm = db.session.execute(db.select(Realm).filter_by(slug=STAFF)).scalar_one()
        row = db.session.execute(db.select(Client).filter_by(
            realm_id=realm.id, client_id="console")).scalar_one()
        row.meta = {k: v for k, v in row.meta.items() if k != "audiences"}
        db.session.commit()
        forget_client(realm.id, "console")
    assert client.get(f"/admin/realms/{PARIS}/customers", headers=token).status_code == 401


@pytest.mark.parametrize("caller", ["realm-admin", "service"])
def test_the_api_reads_the_staff_powers_table(client, app, monkeypatch, caller):
    headers = (bearer(staff_token(app, "paris-admin@agence.example"))
               if caller == "realm-admin" else bearer(service_token(client)))
    path = f"/admin/realms/{PARIS}/customers"
    assert client.get(path, headers=headers).status_code == 200
    row = {k: v for k, v in staff.POWERS[staff.Action.CUSTOMERS_READ].items() if k != caller}
    monkeypatch.setitem(staff.POWERS, staff.Action.CUSTOMERS_READ, row)
    assert client.get(path, headers=headers).status_code == 403
