"""Issue 9 on the idp: each test says what the code did before its fix (items 1, 2, 4, 5,
7, 9, 10); they run on SQLite and, with TEST_DATABASE_URL, on PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import bcrypt
import pytest
from argon2 import PasswordHasher

from idp import create_app
from idp.core import credentials, journey, links
from idp.core.models import ActionToken, Interaction, OutboxMail, utcnow
from idp.core.realms import find_realm
from idp.extensions import db
from tests.idp.oidc_helpers import INTROSPECT, USERINFO, basic, redeem
from tests.support.realms import import_realm

from .conftest import PASSWORD, REALM, RP_SECRET, csrf_from, customer_of, events, login

CODE = "735190"


def _temporary(runner, identifier: str, code: str = CODE) -> None:
    from tests.idp.conftest import make_customer

    make_customer(runner, identifier=identifier, password=None, email=None, verified=False)
    result = runner.invoke(args=["customers", "set-temporary-password", "--realm", REALM,
                                 "--identifier", identifier, "--code", code])
    assert result.exit_code == 0, result.output


def _steal(app, victim) -> object:
    thief = app.test_client()
    thief.set_cookie("idp_session", victim.get_cookie("idp_session").value)
    return thief


# --- 1. sign-in state server-side -----------------------------------------------------------

def test_stolen_half_finished_sign_in_dies_when_the_agency_issues_a_new_code(app, client,
                                                                              runner):
    """Before: the half-finished sign-in lived 31 days in the signed cookie; whoever copied
    it after a stolen temporary code could, once the agency sent a new letter, still set
    a password without knowing the new code. Now the state is server-side and bound to the
    credential version: the new code kills it in every browser."""
    _temporary(runner, "400001")
    step = login(client, "400001", CODE)
    assert step.status_code == 302 and "/login-actions/" in step.headers["Location"]
    thief = _steal(app, client)
    assert thief.get(step.headers["Location"]).status_code == 200  # the copy works, for now
    runner.invoke(args=["customers", "set-temporary-password", "--realm", REALM,
                        "--identifier", "400001", "--code", "111222"])
    again = thief.get(step.headers["Location"])
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/{REALM}/login")
    page = thief.get(f"/realms/{REALM}/login")
    thief.post(f"/realms/{REALM}/login-actions/password", data={
        "password": "Nouveau-2026!x", "confirm": "Nouveau-2026!x",
        "csrf_token": csrf_from(page.text)})
    with app.app_context():
        assert customer_of("400001").password_hash is None


def test_half_finished_sign_in_dies_with_a_password_reset(app, client, runner):
    """Before: a reset cleared the half-finished sign-in only in the browser doing the
    reset; a copied cookie still completed the sign-in. Now the reset ends it everywhere."""
    _temporary(runner, "400002")
    step = login(client, "400002", CODE)
    thief = _steal(app, client)
    with app.app_context():
        customer = customer_of("400002")
        customer.set_email("c400002@example.test", verified=True)
        realm = find_realm(REALM)
        raw = links.issue(customer, links.RESET_PASSWORD, customer.email, realm.settings)
        db.session.commit()
        found = links.lookup(raw, realm.id)
        assert journey.reset_password(app.extensions["idp.settings"], realm, found.token,
                                      found.customer, "Reset-2026!xyz")
        assert db.session.query(Interaction).filter_by(customer_id=customer.id).count() == 0
    assert thief.get(step.headers["Location"]).status_code == 302


def test_ui_locales_does_not_extend_the_sign_in_state(app, client, runner):
    """Before: ``?ui_locales=`` re-signed the cookie, so a half-finished sign-in never
    expired. Now the row's ``expires_at`` is fixed at its start, whatever the requests."""
    _temporary(runner, "400003")
    step = login(client, "400003", CODE)
    with app.app_context():
        row = db.session.query(Interaction).one()
        expires = row.expires_at
    for _ in range(3):
        client.get(step.headers["Location"] + "?ui_locales=en")
        client.get(f"/realms/{REALM}/login?ui_locales=fr")
    with app.app_context():
        row = db.session.query(Interaction).one()
        assert row.expires_at == expires
        row.expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    late = client.get(step.headers["Location"] + "?ui_locales=en")
    assert late.status_code == 302 and late.headers["Location"].endswith(f"/{REALM}/login")


# --- 2. change-email links ----------------------------------------------------------------

