"""The forgotten-password reset ends every session and lists the other ways in; Mon
compte's "Mes moyens de connexion" removes each in one click, never the last one."""

from __future__ import annotations

import html
import time

import pytest

from idp.core import linking
from idp.core import passkeys as pk
from idp.core.models import Customer, FederatedIdentity, SsoSession
from idp.extensions import db
from tests.support.soft_authenticator import SoftAuthenticator

from . import journey_helpers as jh
from .conftest import csrf_from, make_customer
from .journey_helpers import audit_events, link_in, parts, post, sign_in, subject, submit
from .test_passkeys_views import BASE, HOME, PASSWORD, add_passkey

smtp = jh.smtp
idp_config = jh.idp_config

WAYS = f"{BASE}/account/ways-in/"
NEW = "Nouveau-2026!x"


def _customer() -> Customer:
    return db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()


@pytest.fixture
def three_ways(app, client, runner):
    """100001: password, a passkey made in Mon compte, Google; the session stays open."""
    make_customer(runner)
    sign_in(client, "100001", PASSWORD)
    assert add_passkey(client, SoftAuthenticator()).status_code == 200
    with app.app_context():
        c = _customer()
        db.session.add(FederatedIdentity(realm_id=c.realm_id, customer_id=c.id,
                                         provider="google", subject="g-1"))
        db.session.commit()
    return client


def test_reset_ends_sessions_and_lists_the_other_ways_in(app, three_ways, smtp):
    other = app.test_client()
    submit(other, "forgot-password", {"login": "100001"})
    link = link_in(smtp.wait_for("marie@example.test"))
    other.get(link)
    resp = post(other, link, {"password": NEW, "confirm": NEW})
    assert resp.status_code == 200
    assert three_ways.get(HOME).status_code == 302  # the open session ended
    mail = smtp.wait_for("marie@example.test", 2)
    assert "modifié" in subject(mail)
    text, html = parts(mail)
    assert "Vos autres moyens de connexion restent actifs :" in text
    assert "- la clé d'accès « Clé d'accès »" in text
    assert "- votre compte Google" in text
    assert "http://idp.test/realms/paris-ile-de-france/account/ways-in" in text
    assert 'href="http://idp.test/realms/paris-ile-de-france/account/ways-in"' in html


def test_one_click_removal_in_mon_compte(app, three_ways):
    page = three_ways.get(WAYS)
    assert page.status_code == 200
    assert 'data-kind="password"' in page.text and 'id="remove-password-' not in page.text
    assert 'id="remove-social-google"' in page.text
    with app.app_context():
        [key] = pk.list_passkeys(_customer())
        key_id = key.id
    assert f'id="remove-passkey-{key_id}"' in page.text
    token = csrf_from(page.text)
    for kind, key in (("social", "google"), ("passkey", str(key_id))):
        resp = three_ways.post(f"{WAYS}{kind}/{key}/remove", data={"csrf_token": token})
        assert resp.status_code == 302 and resp.headers["Location"].endswith(WAYS)
    with app.app_context():
        c = _customer()
        assert linking.identities_of(c) == [] and pk.list_passkeys(c) == []
    assert "Ce moyen de connexion a été supprimé." in three_ways.get(WAYS).text
    assert [e.detail["kind"] for e in audit_events(app, "way_in_removed")] == [
        "social", "passkey"]


def test_the_last_way_in_cannot_be_removed_from_the_page(app, three_ways):
    with app.app_context():
        c = _customer()
        c.password_hash = None
        linking.unlink(c, "google")
        db.session.commit()
        [key] = pk.list_passkeys(c)
        key_id = key.id
    page = three_ways.get(WAYS)
    assert f'id="remove-passkey-{key_id}"' not in page.text
    assert "il ne peut pas être supprimé" in page.text
    resp = three_ways.post(f"{WAYS}passkey/{key_id}/remove",
                           data={"csrf_token": csrf_from(three_ways.get(HOME).text)})
    assert resp.status_code == 302
    assert "Vous ne pouvez pas supprimer votre seul moyen de connexion." in (
        three_ways.get(WAYS).text)
    with app.app_context():
        assert len(pk.list_passkeys(_customer())) == 1
    [refused] = audit_events(app, "way_in_remove_refused")
    assert refused.detail["code"] == "last_way_in"


def test_someone_elses_passkey_is_not_found(app, three_ways, runner):
    make_customer(runner, identifier="100002", email="jean@example.test")
    thief = app.test_client()
    sign_in(thief, "100002", PASSWORD)
    with app.app_context():
        [key] = pk.list_passkeys(_customer())
        key_id = key.id
    resp = thief.post(f"{WAYS}passkey/{key_id}/remove",
                      data={"csrf_token": csrf_from(thief.get(HOME).text)})
    assert resp.status_code == 302
    assert "Ce moyen de connexion n'existe plus." in html.unescape(thief.get(WAYS).text)
    with app.app_context():
        assert len(pk.list_passkeys(_customer())) == 1


def test_the_page_in_english(app, three_ways):
    page = three_ways.get(WAYS, query_string={"ui_locales": "en"}).text
    assert "My ways to sign in" in page and "Google account" in page
    home = three_ways.get(HOME).text  # the language chosen sticks
    assert 'id="ways-in-link"' in home and "You can sign in 3 ways." in home


def test_removal_needs_a_fresh_proof(app, three_ways):
    """A session whose last proof is older than five minutes (a borrowed browser) lists
    nothing and removes nothing: the page asks for the proof first."""
    token = csrf_from(three_ways.get(WAYS).text)
    with app.app_context():
        for row in db.session.execute(db.select(SsoSession)).scalars():
            row.proved_at = int(time.time()) - 600
        db.session.commit()
    page = three_ways.get(WAYS)
    assert page.status_code == 302 and "/account/confirm" in page.headers["Location"]
    resp = three_ways.post(f"{WAYS}social/google/remove", data={"csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(WAYS)
    with app.app_context():
        assert [i.provider for i in linking.identities_of(_customer())] == ["google"]
    assert audit_events(app, "way_in_removed") == []
