"""The agency's recovery and the two attacks of "One owner per rule" on ways in.

Attack #1: a passkey registered from a sign-in that still owes something (première
connexion after the identifier and temporary code only; the staff realm before its TOTP
step) must be refused. Attack #2: a passkey added in Mon compte must not sign in once
the agency issued a new temporary code (it used to, and landed on the new-password page).

The recovery (a new temporary code or ``disable``) is the same operation whatever the
entry point (admin API, console through the operations layer, CLI): parametrised.
"""

from __future__ import annotations

import base64

import pytest

from idp.core import linking, ways_in
from idp.core import passkeys as pk
from idp.core.models import (
    Client,
    Customer,
    FederatedIdentity,
    OutboxMail,
    SsoSession,
    Token,
    utcnow,
)
from idp.core.operations import customers as admin
from idp.core.realms import find_realm
from idp.core.staff import Principal
from idp.extensions import db
from tests.support.realms import fresh_idp, import_realm
from tests.support.soft_authenticator import SoftAuthenticator

from . import journey_helpers as jh
from .conftest import REALM, RP, RP_SECRET, csrf_from, make_customer
from .journey_helpers import audit_events, parts, sign_in, subject
from .test_passkeys_views import (
    BASE,
    HOME,
    OFFER,
    ORIGIN,
    PASSWORD,
    add_passkey,
    passkey_sign_in,
    post_json,
)

smtp = jh.smtp
idp_config = jh.idp_config

SCOPES = "admin:customers:read admin:customers:write"
OFFER_OPTIONS = f"{OFFER}/options"
OFFER_VERIFY = f"{OFFER}/verify"


@pytest.fixture
def app(idp_config):
    """The idp's test realm, plus a service client of the admin API."""
    with fresh_idp(idp_config) as application:
        with application.app_context():
            import_realm({"realm": REALM, "display_name": "Paris Île-de-France", "clients": [
                {"client_id": "rp", "client_secret": RP_SECRET, "redirect_uris": [RP],
                 "grant_types": ["authorization_code", "refresh_token"],
                 "first_party": True},
                {"client_id": "crm", "client_secret": RP_SECRET,
                 "grant_types": ["client_credentials"], "response_types": [],
                 "scope": SCOPES, "first_party": True},
            ]})
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def _customer(identifier: str = "100001") -> Customer:
    return db.session.execute(db.select(Customer).filter_by(identifier=identifier)).scalar_one()


# --- the entry points of the agency's recovery -----------------------------------------------

def _api_token(client) -> dict[str, str]:
    basic = base64.b64encode(f"crm:{RP_SECRET}".encode()).decode()
    resp = client.post(f"/realms/{REALM}/protocol/openid-connect/token",
                       data={"grant_type": "client_credentials", "scope": SCOPES},
                       headers={"Authorization": f"Basic {basic}"})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json['access_token']}"}


def by_api(app, action: str) -> None:
    client = app.test_client()
    headers = _api_token(client)
    url = f"/admin/realms/{REALM}/customers/100001"
    if action == "temporary_code":
        resp = client.post(f"{url}/temporary-code", headers=headers)
    else:
        etag = client.get(url, headers=headers).headers["ETag"]
        resp = client.patch(url, json={"enabled": False},
                            headers={**headers, "If-Match": etag})
    assert resp.status_code == 200, resp.text


def by_console(app, action: str) -> None:
    """The console's views call the operations layer with the staff member's principal."""
    who = Principal(actor="staff:paris@agence.example", realms=frozenset({REALM}))
    with app.app_context():
        realm = find_realm(REALM)
        cfg = app.extensions["idp.settings"]
        if action == "temporary_code":
            admin.issue_temporary_code(who, cfg, realm, "100001")
        else:
            admin.set_enabled(who, cfg, realm, "100001", False)
        db.session.commit()


def by_cli(app, action: str) -> None:
    args = (["customers", "set-temporary-password", "--realm", REALM, "--identifier", "100001"]
            if action == "temporary_code" else
            ["customers", "disable", "--realm", REALM, "--identifier", "100001"])
    result = app.test_cli_runner().invoke(args=args)
    assert result.exit_code == 0, result.output


ENTRY_POINTS = [pytest.param(by_api, id="api"), pytest.param(by_console, id="console"),
                pytest.param(by_cli, id="cli")]
ACTIONS = ["temporary_code", "disabled"]


@pytest.fixture
def holder(app, client, runner):
    """Customer 100001 (password, verified address) who added a passkey in Mon compte
    and linked Google, and still has the session open. Returns the authenticator."""
    make_customer(runner)
    assert sign_in(client, "100001", PASSWORD).status_code == 302
    soft = SoftAuthenticator()
    assert add_passkey(client, soft).status_code == 200
    with app.app_context():
        c = _customer()
        db.session.add(FederatedIdentity(realm_id=c.realm_id, customer_id=c.id,
                                         provider="google", subject="g-1"))
        rp = db.session.execute(db.select(Client).filter_by(client_id="rp")).scalar_one()
        db.session.add(Token(realm_id=c.realm_id, client_pk=rp.id, customer_id=c.id,
                             access_jti="jti-1", access_expires_at=utcnow(),
                             refresh_hash="rt-1", refresh_expires_at=utcnow()))
        db.session.commit()
    return soft