def _change_link(app, identifier: str, to: str = "new@example.test") -> str:
    with app.app_context():
        customer = customer_of(identifier)
        raw = links.issue(customer, links.CHANGE_EMAIL, to, find_realm(REALM).settings)
        db.session.commit()
        return raw


def _renew(client, raw: str):
    page = client.get(f"/realms/{REALM}/login")
    return client.post(f"/realms/{REALM}/action/{raw}/renew",
                       data={"csrf_token": csrf_from(page.text)})


@pytest.mark.parametrize("how", ["expired", "used", "superseded"])
def test_change_email_link_is_never_renewed(app, client, customer, how):
    """Before: a used, expired or superseded CHANGE_EMAIL link renewed itself to the
    address it was sent to, forever: the owner of a mistyped address (or a former
    attacker) confirmed it, then reset the password. Now nothing is sent."""
    raw = _change_link(app, customer)
    with app.app_context():
        row = db.session.get(ActionToken, links.digest(raw))
        if how == "expired":
            row.expires_at = utcnow() - timedelta(seconds=1)
        elif how == "used":
            row.used_at = utcnow()
        else:
            row.superseded_at = utcnow()
        db.session.commit()
    resp = _renew(client, raw)
    assert resp.status_code == 400
    with app.app_context():
        assert db.session.query(ActionToken).filter_by(kind=links.CHANGE_EMAIL).count() == 1
        assert db.session.query(OutboxMail).filter_by(template=links.CHANGE_EMAIL).count() == 0


def test_change_email_link_dies_on_use(app, client, customer):
    raw = _change_link(app, customer)
    page = client.get(f"/realms/{REALM}/action/{raw}")
    assert page.status_code == 200
    assert client.post(f"/realms/{REALM}/action/{raw}",
                       data={"csrf_token": csrf_from(page.text)}).status_code == 200
    again = client.post(f"/realms/{REALM}/action/{raw}",
                        data={"csrf_token": csrf_from(page.text)})
    assert again.status_code == 410


def test_change_email_link_dies_on_password_change_and_on_reset(app, client, customer):
    """A pending change of address ends when the password changes (Mon compte) or is
    reset: whoever asked for it may not be the customer any more."""
    raw = _change_link(app, customer)
    assert login(client, customer).status_code == 302
    page = client.get(f"/realms/{REALM}/account/password")
    client.post(f"/realms/{REALM}/account/password", data={
        "current_password": PASSWORD, "password": "Change-2026!ab",
        "confirm": "Change-2026!ab", "csrf_token": csrf_from(page.text)})
    with app.app_context():
        assert links.lookup(raw, find_realm(REALM).id).status == "superseded"
    second = _change_link(app, customer, "other@example.test")
    with app.app_context():
        c = customer_of(customer)
        realm = find_realm(REALM)
        reset = links.issue(c, links.RESET_PASSWORD, c.email, realm.settings)
        db.session.commit()
        found = links.lookup(reset, realm.id)
        journey.reset_password(app.extensions["idp.settings"], realm, found.token, c,
                               "Reset-2026!abc")
        assert links.lookup(second, realm.id).status == "superseded"


def test_reset_mail_only_to_a_verified_address(app, runner):
    """Before: the reset mail went to an unverified address (whoever typed it at the
    first sign-in received the reset). Now: refused and audited."""
    from tests.idp.conftest import make_customer

    make_customer(runner, identifier="400010", email="unverified@example.test",
                  verified=False)
    with app.app_context():
        queued = journey.request_reset(app.extensions["idp.settings"], find_realm(REALM),
                                       "400010")
        assert queued == []
        assert events("reset_refused")[-1].detail["reason"] == "no_verified_email"


# --- 5. claims bounded by the granted scope --------------------------------------------------

