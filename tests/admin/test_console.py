"""Console pages and actions through the Flask client: every action works, is audited
with the staff member as actor, and a realm-admin never reads or changes another realm
(the domain refuses it too, not only the pages)."""

from __future__ import annotations

import csv
import io
import time

import pytest

from idp.core import operations as ops
from idp.core import staff
from idp.core.models import Customer
from idp.core.operations import audit_log, migration
from idp.core.realms import find_realm
from idp.extensions import db
from tests.idp.conftest import REALM, Browser, csrf_from

from .conftest import OTHER, STAFF, audit_events

C = f"/admin/console/realms/{REALM}"
L = f"/admin/console/realms/{OTHER}"


# --- boundaries -----------------------------------------------------------------------------

@pytest.mark.parametrize("path", [
    "/customers", "/customers?q=9", "/customers/900001", "/clients", "/clients/new",
    "/settings", "/migration", "/migration/pending.csv",
])
def test_realm_admin_never_reads_another_realm(paris_admin, customers_in_both, path):
    assert paris_admin.client.get(C + path.replace("900001", "100001")).status_code == 200
    assert paris_admin.client.get(L + path).status_code == 404
    assert paris_admin.client.get(f"/admin/console/audit?realm={OTHER}").status_code == 404


@pytest.mark.parametrize("path", [
    "/customers/900001/unlock", "/customers/900001/disable", "/customers/900001/code",
    "/customers/900001/end-sessions", "/clients/new", "/settings",
    "/settings/providers/google",
])
def test_realm_admin_never_changes_another_realm(app, paris_admin, customers_in_both, path):
    resp = paris_admin.post(L + path, {"client_id": "x", "display_name": "x"})
    assert resp.status_code == 404
    with app.app_context():
        other = db.session.execute(db.select(Customer).filter_by(identifier="900001")).scalar_one()
        assert other.enabled and other.temporary_code_hash is None


def test_domain_refuses_what_the_pages_would_not_show(app, customers_in_both):
    """The core's functions check the principal themselves (admin API, CLI, console)."""
    admin = staff.Principal(actor="staff:x", realms=frozenset({REALM}), otp_at=int(time.time()))
    with app.app_context():
        lyon = find_realm(OTHER)
        with pytest.raises(staff.PermissionDenied):
            ops.search_customers(admin, lyon, "")
        with pytest.raises(staff.PermissionDenied):
            ops.unlock(admin, lyon, "900001")
        with pytest.raises(staff.PermissionDenied):
            migration.counts(admin, lyon)
        with pytest.raises(staff.PermissionDenied):
            audit_log.search(admin, STAFF, audit_log.Filters(realm=OTHER))
        with pytest.raises(staff.PermissionDenied):
            staff.require(admin, STAFF, staff.Action.CUSTOMERS_READ, staff_realm=STAFF)
        with pytest.raises(staff.PermissionDenied):
            staff.require(admin, None, staff.Action.AUDIT_PURGE)
        stale = staff.Principal(actor="staff:x", realms=frozenset({REALM}), otp_at=0)
        with pytest.raises(staff.StepUpRequired):
            ops.rotate_secret(stale, app.extensions["idp.settings"], find_realm(REALM), "rp")
        service = staff.service_principal("crm", REALM, [staff.Action.CUSTOMERS_READ,
                                                          staff.Action.CLIENT_DELETE])
        assert staff.can_manage(service, REALM, staff.Action.CUSTOMERS_READ)
        assert not staff.can_manage(service, REALM, staff.Action.CUSTOMERS_WRITE)
        assert not staff.can_manage(service, OTHER, staff.Action.CUSTOMERS_READ)
        with pytest.raises(staff.StepUpRequired):  # no second factor: never sensitive
            staff.require(service, REALM, staff.Action.CLIENT_DELETE)


def test_realm_admin_sees_only_their_realms_and_events(paris_admin, boss, customers_in_both):
    home = paris_admin.client.get("/admin/console/").text
    assert REALM in home and f'realm-{OTHER}-' not in home
    assert f'realm-{OTHER}-' in boss.client.get("/admin/console/").text
    rows = paris_admin.client.get("/admin/console/audit.csv").text
    assert "900001" not in rows and "100001" in rows
    assert "900001" in boss.client.get("/admin/console/audit.csv").text


