"""The ways-in registry (``idp.core.ways_in``) and Mon compte's fresh proof.

- one "last way in" rule for every removal, whatever the entry point: a customer with a
  passkey and Google but no password may remove either one, not both (the old copies
  disagreed: the social unlink refused while the passkey removal allowed);
- one "may this customer sign in" answer;
- adding a passkey in Mon compte needs a credential proved within five minutes: else the
  confirm page (password here; passkey and social in their own tests), and back.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest

from idp.core import linking, sessions, ways_in
from idp.core import passkeys as pk
from idp.core.models import Customer, FederatedIdentity, SsoSession, utcnow
from idp.core.operations import customers as admin
from idp.core.realms import find_realm
from idp.core.staff import Principal
from idp.extensions import db
from tests.support.soft_authenticator import SoftAuthenticator

from .conftest import REALM, csrf_from, make_customer
from .journey_helpers import audit_events, sign_in
from .test_passkeys_views import (
    ADD_OPTIONS,
    BASE,
    HOME,
    ORIGIN,
    PASSWORD,
    add_passkey,
    passkey_sign_in,
    post_json,
)

CONFIRM = f"{BASE}/account/confirm/"
STAFF = Principal(actor="staff:test@example.test", super_admin=True)


def _customer(identifier: str = "100001") -> Customer:
    return db.session.execute(
        db.select(Customer).filter_by(identifier=identifier)).scalar_one()


def _link_google(identifier: str = "100001") -> None:
    c = _customer(identifier)
    db.session.add(FederatedIdentity(realm_id=c.realm_id, customer_id=c.id,
                                     provider="google", subject="g-1"))
    db.session.commit()


def _drop_password(identifier: str = "100001") -> None:
    c = _customer(identifier)
    c.password_hash = None
    db.session.commit()


@pytest.fixture
def passkey_and_google(app, client, runner):
    """Customer 100001 with a passkey (made in Mon compte) and Google, no password."""
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    with app.app_context():
        _link_google()
        _drop_password()
    return client


# --- the registry ----------------------------------------------------------------------------

def test_every_builtin_kind_is_registered(app):
    with app.app_context():
        kinds = {w.kind for w in ways_in.ways()}
    assert kinds == set(ways_in.Kind)  # email_code: registered by idp.core.email_code
    assert all(isinstance(w, ways_in.WayIn) for w in ways_in.ways())


def test_kinds_for_a_customer(app, passkey_and_google):
    with app.app_context():
        c = _customer()
        assert ways_in.kinds_for(c) == [ways_in.Kind.SOCIAL, ways_in.Kind.PASSKEY,
                                        ways_in.Kind.EMAIL_CODE]  # a verified address
        labels = [i.label for i in ways_in.items_for(c)]
        assert labels[0] == "compte Google" and labels[1].startswith("clé d'accès « ")


@pytest.mark.parametrize(("change", "reason"), [
    ({"enabled": False}, "disabled"),
    ({"locked_permanently": True}, "locked"),
    ({}, None),
])
def test_may_sign_in_answers_one_reason(app, runner, change, reason):
    make_customer(runner)
    with app.app_context():
        c = _customer()
        for key, value in change.items():
            setattr(c, key, value)
        assert ways_in.may_sign_in(c, find_realm(REALM)) == reason
        assert ways_in.may_sign_in(c, c.realm_id + 999) == "wrong_realm"
        assert ways_in.may_sign_in(None) == "unknown"


def test_a_temporary_lock_stops_the_password_not_the_passkey(app, passkey_and_google):
    with app.app_context():
        c = _customer()
        c.password_hash = "x"
        c.locked_until = utcnow() + timedelta(minutes=5)
        assert ways_in.may_sign_in(c) is None
        assert not ways_in.usable(c, ways_in.Kind.PASSWORD)
        assert ways_in.usable(c, ways_in.Kind.PASSKEY)
        db.session.rollback()


# --- one "last way in" rule, every entry point ------------------------------------------------

def test_the_rule_itself(app, passkey_and_google):
    with app.app_context():
        c = _customer()
        [key] = pk.list_passkeys(c)
        assert ways_in.may_remove(c, ways_in.Kind.PASSKEY, key.id)
        assert ways_in.may_remove(c, ways_in.Kind.SOCIAL, "google")
        assert ways_in.may_remove(c, ways_in.Kind.TOTP)  # a second factor strands no one
        linking.unlink(c, "google")
        db.session.commit()
        assert not ways_in.may_remove(c, ways_in.Kind.PASSKEY, key.id)


def _unlink_in_mon_compte(app, client) -> int:
    resp = client.post(f"{BASE}/account/social/google/unlink",
                       data={"csrf_token": csrf_from(client.get(HOME).text)})
    assert resp.status_code == 302
    with app.app_context():
        return len(linking.identities_of(_customer()))


def _unlink_by_staff(app, client) -> int:
    with app.app_context():
        admin.unlink(STAFF, find_realm(REALM), "100001", "google")
        db.session.commit()
        return len(linking.identities_of(_customer()))


@pytest.mark.parametrize("entry", [_unlink_in_mon_compte, _unlink_by_staff],
                         ids=["mon_compte", "console_api_cli"])
def test_google_may_go_when_a_passkey_remains(app, passkey_and_google, entry):
    assert entry(app, passkey_and_google) == 0


def _remove_passkey_in_mon_compte(app, client) -> int:
    with app.app_context():
        [key] = pk.list_passkeys(_customer())
    client.post(f"{BASE}/account/passkeys/{key.id}/remove",
                data={"csrf_token": csrf_from(client.get(HOME).text)})
    with app.app_context():
        return len(pk.list_passkeys(_customer()))


@pytest.mark.parametrize("entry", [_unlink_in_mon_compte, _unlink_by_staff],
                         ids=["mon_compte", "console_api_cli"])
def test_the_last_way_in_stays_whatever_the_entry_point(app, passkey_and_google, entry):
    assert _remove_passkey_in_mon_compte(app, passkey_and_google) == 0
    if entry is _unlink_by_staff:
        from idp.core.operations.base import AdminError

        with pytest.raises(AdminError) as err:
            entry(app, passkey_and_google)
        assert err.value.code == "last_way_in"
    else:
        assert entry(app, passkey_and_google) == 1
    with app.app_context():
        assert len(linking.identities_of(_customer())) == 1


def test_the_last_passkey_stays_when_nothing_else_signs_in(app, passkey_and_google):
    with app.app_context():
        linking.unlink(_customer(), "google")
        db.session.commit()
    assert _remove_passkey_in_mon_compte(app, passkey_and_google) == 1
    [refused] = audit_events(app, "passkey_remove_refused")
    assert refused.detail["code"] == "last_way_in"


# --- fresh proof -----------------------------------------------------------------------------

def _age_session(app, seconds: int = 600) -> None:
    with app.app_context():
        for row in db.session.execute(db.select(SsoSession)).scalars():
            row.proved_at = int(time.time()) - seconds
            row.auth_time = int(time.time()) - seconds
        db.session.commit()


def test_has_fresh_proof_window():
    row = SsoSession(auth_time=1_000, proved_at=2_000)
    assert sessions.has_fresh_proof(row, now=2_300)
    assert not sessions.has_fresh_proof(row, now=2_301)
    assert not sessions.has_fresh_proof(None, now=2_000)
    legacy = SsoSession(auth_time=1_000, proved_at=None)
    assert sessions.has_fresh_proof(legacy, now=1_100)


def test_a_stale_session_cannot_add_a_passkey_until_the_password_is_proved(
        app, client, runner):
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    _age_session(app)
    refused = post_json(client, ADD_OPTIONS, page=HOME)
    assert refused.status_code == 403 and refused.json["error"] == "fresh_proof_required"
    assert refused.json["redirect"] == CONFIRM
    home = client.get(HOME).text
    assert 'id="passkey-add-confirm"' in home and 'id="passkey-add"' not in home
    page = client.get(CONFIRM)
    assert page.status_code == 200 and 'name="current_password"' in page.text
    wrong = client.post(CONFIRM, data={"csrf_token": csrf_from(page.text),
                                       "current_password": "not-it"})
    assert wrong.status_code == 401 and "Mot de passe incorrect." in wrong.text
    assert post_json(client, ADD_OPTIONS, page=HOME).status_code == 403
    right = client.post(CONFIRM, data={"csrf_token": csrf_from(page.text),
                                       "current_password": PASSWORD})
    assert right.status_code == 302 and right.headers["Location"].endswith(HOME)
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    assert [e.detail["how"] for e in audit_events(app, "proof_renewed")] == ["password"]
    assert [e.detail["how"] for e in audit_events(app, "proof_failed")] == ["password"]


def test_confirm_page_goes_back_only_inside_mon_compte(app, client, runner):
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    page = client.get(CONFIRM, query_string={"next": "https://evil.example/x"})
    resp = client.post(CONFIRM, data={"csrf_token": csrf_from(page.text),
                                      "current_password": PASSWORD})
    assert resp.headers["Location"].endswith(HOME)
    page = client.get(CONFIRM, query_string={"next": f"{BASE}/account/social"})
    resp = client.post(CONFIRM, data={"csrf_token": csrf_from(page.text),
                                      "current_password": PASSWORD})
    assert resp.headers["Location"].endswith(f"{BASE}/account/social")


def test_confirm_page_needs_a_session(client):
    resp = client.get(CONFIRM)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_confirm_page_in_english(app, client, runner):
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    page = client.get(CONFIRM, query_string={"ui_locales": "en"}).text
    assert "Confirm your identity" in page


def test_a_passkey_of_the_customer_proves_the_session(app, client, runner):
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    soft = SoftAuthenticator()
    assert add_passkey(client, soft).status_code == 200
    _age_session(app)
    assert post_json(client, ADD_OPTIONS, page=HOME).status_code == 403
    page = client.get(CONFIRM, query_string={"next": f"{BASE}/account/ways-in/"})
    assert 'id="passkey-confirm"' in page.text
    options = post_json(client, f"{CONFIRM}passkey/options", page=CONFIRM)
    assert options.status_code == 200
    done = post_json(client, f"{CONFIRM}passkey/verify", soft.get(options.json, ORIGIN),
                     page=CONFIRM)
    assert done.status_code == 200 and done.json["redirect"].endswith("/account/ways-in/")
    assert post_json(client, ADD_OPTIONS, page=HOME).status_code == 200
    assert [e.detail["how"] for e in audit_events(app, "proof_renewed")] == ["passkey"]


def test_another_customers_passkey_proves_nothing(app, client, runner):
    make_customer(runner)
    make_customer(runner, identifier="100002", email="jean@example.test")
    other = app.test_client()
    sign_in(other, "100002", PASSWORD)
    theirs = SoftAuthenticator()
    assert add_passkey(other, theirs).status_code == 200
    sign_in(client, "100001", PASSWORD)
    _age_session(app)
    options = post_json(client, f"{CONFIRM}passkey/options", page=CONFIRM)
    refused = post_json(client, f"{CONFIRM}passkey/verify", theirs.get(options.json, ORIGIN),
                        page=CONFIRM)
    assert refused.status_code == 400 and refused.json["error"] == "unknown_credential"
    assert post_json(client, ADD_OPTIONS, page=HOME).status_code == 403


# --- one "may sign in" check, every way in ----------------------------------------------------

def _password(app, client, soft) -> bool:
    return sign_in(client, "100001", PASSWORD).status_code == 302


def _passkey(app, client, soft) -> bool:
    return passkey_sign_in(client, soft).status_code == 200


@pytest.mark.parametrize("way", [_password, _passkey], ids=["password", "passkey"])
@pytest.mark.parametrize("change", [{"enabled": False}, {"locked_permanently": True}],
                         ids=["disabled", "locked"])
def test_may_sign_in_is_the_same_for_every_way_in(app, client, runner, way, change):
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    soft = SoftAuthenticator()
    assert add_passkey(client, soft).status_code == 200
    browser = app.test_client()
    with app.app_context():
        c = _customer()
        for key, value in change.items():
            setattr(c, key, value)
        db.session.commit()
    assert not way(app, browser, soft)
    assert browser.get(HOME).status_code == 302
    assert client.get(HOME).status_code == 302  # the open session is no longer alive