def test_claims_parameter_cannot_exceed_the_granted_scope(flow, customer, client):
    """Before: a client granted only ``openid`` asked ``claims={"userinfo": {"email":
    null, "phone_number": null, "customer_id": null}}`` and got them all."""
    claims = {"userinfo": {"email": None, "phone_number": None, "customer_id": None},
              "id_token": {"email": None, "customer_id": None}}
    q = flow.code_flow(scope="openid", claims=json.dumps(claims))
    tokens = redeem(client, q["code"]).json
    info = client.get(USERINFO, headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert set(info.json) == {"sub"}
    from tests.idp.oidc_helpers import verify

    _h, id_claims = verify(client, tokens["id_token"])
    assert "email" not in id_claims and "customer_id" not in id_claims


# --- 7. introspection -------------------------------------------------------------------------

def _tokens(flow, client):
    q = flow.code_flow(scope="openid offline_access")
    return redeem(client, q["code"]).json


def test_introspection_by_another_client_says_inactive(flow, customer, client):
    """Before: any confidential client of the realm learned everything about any token
    (``check_permission`` always true). Now only the token's client (or a registered
    audience): another client gets ``active: false``."""
    tokens = _tokens(flow, client)
    other = client.post(INTROSPECT, data={"token": tokens["access_token"],
                                          "client_id": "post", "client_secret": RP_SECRET})
    assert other.status_code == 200 and other.json == {"active": False}
    own = client.post(INTROSPECT, data={"token": tokens["access_token"]}, headers=basic())
    assert own.json["active"] is True and own.json["aud"] == "rp"


def test_introspection_is_realm_scoped(app, flow, customer, client):
    """Before: refresh tokens were looked up without a realm filter: a client of another
    realm introspected this realm's refresh tokens."""
    tokens = _tokens(flow, client)
    with app.app_context():
        import_realm({"realm": "autre", "clients": [
            {"client_id": "rp", "client_secret": RP_SECRET,
             "redirect_uris": ["https://rp.example/cb"], "first_party": True}]})
    for token in (tokens["refresh_token"], tokens["access_token"]):
        resp = client.post("/realms/autre/protocol/openid-connect/token/introspect",
                           data={"token": token}, headers=basic())
        assert resp.json == {"active": False}


def test_introspection_honours_token_type_hint(flow, customer, client, monkeypatch):
    """Before: ``token_type_hint`` was ignored. Now it decides which lookup runs first."""
    from idp.oidc import token_lookup

    tokens = _tokens(flow, client)
    order: list[str] = []
    real_access, real_refresh = token_lookup._access, token_lookup._refresh
    monkeypatch.setattr(token_lookup, "_access",
                        lambda *a: order.append("access") or real_access(*a))
    monkeypatch.setattr(token_lookup, "_refresh",
                        lambda *a: order.append("refresh") or real_refresh(*a))
    resp = client.post(INTROSPECT, headers=basic(), data={
        "token": tokens["access_token"], "token_type_hint": "access_token"})
    assert resp.json["active"] and order == ["access"]
    order.clear()
    resp = client.post(INTROSPECT, headers=basic(), data={
        "token": tokens["refresh_token"], "token_type_hint": "refresh_token"})
    assert resp.json["token_type"] == "refresh_token" and order == ["refresh"]


# --- 9. one cost per check ----------------------------------------------------------------------

class HashCounter:
    """Counts argon2 verifications and legacy-sized hashes (bcrypt, PBKDF2)."""

    def __init__(self, monkeypatch) -> None:
        self.argon2 = self.legacy = 0
        real_verify, real_checkpw = PasswordHasher.verify, bcrypt.checkpw
        real_pbkdf2 = hashlib.pbkdf2_hmac

        def verify(hasher, *a, **k):
            self.argon2 += 1
            return real_verify(hasher, *a, **k)

        def checkpw(*a, **k):
            self.legacy += 1
            return real_checkpw(*a, **k)

        def pbkdf2(*a, **k):
            self.legacy += 1
            return real_pbkdf2(*a, **k)

        monkeypatch.setattr(PasswordHasher, "verify", verify)
        monkeypatch.setattr(credentials.bcrypt, "checkpw", checkpw)
        monkeypatch.setattr(credentials.hashlib, "pbkdf2_hmac", pbkdf2)

    def take(self) -> tuple[int, int]:
        counts, self.argon2, self.legacy = (self.argon2, self.legacy), 0, 0
        return counts


def test_every_credential_check_costs_the_same_hashes(app, runner, monkeypatch):
    """Before: sign-in by an email shared by 3 accounts ran 3 argon2 checks (1 for an
    unknown address); a legacy bcrypt/PBKDF2 account cost argon2 + legacy, others argon2
    only: both told by timing which accounts exist and which are not migrated. Now, while
    the realm still holds legacy hashes, every check costs exactly one argon2 and one
    legacy-sized hash; once none remain, exactly one argon2."""
    from tests.idp.conftest import make_customer

    for ident in ("500001", "500002", "500003"):
        make_customer(runner, identifier=ident, email="shared@example.test")
    make_customer(runner, identifier="500004", email="solo@example.test")
    _temporary(runner, "500005")
    cfg = app.extensions["idp.settings"]
    with app.app_context():
        realm = find_realm(REALM)
        counter = HashCounter(monkeypatch)
        checks = {
            "unknown id": ("999999", "x"), "unknown email": ("nobody@example.test", "x"),
            "shared email": ("shared@example.test", "x"), "one email": ("solo@example.test", "x"),
            "argon2": ("500004", "x"), "temporary": ("500005", "000000"),
        }
        for name, (who, pw) in checks.items():
            credentials.authenticate(cfg, realm, who, pw)
            assert counter.take() == (1, 0), name
        legacy = {"500006": bcrypt.hashpw(b"Legacy-1!", bcrypt.gensalt(4)).decode(),
                  "500007": "pbkdf2_sha256$1000$salt$" + "A" * 44}
    for ident in legacy:
        make_customer(runner, identifier=ident, password=None, email=None, verified=False)
    with app.app_context():
        for ident, stored in legacy.items():
            row = customer_of(ident)
            row.legacy_hash, row.temporary_code_hash = stored, None
        db.session.commit()
        from idp.core.cache import invalidate

        invalidate("legacy_present")
        counter.take()
        for name, (who, pw) in {**checks, "bcrypt": ("500006", "x"),
                                "pbkdf2": ("500007", "x")}.items():
            credentials.authenticate(cfg, realm, who, pw)
            assert counter.take() == (1, 1), name
        customer = customer_of("500004")
        customer.locked_until = utcnow() + timedelta(hours=1)
        db.session.commit()
        credentials.authenticate(cfg, realm, "500004", "x")
        assert counter.take() == (1, 1), "locked"


def test_pbkdf2_iterations_from_imports_are_capped():
    """Before: an imported ``pbkdf2_sha256$<huge>$...`` made one check cost minutes."""
    assert credentials.legacy_format("pbkdf2_sha256$999999999$s$x") is None
    assert credentials.legacy_format("pbkdf2_sha256$260000$s$x") == "django"


def test_forgot_password_queues_and_does_not_send_in_the_request(app, customer):
    """Before: the reset mail was sent synchronously when the account existed (a slower
    answer = an account). Now it is queued in the outbox; the request sends nothing."""
    with app.app_context():
        realm = find_realm(REALM)
        queued = journey.request_reset(app.extensions["idp.settings"], realm, customer)
        assert [r.status for r in queued] == ["queued"]
        assert journey.request_reset(app.extensions["idp.settings"], realm, "nobody") == []


# --- 10. smaller ones ---------------------------------------------------------------------------

def test_first_party_defaults_to_false(app, client, customer):
    """Before: a client imported without ``first_party`` skipped consent."""
    from idp.core.clients import find_client

    with app.app_context():
        import_realm({"realm": REALM, "clients": [
            {"client_id": "imported", "client_secret": RP_SECRET,
             "redirect_uris": ["https://imp.example/cb"]}]})
        info = find_client(find_realm(REALM).id, "imported",
                           app.extensions["idp.settings"].client_secret_key)
        assert info.get("first_party") is False


def test_production_refuses_http_public_url(idp_config):
    """Before: IDP_PRODUCTION accepted an http PUBLIC_URL (no Secure cookies, no HSTS)."""
    with pytest.raises(RuntimeError, match="https"):
        create_app({**idp_config, "PRODUCTION": True})


def test_reset_mail_lists_linked_social_accounts(app, customer):
    """Issue 9, item 8: linked accounts survived a reset unnoticed; the reset's notice now
    lists them so the customer can remove one they do not recognise."""
    from idp.core.models import FederatedIdentity

    with app.app_context():
        c = customer_of(customer)
        realm = find_realm(REALM)
        db.session.add(FederatedIdentity(realm_id=realm.id, customer_id=c.id,
                                         provider="google", subject="attacker-sub"))
        raw = links.issue(c, links.RESET_PASSWORD, c.email, realm.settings)
        db.session.commit()
        found = links.lookup(raw, realm.id)
        journey.reset_password(app.extensions["idp.settings"], realm, found.token, c,
                               "Reset-2026!abc")
        notice = db.session.query(OutboxMail).filter_by(template="password_changed").one()
        assert notice.context["linked"] == ["google"]
