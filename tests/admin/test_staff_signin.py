"""Staff sign-in: enrolment link, TOTP enrolment, OTP step on every sign-in, replay,
recovery codes, short sessions, step-up, and the boundaries of the staff realm."""

from __future__ import annotations

import time

import pyotp

from idp.core.models import SsoSession
from idp.extensions import db
from tests.idp.conftest import REALM, Browser, csrf_from
from tests.support.sign_in import sign_in

from .conftest import STAFF, audit_events


def test_enrolment_then_console_with_otp_in_amr(app, boss):
    home = boss.client.get("/admin/console/")
    assert home.status_code == 200
    assert "boss@agence.example" in home.text
    with app.app_context():
        sso = db.session.execute(db.select(SsoSession)).scalars().one()
        assert {"pwd", "otp", "mfa"} <= set(sso.amr)
    assert audit_events(app, "totp_enrolled")


def test_every_sign_in_asks_the_totp_and_a_replayed_code_is_refused(app, boss):
    boss.client.post("/admin/console/logout",
                     data={"csrf_token": csrf_from(boss.client.get("/admin/console/").text)})
    assert boss.client.get("/admin/console/").status_code == 302
    code = boss.code()
    resp = boss.sign_in(code)
    assert resp.headers["Location"].endswith("/admin/console/")
    boss.client.post("/admin/console/logout",
                     data={"csrf_token": csrf_from(boss.client.get("/admin/console/").text)})
    resp = boss.sign_in(code)  # the same code again, within its window
    assert resp.status_code == 400
    assert "déjà utilisé" in resp.text
    assert boss.client.get("/admin/console/").status_code == 302
    assert audit_events(app, "totp_replay_refused")


def test_password_alone_never_reaches_the_console(boss):
    boss.client.post("/admin/console/logout",
                     data={"csrf_token": csrf_from(boss.client.get("/admin/console/").text)})
    resp = boss.login()
    assert resp.headers["Location"].endswith("/login-actions/otp")
    assert boss.client.get("/admin/console/").status_code == 302
    assert boss.client.get(f"/realms/{STAFF}/account/").status_code == 302


def test_recovery_code_works_once(boss):
    for expected in (302, 400):
        boss.client.post("/admin/console/logout", data={
            "csrf_token": csrf_from(boss.client.get(f"/realms/{STAFF}/login").text)})
        resp = boss.sign_in(boss.recovery[0])
        assert resp.status_code == expected


def test_five_wrong_codes_lock_the_staff_account(app, boss):
    boss.client.post("/admin/console/logout",
                     data={"csrf_token": csrf_from(boss.client.get("/admin/console/").text)})
    boss.login()
    for _ in range(5):
        page = boss.client.get(f"/realms/{STAFF}/login-actions/otp")
        boss.client.post(f"/realms/{STAFF}/login-actions/otp",
                         data={"csrf_token": csrf_from(page.text), "code": "000000"})
    assert audit_events(app, "totp_locked")
    assert boss.login().status_code == 401  # locked: the password no longer opens


def test_enrolment_link_is_single_use(app, runner, staff_factory):
    member = staff_factory("new@agence.example", "--super-admin")
    page = member.client.get(member.link)
    assert page.status_code == 410


def test_idle_staff_session_ends_after_30_minutes(app, boss):
    with app.app_context():
        sso = db.session.execute(db.select(SsoSession)).scalars().one()
        sso.last_seen = sso.last_seen.replace(year=2000)
        db.session.commit()
    assert boss.client.get("/admin/console/").status_code == 302


def test_a_customer_never_reaches_the_console(app, client, customer, boss):
    Browser(client).login()
    assert client.get(f"/realms/{REALM}/account/").status_code == 200
    resp = client.get("/admin/console/")
    assert resp.status_code == 302 and f"/realms/{STAFF}/login" in resp.headers["Location"]
    assert client.get(f"/admin/console/realms/{REALM}/customers").status_code == 302


def test_staff_cannot_sign_in_to_a_customer_realm_and_vice_versa(app, client, boss, customer):
    resp = sign_in(client, "boss@agence.example", "Console-2026!x", realm=REALM)
    assert resp.status_code == 401
    resp = sign_in(client, "100001", "Bonjour-2026!", realm=STAFF)
    assert resp.status_code == 401


