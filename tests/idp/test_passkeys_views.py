"""Passkeys in the pages, through the Flask client and a software authenticator: the sign-in
button and autofill, sign-in through the state machine (amr, acr, required actions, the
client's code), the one-time offer after a sign-in and at the end of the première
connexion, Mon compte (list, add, rename, remove, never the last way in), and refusals
(replayed assertion, replayed state, wrong origin, wrong RP ID, CSRF, no sign-in).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest

from idp import create_app
from idp.core import passkeys as pk
from idp.core.models import Customer, Interaction, SsoSession
from idp.extensions import db
from tests.support.soft_authenticator import SoftAuthenticator

from . import journey_helpers as jh
from .conftest import REALM, RP, Browser, csrf_from, make_customer
from .journey_helpers import audit_events, customer_row, link_in, post, sign_in, submit
from .oidc_helpers import redeem, verify

smtp = jh.smtp
idp_config = jh.idp_config

ORIGIN = "http://idp.test"  # PUBLIC_URL of the test config: RP ID idp.test
BASE = f"/realms/{REALM}"
HOME = f"{BASE}/account/"
SIGNIN_OPTIONS = f"{BASE}/passkeys/signin/options"
SIGNIN_VERIFY = f"{BASE}/passkeys/signin/verify"
ADD_OPTIONS = f"{BASE}/account/passkeys/options"
ADD_VERIFY = f"{BASE}/account/passkeys/verify"
OFFER = f"{BASE}/passkeys/offer"
PASSWORD = "Bonjour-2026!"


# --- helpers ---------------------------------------------------------------------------------

def csrf_header(client, page: str = f"{BASE}/login") -> dict[str, str]:
    return {"X-CSRFToken": csrf_from(client.get(page).text), "Accept": "application/json"}


def post_json(client, url: str, body: dict | None = None, page: str = f"{BASE}/login"):
    return client.post(url, json=body or {}, headers=csrf_header(client, page))


def add_passkey(client, soft: SoftAuthenticator, **create_kw):
    """From Mon compte, signed in: options, the authenticator's answer, verify."""
    options = post_json(client, ADD_OPTIONS, page=HOME)
    assert options.status_code == 200, options.text
    return post_json(client, ADD_VERIFY, soft.create(options.json, ORIGIN, **create_kw),
                     page=HOME)


def passkey_sign_in(client, soft: SoftAuthenticator, origin: str = ORIGIN, **get_kw):
    options = post_json(client, SIGNIN_OPTIONS)
    assert options.status_code == 200, options.text
    assert options.json["allowCredentials"] == [] and options.json["rpId"] == "idp.test"
    assert options.json["userVerification"] == "required"
    return post_json(client, SIGNIN_VERIFY, soft.get(options.json, origin, **get_kw))


def passkeys_of(app, identifier: str = "100001") -> list[pk.Passkey]:
    with app.app_context():
        customer = db.session.execute(
            db.select(Customer).filter_by(identifier=identifier)).scalar_one()
        rows = pk.list_passkeys(customer)
        for row in rows:
            db.session.expunge(row)
        return rows


def live_sso(app, identifier: str = "100001") -> SsoSession:
    with app.app_context():
        customer = db.session.execute(
            db.select(Customer).filter_by(identifier=identifier)).scalar_one()
        row = db.session.execute(
            db.select(SsoSession).filter_by(customer_id=customer.id, ended_at=None)
            .order_by(SsoSession.created_at.desc())).scalars().first()
        assert row is not None
        db.session.expunge(row)
        return row


def state_holding(app, challenge: str) -> tuple[str, dict]:
    """(id, data) of the sign-in state holding this challenge."""
    with app.app_context():
        for row in db.session.execute(db.select(Interaction)).scalars():
            held = (row.data or {}).get("passkey_challenge") or {}
            if held.get("challenge") == challenge:
                return row.id, dict(row.data)
    raise AssertionError("no sign-in state holds the challenge")


@pytest.fixture
def soft() -> SoftAuthenticator:
    return SoftAuthenticator()