@pytest.mark.parametrize("entry", ENTRY_POINTS)
@pytest.mark.parametrize("action", ACTIONS)
def test_recovery_ends_every_way_in_the_previous_holder_added(app, client, holder, smtp,
                                                              entry, action):
    entry(app, action)
    with app.app_context():
        c = _customer()
        assert pk.list_passkeys(c) == []
        assert linking.identities_of(c) == []
        assert db.session.execute(db.select(SsoSession).filter_by(
            customer_id=c.id, ended_at=None)).first() is None
        token = db.session.execute(db.select(Token).filter_by(refresh_hash="rt-1")).scalar_one()
        assert token.revoked_at is not None
        kinds = ways_in.kinds_for(c)
        assert ways_in.Kind.PASSKEY not in kinds and ways_in.Kind.SOCIAL not in kinds
        [mail] = db.session.execute(db.select(OutboxMail).filter_by(
            template="ways_in_removed")).scalars().all()
        assert mail.recipient == "marie@example.test"
    assert client.get(HOME).status_code == 302  # the session is over
    assert app.test_cli_runner().invoke(args=["mail", "worker", "--once"]).exit_code == 0
    text, _html = parts(smtp.wait_for("marie@example.test"))
    assert ("désactivé" if action == "disabled" else "nouveau code provisoire") in text
    assert "- la clé d'accès « Clé d'accès »" in text  # its default name
    assert "- l'association de votre compte Google" in text
    [event] = audit_events(app, "admin_temporary_password_set" if action == "temporary_code"
                           else "admin_customer_disabled")
    assert len(event.detail["removed"]) == 2


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_attack_2_the_passkey_does_not_survive_a_new_temporary_code(app, holder, entry):
    """Before: the passkey signed in and landed on the new-password page, so whoever
    added it set a new password without the agency's new code."""
    entry(app, "temporary_code")
    thief = app.test_client()
    resp = passkey_sign_in(thief, holder)
    assert resp.status_code == 400 and resp.json["error"] == "unknown_credential"
    assert thief.get(f"{BASE}/login-actions/password").status_code != 200
    assert thief.get(HOME).status_code == 302


def test_a_passkey_is_not_usable_while_a_temporary_code_waits(app, holder):
    """Defence in depth: even a passkey row left behind (a restored backup) does not sign
    in while the agency's code is pending."""
    with app.app_context():
        c = _customer()
        c.temporary_code_hash = "hmac-sha256$x$y$z"
        db.session.commit()
    resp = passkey_sign_in(app.test_client(), holder)
    assert resp.status_code == 400 and resp.json["error"] == "recovery_pending"


def test_recovery_mail_in_french_and_english(app, holder, smtp):
    by_cli(app, "temporary_code")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["mail", "worker", "--once"]).exit_code == 0
    msg = smtp.wait_for("marie@example.test", 1)
    text, html = parts(msg)
    assert subject(msg) == "Mon espace client - Votre agence a sécurisé votre compte"
    assert "nouveau code provisoire" in text and "la clé d'accès « " in text
    assert "l'association de votre compte Google" in text
    assert "Toutes vos sessions ont été fermées." in html
    with app.app_context():
        c = _customer()
        c.locale = "en"
        c.enabled = True
        db.session.commit()
    by_cli(app, "disabled")
    assert runner.invoke(args=["mail", "worker", "--once"]).exit_code == 0
    msg = smtp.wait_for("marie@example.test", 2)
    text, _html = parts(msg)
    assert subject(msg) == "My customer space - Your agency secured your account"
    assert "Your agency disabled your" in text
    assert "No passkey and no social account was linked to your account." in text


# --- attack #1: a passkey only from a completed sign-in --------------------------------------

def _premiere_connexion_started(app, client, runner) -> None:
    make_customer(runner, password=None, email=None, verified=False,
                  temporary_password="123456")
    resp = sign_in(client, "100001", "123456")
    assert resp.headers["Location"].endswith("/login-actions/email")


def test_attack_1_no_passkey_during_the_premiere_connexion(app, client, runner):
    _premiere_connexion_started(app, client, runner)
    client.set_cookie("passkey_capable", "1")
    options = post_json(client, OFFER_OPTIONS)
    assert options.status_code == 400 and options.json["error"] == "sign_in_incomplete"
    soft = SoftAuthenticator()
    # Even with options of another ceremony, the verify step refuses before any check.
    answer = soft.create({"challenge": "AAAA", "rp": {"id": "idp.test", "name": "x"},
                          "user": {"id": "dXNlcg", "name": "u", "displayName": "u"},
                          "pubKeyCredParams": [{"type": "public-key", "alg": -7}]}, ORIGIN)
    verify = post_json(client, OFFER_VERIFY, answer)
    assert verify.status_code == 400 and verify.json["error"] == "sign_in_incomplete"
    with app.app_context():
        assert pk.list_passkeys(_customer()) == []
    codes = [e.detail["code"] for e in audit_events(app, "passkey_refused")]
    assert codes == ["sign_in_incomplete", "sign_in_incomplete"]
    # The offer page itself sends the customer back to what they owe.
    assert client.get(OFFER).headers["Location"].endswith("/login-actions/email")


def test_the_offer_is_state_on_the_customer_not_the_audit_trail(app, client, runner):
    make_customer(runner)
    client.set_cookie("passkey_capable", "1")
    assert sign_in(client, "100001", PASSWORD).headers["Location"].endswith(OFFER)
    page = client.get(OFFER)
    client.post(OFFER, data={"csrf_token": csrf_from(page.text)})
    with app.app_context():
        assert _customer().passkey_offered_at is not None
        from idp.core.models import AuditEvent

        db.session.execute(db.delete(AuditEvent))  # the audit trail purged
        db.session.commit()
    other = app.test_client()
    other.set_cookie("passkey_capable", "1")
    assert sign_in(other, "100001", PASSWORD).headers["Location"].endswith(HOME)