def test_staff_without_role_gets_nothing(app, staff_factory):
    member = staff_factory("gone@agence.example", "--super-admin")
    with app.app_context():
        db.session.execute(db.delete(staff.StaffMember))
        db.session.commit()
    assert member.client.get("/admin/console/").status_code == 403


def test_console_forms_need_csrf(paris_admin, customers_in_both):
    resp = paris_admin.client.post(f"{C}/customers/100001/disable", data={})
    assert resp.status_code == 400
    page = paris_admin.client.get(f"{C}/customers/100001")
    assert "Désactiver le compte" in page.text  # still enabled


# --- customers ------------------------------------------------------------------------------

def test_search_by_identifier_email_name_and_pages(app, paris_admin, runner, customers_in_both):
    from tests.idp.conftest import make_customer

    for i in range(30):
        make_customer(runner, f"2000{i:02d}", email=f"lot{i}@example.test", verified=False,
                      family_name="Lot")
    find = lambda q, page=1: paris_admin.client.get(f"{C}/customers",  # noqa: E731
                                                    query_string={"q": q, "page": page}).text
    assert "/customers/100001" in find("100001")
    assert "/customers/100001" in find("marie@")
    assert "/customers/100001" in find("dup")
    assert "/customers/100002" not in find("dup")
    first, second = find("lot"), find("lot", 2)
    assert "30 résultats" in first and 'rel="next"' in first
    assert 'rel="prev"' in second and "/customers/200029" in second
    assert "/customers/900001" not in find("9")  # the other realm never shows


def test_customer_page_and_every_action(app, paris_admin, customers_in_both, client):
    page = paris_admin.client.get(f"{C}/customers/100002")
    assert "Première connexion à faire" in page.text
    # a new temporary code, shown once, that works for a première connexion
    resp = paris_admin.post(f"{C}/customers/100002/code")
    code = resp.text.split('id="temporary-code">')[1].split("<")[0]
    assert len(code) == 6 and code.isdigit()
    assert code not in paris_admin.client.get(f"{C}/customers/100002").text
    first = Browser(client).login("100002", code)
    assert "/login-actions/email" in first.headers["Location"]
    # set the email on the customer's behalf: still to verify, a mail queued
    paris_admin.post(f"{C}/customers/100002/email", {"email": "jean@example.test"})
    page = paris_admin.client.get(f"{C}/customers/100002").text
    assert "jean@example.test" in page and "non vérifié" in page
    paris_admin.post(f"{C}/customers/100002/resend")
    assert "renvoyé" in paris_admin.client.get(f"{C}/customers/100002").text
    # lock, unlock, disable, enable, end sessions
    with app.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        c.locked_permanently = True
        db.session.commit()
    assert "Verrouillé" in paris_admin.client.get(f"{C}/customers/100001").text
    paris_admin.post(f"{C}/customers/100001/unlock")
    assert "Actif" in paris_admin.client.get(f"{C}/customers/100001").text
    paris_admin.post(f"{C}/customers/100001/disable")
    assert Browser(client).login().status_code == 401
    paris_admin.post(f"{C}/customers/100001/enable")
    assert Browser(client).login().status_code == 302
    paris_admin.post(f"{C}/customers/100001/end-sessions")
    assert client.get(f"/realms/{REALM}/account/").status_code == 302
    for event in ("admin_temporary_password_set", "admin_email_set",
                  "admin_verification_resent", "admin_customer_unlocked",
                  "admin_customer_disabled", "admin_customer_enabled", "admin_sessions_ended"):
        events = audit_events(app, event)
        assert events and events[-1][2]["actor"] == "staff:paris@agence.example", event


def test_unlink_social_account(app, paris_admin, customers_in_both):
    from idp.core import linking

    with app.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        linking.link(c, "google", "g-1", "marie@example.test", "password")
        db.session.commit()
    assert "google" in paris_admin.client.get(f"{C}/customers/100001").text
    paris_admin.post(f"{C}/customers/100001/unlink", {"provider": "google"})
    page = paris_admin.client.get(f"{C}/customers/100001").text
    assert "n&#39;est plus associé" in page or "n'est plus associé" in page
    assert audit_events(app, "federated_identity_unlinked")[-1][2]["actor"].startswith("staff:")


# --- clients --------------------------------------------------------------------------------