@pytest.fixture
def with_passkey(app, client, runner, soft):
    """Customer 100001 (password) with one passkey made from Mon compte; signed out."""
    make_customer(runner, given_name="Marie", family_name="Dupont")
    sign_in(client, "100001", PASSWORD)
    resp = add_passkey(client, soft)
    assert resp.status_code == 200, resp.text
    client.delete_cookie("idp_session")
    return soft


# --- the sign-in page ------------------------------------------------------------------------

def test_sign_in_page_has_the_hidden_button_and_the_autofill(client):
    page = client.get(f"{BASE}/login").text
    button = re.search(r'<button[^>]*data-passkey="signin"[^>]*>', page)
    assert button and " hidden" in button.group(0)  # revealed by passkeys.js only
    assert "Se connecter avec une clé d&#39;accès" in page or \
        "Se connecter avec une clé d'accès" in page
    assert 'autocomplete="username webauthn"' in page
    assert "/static/passkeys.js" in page
    first = client.get(f"{BASE}/login?first=1").text
    assert 'data-passkey="signin"' not in first  # première connexion: the code, not a passkey
    english = client.get(f"{BASE}/login?ui_locales=en").text
    assert "Sign in with a passkey" in english


def test_no_passkeys_on_an_ip_address_public_url(idp_config):
    app = create_app({**idp_config, "PUBLIC_URL": "http://127.0.0.1:5100"})
    with app.app_context():
        db.create_all()
        from tests.support.realms import import_realm

        import_realm({"realm": REALM, "display_name": "Paris", "clients": []})
    page = app.test_client().get(f"{BASE}/login").text
    assert 'data-passkey="signin"' not in page and "passkeys.js" not in page
    with app.app_context():
        db.drop_all()
        db.engine.dispose()


def test_discovery_lists_acr_2(client):
    doc = client.get(f"{BASE}/.well-known/openid-configuration").json
    assert doc["acr_values_supported"] == ["1", "2"]


# --- sign-in with a passkey ------------------------------------------------------------------

def test_passkey_alone_signs_in_to_mon_compte_with_acr_2(app, client, with_passkey):
    resp = passkey_sign_in(client, with_passkey)
    assert resp.status_code == 200, resp.text
    assert resp.json["redirect"].endswith(HOME)
    home = client.get(HOME)
    assert home.status_code == 200 and "100001" in home.text
    sso = live_sso(app)
    assert sso.acr == "2" and sso.amr == ["hwk", "user", "mfa"]
    [used] = audit_events(app, "passkey_used")
    assert used.detail["amr"] == ["hwk", "user", "mfa"]
    assert audit_events(app, "login")[-1].detail["acr"] == "2"
    assert passkeys_of(app)[0].last_used_at is not None


def test_passkey_sign_in_resumes_the_client_with_acr_and_amr_in_the_id_token(
        app, client, with_passkey):
    flow = Browser(client)
    resp = flow.authorize()
    assert "/login" in resp.headers["Location"]
    signed = passkey_sign_in(client, with_passkey)
    resp = flow.follow(client.get(signed.json["redirect"]))
    assert resp.headers["Location"].startswith(RP)
    code = parse_qs(urlsplit(resp.headers["Location"]).query)["code"][0]
    tokens = redeem(client, code).json
    _header, claims = verify(client, tokens["id_token"])
    assert claims["acr"] == "2" and claims["amr"] == ["hwk", "user", "mfa"]


def test_a_password_sign_in_stays_acr_1(app, client, runner):
    make_customer(runner)
    flow = Browser(client)
    params = flow.code_flow()
    _header, claims = verify(client, redeem(client, params["code"]).json["id_token"])
    assert claims["acr"] == "1" and claims["amr"] == ["pwd"]


def test_required_actions_still_apply_after_a_passkey(app, client, with_passkey):
    with app.app_context():
        row = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        row.required_actions = ["UPDATE_PASSWORD"]
        db.session.commit()
    resp = passkey_sign_in(client, with_passkey)
    assert resp.json["redirect"].endswith("/login-actions/password")
    assert client.get(HOME).status_code == 302  # not signed in until the action is done


def test_synced_passkey_says_swk(app, client, runner):
    synced = SoftAuthenticator(backup_eligible=True, backed_up=True, counter_step=0)
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    assert add_passkey(client, synced).status_code == 200
    client.delete_cookie("idp_session")
    assert passkey_sign_in(client, synced).status_code == 200
    assert live_sso(app).amr == ["swk", "user", "mfa"]