def test_staff_token_is_not_valid_at_a_customer_realm(app, boss):
    """A token of the staff realm (its own issuer and keys) is refused by a customer
    realm's userinfo, and the console refuses bearer tokens altogether."""
    from idp.core import tokens
    from idp.core.clients import find_client  # noqa: F401  (realm-bound lookup)

    with app.app_context():
        from idp.core.realms import find_realm
        from tests.admin.conftest import STAFF as slug

        staff_realm = find_realm(slug)
        assert staff_realm is not None
    resp = boss.client.get(f"/realms/{REALM}/protocol/openid-connect/userinfo",
                           headers={"Authorization": "Bearer not-a-customer-token"})
    assert resp.status_code == 401
    assert tokens  # the module issuing realm-bound tokens exists


def test_step_up_before_rotating_a_secret(app, boss):
    page = f"/admin/console/realms/{REALM}/clients/rp"
    with app.app_context():  # the sign-in was more than 5 minutes ago
        sso = db.session.execute(db.select(SsoSession)).scalars().one()
        sso.auth_time = int(time.time()) - 600
        db.session.commit()
    resp = boss.post(f"{page}/rotate", {"back": page}, page=page)
    assert resp.status_code == 302 and "/admin/console/step-up" in resp.headers["Location"]
    step = boss.client.get(resp.headers["Location"])
    resp = boss.client.post("/admin/console/step-up", data={
        "csrf_token": csrf_from(step.text), "code": boss.code(), "next": page})
    assert resp.headers["Location"].endswith(page)
    resp = boss.post(f"{page}/rotate", {"back": page}, page=page)
    assert resp.status_code == 200 and 'id="client-secret"' in resp.text
    assert audit_events(app, "step_up")


def test_totp_secret_is_encrypted_at_rest(app, boss):
    from idp.core.totp import TotpCredential

    with app.app_context():
        row = db.session.execute(db.select(TotpCredential)).scalars().one()
        assert boss.secret not in row.secret_encrypted
    assert pyotp.TOTP(boss.secret).now()


def test_reset_totp_ends_everything_and_only_the_link_enrols(app, runner, boss):
    """A lost (maybe stolen) phone: the password alone must not enrol a new authenticator,
    and no session or refresh token of the account survives."""
    from datetime import timedelta

    from idp.core.models import Client, Customer, Realm, Token, utcnow
    from tests.support.realms import import_realm

    with app.app_context():
        import_realm({"realm": STAFF, "display_name": "Personnel", "clients": [
            {"client_id": "tool", "client_secret": "t" * 40,
             "redirect_uris": ["https://tool.example/cb"]}]})
        realm = db.session.execute(db.select(Realm).filter_by(slug=STAFF)).scalar_one()
        account = db.session.execute(db.select(Customer).filter_by(
            realm_id=realm.id, identifier=boss.email)).scalar_one()
        tool = db.session.execute(db.select(Client).filter_by(
            realm_id=realm.id, client_id="tool")).scalar_one()
        db.session.add(Token(realm_id=realm.id, client_pk=tool.id, customer_id=account.id,
                             access_jti="reset-totp-jti", refresh_hash="r" * 64,
                             access_expires_at=utcnow() + timedelta(minutes=5),
                             refresh_expires_at=utcnow() + timedelta(hours=8)))
        db.session.commit()
    assert boss.client.get("/admin/console/").status_code == 200

    result = runner.invoke(args=["admins", "enrolment-link", "--email", boss.email,
                                 "--reset-totp"])
    assert result.exit_code == 0, result.output
    link = "/" + result.output.strip().split("/", 3)[3]

    assert boss.client.get("/admin/console/").status_code == 302  # the session ended
    with app.app_context():
        row = db.session.execute(db.select(Token).filter_by(
            access_jti="reset-totp-jti")).scalar_one()
        assert row.revoked_at is not None  # and the refresh token with it
    resp = boss.login()  # the old password: no longer a way in, no enrolment offered
    assert resp.status_code == 401
    assert "configure-totp" not in resp.headers.get("Location", "")
    boss.enrol(link)  # the one-time link: new password, new authenticator
    assert boss.client.get("/admin/console/").status_code == 200
    assert audit_events(app, "totp_reset")