def test_client_lifecycle(app, boss, flow, customer):
    form = {"client_id": "crm", "client_name": "CRM", "redirect_uris": "https://crm.example/cb",
            "grant_types": ["authorization_code"], "scope": "openid profile",
            "token_endpoint_auth_method": "client_secret_basic",
            "id_token_signed_response_alg": "RS256", "first_party": "y"}
    resp = boss.post(f"{C}/clients/new", form, page=f"{C}/clients/new")
    assert resp.status_code == 200
    secret = resp.text.split('id="client-secret">')[1].split("<")[0]
    assert len(secret) > 30
    listing = boss.client.get(f"{C}/clients").text
    assert "CRM" in listing
    # the new client works at once
    params = flow.code_flow(client_id="crm", redirect_uri="https://crm.example/cb")
    token = flow.client.post(f"/realms/{REALM}/protocol/openid-connect/token", data={
        "grant_type": "authorization_code", "code": params["code"],
        "redirect_uri": "https://crm.example/cb"}, auth=("crm", secret))
    assert token.status_code == 200, token.text
    assert "100001" in boss.client.get(f"{C}/clients/crm").text  # recent sign-ins
    # edit: refused as realm import refuses, then accepted
    bad = boss.post(f"{C}/clients/crm", {**form, "redirect_uris": "http://evil.example/cb"},
                    page=f"{C}/clients/crm")
    assert bad.status_code == 400
    ok = boss.post(f"{C}/clients/crm", {**form, "post_logout_redirect_uris":
                                        "https://crm.example/bye"}, page=f"{C}/clients/crm")
    assert ok.status_code == 302
    # rotate (fresh sign-in: no step-up needed): the old secret stops working
    rotated = boss.post(f"{C}/clients/crm/rotate", {"back": f"{C}/clients/crm"},
                        page=f"{C}/clients/crm")
    new = rotated.text.split('id="client-secret">')[1].split("<")[0]
    assert new != secret
    boss.post(f"{C}/clients/crm/disable", page=f"{C}/clients/crm")
    assert flow.authorize(client_id="crm", redirect_uri="https://crm.example/cb"
                          ).status_code == 400
    boss.post(f"{C}/clients/crm/enable", page=f"{C}/clients/crm")
    boss.post(f"{C}/clients/crm/delete", page=f"{C}/clients/crm")
    assert boss.client.get(f"{C}/clients/crm").status_code == 404
    for event in ("admin_client_created", "admin_client_updated", "admin_client_secret_rotated",
                  "admin_client_disabled", "admin_client_deleted"):
        assert audit_events(app, event)[-1][2]["actor"] == "staff:boss@agence.example"


# --- settings -------------------------------------------------------------------------------

def _settings_form(page_html, **changes):
    import re

    data = dict(re.findall(r'name="([a-z_]+)"[^>]*value="([^"]*)"', page_html))
    data.pop("csrf_token", None)
    data["agency_contact"] = "Agence de Paris, 01 02 03 04 05"
    data.update(changes)
    return data


def test_settings_validated_as_realm_import(app, boss, client):
    page = boss.client.get(f"{C}/settings").text
    bad = boss.post(f"{C}/settings", _settings_form(page, brand_color="red"),
                    page=f"{C}/settings")
    assert bad.status_code == 400 and "brand_color" in bad.text
    good = boss.post(f"{C}/settings", _settings_form(
        page, display_name="Paris IDF", brand_color="#7a1f5c", sso_session_idle="900",
        logo_url="/static/logo.svg"), page=f"{C}/settings")
    assert good.status_code == 302
    with app.app_context():
        info = find_realm(REALM)
        assert info.display_name == "Paris IDF"
        assert info.settings.sso_session_idle == 900
        assert info.settings.agency_contact.startswith("Agence de Paris")
    login = client.get(f"/realms/{REALM}/login").text
    assert "theme.css" in login and "/static/logo.svg" in login and "Paris IDF" in login
    assert "#7a1f5c" in client.get(f"/realms/{REALM}/theme.css").text
    assert audit_events(app, "admin_realm_settings_changed")