# --- refusals --------------------------------------------------------------------------------

def test_replayed_assertion_is_refused(app, client, with_passkey):
    options = post_json(client, SIGNIN_OPTIONS).json
    answer = with_passkey.get(options, ORIGIN)
    first = post_json(client, SIGNIN_VERIFY, answer)
    assert first.status_code == 200
    client.delete_cookie("idp_session")
    # The same answer again, on the same sign-in state or on a new one.
    again = post_json(client, SIGNIN_VERIFY, answer)
    assert again.status_code == 400 and again.json["error"] == "challenge_missing"
    post_json(client, SIGNIN_OPTIONS)
    fresh = post_json(client, SIGNIN_VERIFY, answer)
    assert fresh.status_code == 400 and fresh.json["error"] == "invalid_response"
    assert "n'a pas pu être vérifiée" in fresh.json["message"]
    assert client.get(HOME).status_code == 302
    codes = [e.detail["code"] for e in audit_events(app, "passkey_refused")]
    assert codes == ["challenge_missing", "invalid_response"]


def test_replayed_sign_in_state_is_refused_by_the_database_guard(app, client, with_passkey):
    """Two requests carrying the same state (read before either saved): the challenge row
    in ``used_assertion`` lets only one of them through."""
    options = post_json(client, SIGNIN_OPTIONS).json
    snapshot = state_holding(app, options["challenge"])
    answer = with_passkey.get(options, ORIGIN)
    assert post_json(client, SIGNIN_VERIFY, answer).status_code == 200
    # Put the old state back as a concurrent request would have read it: another browser
    # whose sign-in state carries the same challenge.
    other = app.test_client()
    theirs = post_json(other, SIGNIN_OPTIONS).json
    with app.app_context():
        row = db.session.get(Interaction, state_holding(app, theirs["challenge"])[0])
        row.data = snapshot[1]
        db.session.commit()
    second = post_json(other, SIGNIN_VERIFY, with_passkey.get(options, ORIGIN))
    assert second.status_code == 400 and second.json["error"] == "challenge_used"


@pytest.mark.parametrize(("kind", "kw"), [
    ("origin", {"origin": "https://idp.test.evil.example"}),
    ("rp_id", {"rp_id": "evil.example"}),
])
def test_wrong_origin_or_rp_id_is_refused(app, client, with_passkey, kind, kw):
    resp = passkey_sign_in(client, with_passkey, **kw)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_response"
    assert client.get(HOME).status_code == 302
    [refusal] = audit_events(app, "passkey_refused")
    assert refusal.detail["purpose"] == "authentication"
    assert ("origin" if kind == "origin" else "RP ID").lower() in refusal.detail["reason"].lower()
    assert passkeys_of(app)[0].last_used_at is None


def test_registration_with_a_wrong_origin_is_refused(app, client, runner, soft):
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    options = post_json(client, ADD_OPTIONS, page=HOME).json
    resp = post_json(client, ADD_VERIFY, soft.create(options, "https://evil.example"),
                     page=HOME)
    assert resp.status_code == 400 and resp.json["error"] == "invalid_response"
    assert passkeys_of(app) == []


def test_unknown_credential_tells_the_browser_which_one(app, client, with_passkey):
    sign_in(client, "100001", PASSWORD)
    [held] = passkeys_of(app)
    resp = client.post(f"{BASE}/account/passkeys/{held.id}/remove",
                       data={"csrf_token": csrf_from(client.get(HOME).text)})
    assert resp.status_code == 302
    client.delete_cookie("idp_session")
    refused = passkey_sign_in(client, with_passkey)
    assert refused.status_code == 400 and refused.json["error"] == "unknown_credential"
    assert refused.json["credential_id"] == held.credential_id_b64
    assert refused.json["rp_id"] == "idp.test"


def test_json_endpoints_need_the_csrf_header(client, with_passkey):
    resp = client.post(SIGNIN_OPTIONS, json={}, headers={"Accept": "application/json"})
    assert resp.status_code == 400 and "challenge" not in resp.text


def test_account_endpoints_need_a_sign_in(client):
    resp = post_json(client, ADD_OPTIONS)
    assert resp.status_code == 400 and resp.json["error"] == "no_sign_in"


# --- the offer -------------------------------------------------------------------------------

def capable(client) -> None:
    """What passkeys.js says for a browser that can create a passkey."""
    client.set_cookie("passkey_capable", "1")


def test_offered_once_after_a_password_sign_in_and_declining_changes_nothing(
        app, client, runner):
    make_customer(runner)
    capable(client)
    resp = sign_in(client, "100001", PASSWORD)
    assert resp.headers["Location"].endswith(OFFER)
    page = client.get(OFFER)
    assert "Se connecter sans mot de passe avec ce téléphone" in page.text
    button = re.search(r'<button[^>]*data-passkey="register"[^>]*>', page.text)
    assert button and " hidden " in button.group(0)  # revealed by passkeys.js only
    assert client.get(HOME).status_code == 302  # not signed in before the choice
    resp = client.post(OFFER, data={"csrf_token": csrf_from(page.text)})
    assert resp.headers["Location"].endswith(HOME)
    assert client.get(HOME).status_code == 200
    assert passkeys_of(app) == []
    assert len(audit_events(app, "passkey_offered")) == 1
    assert len(audit_events(app, "passkey_offer_declined")) == 1
    # Next sign-in: not offered again.
    other = app.test_client()
    capable(other)
    assert sign_in(other, "100001", PASSWORD).headers["Location"].endswith(HOME)


def test_not_offered_to_a_browser_that_cannot(client, runner):
    make_customer(runner)
    assert sign_in(client, "100001", PASSWORD).headers["Location"].endswith(HOME)
    client.set_cookie("passkey_capable", "0")
    assert sign_in(client, "100001", PASSWORD).headers["Location"].endswith(HOME)


def test_offer_accepted_then_the_client_is_resumed(app, client, runner, soft):
    make_customer(runner)
    capable(client)
    flow = Browser(client)
    flow.authorize()
    assert sign_in(client, "100001", PASSWORD).headers["Location"].endswith(OFFER)
    english = client.get(OFFER + "?ui_locales=en").text
    assert "Sign in without a password with this phone" in english
    options = post_json(client, f"{OFFER}/options", page=OFFER)
    assert options.json["authenticatorSelection"]["residentKey"] == "required"
    assert options.json["attestation"] == "none"
    created = post_json(client, f"{OFFER}/verify", soft.create(options.json, ORIGIN),
                        page=OFFER)
    assert created.status_code == 200, created.text
    resp = flow.follow(client.get(created.json["redirect"]))
    assert resp.headers["Location"].startswith(RP) and "code=" in resp.headers["Location"]
    [made] = passkeys_of(app)
    assert made.name == "Clé d'accès"
    [event] = audit_events(app, "passkey_registered")
    assert event.detail["where"] == "offer"
    # Signed in with a password: the SSO session says so, the passkey is for next time.
    assert live_sso(app).acr == "1"


def test_offered_at_the_end_of_the_premiere_connexion(app, client, runner, smtp, soft):
    make_customer(runner, identifier="100002", password=None, email=None, verified=False,
                  temporary_password="123456")
    capable(client)
    resp = sign_in(client, "100002", "123456")
    assert resp.headers["Location"].endswith("/login-actions/email")
    submit(client, "login-actions/email", {"email": "jean@example.test"})
    resp = post(client, link_in(smtp.wait_for("jean@example.test")))
    assert resp.headers["Location"].endswith("/login-actions/password")
    resp = submit(client, "login-actions/password",
                  {"password": "Nouveau-2026!", "confirm": "Nouveau-2026!"})
    assert resp.headers["Location"].endswith(OFFER)
    options = post_json(client, f"{OFFER}/options", page=OFFER).json
    created = post_json(client, f"{OFFER}/verify", soft.create(options, ORIGIN), page=OFFER)
    assert created.json["redirect"].endswith(HOME)
    assert "100002" in client.get(HOME).text
    assert len(passkeys_of(app, "100002")) == 1
    # Signed out, the passkey alone signs in.
    client.delete_cookie("idp_session")
    assert passkey_sign_in(client, soft).json["redirect"].endswith(HOME)
    assert live_sso(app, "100002").acr == "2"