def test_provider_secret_is_write_only(app, boss):
    boss.post(f"{C}/settings/providers/google", {
        "client_id": "gid.apps", "client_secret": "top-secret-value-123", "enabled": "y"},
        page=f"{C}/settings")
    page = boss.client.get(f"{C}/settings").text
    assert "gid.apps" in page and "top-secret-value-123" not in page and "••••" in page
    boss.post(f"{C}/settings/providers/google", {"client_id": "gid2.apps", "enabled": "y"},
              page=f"{C}/settings")
    from idp.core.models import IdentityProvider

    with app.app_context():
        row = db.session.execute(db.select(IdentityProvider)).scalar_one()
        assert row.client_id == "gid2.apps"
        assert "top-secret-value-123" in (row.client_secret or "") or row.client_secret


# --- migration dashboard & audit --------------------------------------------------------------

KNOWN_CSV = (
    "identifier,email,given_name,family_name,temporary_password\n"
    "300001,a@example.test,Ana,Alpha,111111\n"
    "300002,,Bea,Beta,222222\n"
    "300003,c@example.test,Cid,Gamma,333333\n"
    "300004,,Dan,Delta,444444\n"
)


def test_dashboard_counts_after_a_known_import(app, boss, runner, tmp_path, client):
    path = tmp_path / "known.csv"
    path.write_text(KNOWN_CSV, encoding="utf-8")
    result = runner.invoke(args=["customers", "import", "--realm", OTHER, str(path)])
    assert result.exit_code == 0, result.output
    # one first connection started (email given, mail sent), one done, one locked
    from idp.core import actions, links

    with app.app_context():
        rows = {c.identifier: c for c in db.session.execute(
            db.select(Customer).where(Customer.identifier.like("3000%"))).scalars()}
        links.issue(rows["300001"], links.VERIFY_EMAIL, "a@example.test",
                    find_realm(OTHER).settings)
        c = rows["300002"]
        c.set_email("b@example.test", verified=True)
        c.password_hash = "x"
        for name in list(c.required_actions):
            actions.finish(c, name)
        rows["300004"].locked_permanently = True
        db.session.commit()
    page = boss.client.get(f"{L}/migration").text
    counts = {k: page.split(f'id="count-{k}">')[1].split("<")[0]
              for k in ("imported", "done", "never", "started", "locked")}
    assert counts == {"imported": "4", "done": "1", "never": "2", "started": "1", "locked": "1"}
    assert "<svg" in page and "<rect" in page
    pending = list(csv.DictReader(io.StringIO(
        boss.client.get(f"{L}/migration/pending.csv").text)))
    assert sorted(r["identifier"] for r in pending) == ["300001", "300003", "300004"]
    assert {r["identifier"]: r["started"] for r in pending}["300001"] == "yes"


def test_audit_filters_csv_and_purge(app, boss, paris_admin, customers_in_both, runner):
    paris_admin.post(f"{C}/customers/100001/unlock")
    page = boss.client.get("/admin/console/audit", query_string={
        "actor": "staff:paris@agence.example", "event": "admin_customer_unlocked"}).text
    assert page.count("admin_customer_unlocked</td>") == 1
    by_customer = boss.client.get("/admin/console/audit", query_string={
        "realm": REALM, "customer": "100001"}).text
    assert "admin_customer_created</td>" in by_customer
    assert "staff_created</td>" not in by_customer
    future = boss.client.get("/admin/console/audit", query_string={"since": "2999-01-01"}).text
    assert "admin_customer_created</td>" not in future
    rows = list(csv.DictReader(io.StringIO(boss.client.get(
        "/admin/console/audit.csv", query_string={"event": "admin_customer_unlocked"}).text)))
    assert len(rows) == 1 and rows[0]["actor"] == "staff:paris@agence.example"
    assert rows[0]["realm"] == REALM and rows[0]["customer"] == "100001"
    with app.app_context():
        from idp.core.models import AuditEvent

        old = db.session.execute(db.select(AuditEvent)).scalars().first()
        old.created_at = old.created_at.replace(year=2000)
        db.session.commit()
        total = db.session.execute(db.select(db.func.count()).select_from(AuditEvent)).scalar()
    result = runner.invoke(args=["audit", "purge", "--json"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        after = db.session.execute(db.select(db.func.count()).select_from(AuditEvent)).scalar()
    assert after == total  # 1 old deleted, 1 "audit_purged" added


def test_english_console(paris_admin):
    page = paris_admin.client.get("/admin/console/?ui_locales=en").text
    assert "Agencies" in page and "Agences" not in page.split("<main")[1]
    assert csrf_from(page)