def test_not_offered_after_a_passkey_sign_in(client, with_passkey, app):
    capable(client)
    assert passkey_sign_in(client, with_passkey).json["redirect"].endswith(HOME)
    assert audit_events(app, "passkey_offered") == []


# --- Mon compte ------------------------------------------------------------------------------

def test_mon_compte_lists_renames_and_removes(app, client, runner, soft):
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    home = client.get(HOME).text
    assert "Clés d&#39;accès" in home or "Clés d'accès" in home
    assert 'id="no-passkeys"' in home and 'data-passkey="register"' in home
    created = add_passkey(client, soft)
    assert created.json["redirect"].endswith(HOME)
    home = client.get(HOME).text
    assert "Clé d&#39;accès créée" in home or "Clé d'accès créée" in home
    assert "jamais utilisée" in home and "Créée le" in home
    [made] = passkeys_of(app)
    token = csrf_from(home)
    resp = client.post(f"{BASE}/account/passkeys/{made.id}/rename",
                       data={"csrf_token": token, "name": "  Téléphone de Marie "})
    assert resp.status_code == 302
    assert passkeys_of(app)[0].name == "Téléphone de Marie"
    bad = client.post(f"{BASE}/account/passkeys/{made.id}/rename",
                      data={"csrf_token": token, "name": "x" * 65})
    assert bad.status_code == 302
    assert "de 1 à 64 caractères" in client.get(HOME).text
    resp = client.post(f"{BASE}/account/passkeys/{made.id}/remove", data={"csrf_token": token})
    assert resp.status_code == 302
    assert passkeys_of(app) == []
    assert "a été supprimée" in client.get(HOME).text
    assert [len(audit_events(app, e)) for e in
            ("passkey_registered", "passkey_renamed", "passkey_removed")] == [1, 1, 1]


def test_someone_elses_passkey_cannot_be_renamed_or_removed(app, client, runner, with_passkey):
    [theirs] = passkeys_of(app)
    make_customer(runner, identifier="100009", email="other@example.test")
    sign_in(client, "100009", PASSWORD)
    token = csrf_from(client.get(HOME).text)
    client.post(f"{BASE}/account/passkeys/{theirs.id}/remove", data={"csrf_token": token})
    client.post(f"{BASE}/account/passkeys/{theirs.id}/rename",
                data={"csrf_token": token, "name": "À moi"})
    assert [p.name for p in passkeys_of(app)] == [theirs.name]


def test_the_last_way_in_cannot_be_removed(app, client, with_passkey):
    with app.app_context():
        row = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        row.password_hash = None
        db.session.commit()
    assert passkey_sign_in(client, with_passkey).status_code == 200
    home = client.get(HOME).text
    assert "seul moyen de connexion" in home and "passkey-remove" not in home
    [only] = passkeys_of(app)
    resp = client.post(f"{BASE}/account/passkeys/{only.id}/remove",
                       data={"csrf_token": csrf_from(home)})
    assert resp.status_code == 302
    assert len(passkeys_of(app)) == 1
    assert "Vous ne pouvez pas supprimer votre seul moyen de connexion." in client.get(HOME).text
    assert audit_events(app, "passkey_remove_refused")[0].detail["code"] == "last_way_in"
    assert customer_row(app, "100001").password_hash is None


def test_expired_guards_are_deleted_and_client_assertions_kept(app, client, with_passkey):
    from datetime import timedelta

    from idp.core.models import UsedAssertion, utcnow

    past = utcnow() - timedelta(minutes=1)
    with app.app_context():
        db.session.add_all([UsedAssertion(key="passkey:" + "0" * 64, expires_at=past),
                            UsedAssertion(key="https://client.example:jti-1", expires_at=past)])
        db.session.commit()
    assert passkey_sign_in(client, with_passkey).status_code == 200
    with app.app_context():
        keys = set(db.session.execute(db.select(UsedAssertion.key)).scalars())
    assert "passkey:" + "0" * 64 not in keys and "https://client.example:jti-1" in keys
    assert sum(k.startswith("passkey:") for k in keys) == 2  # registration + this sign-in
