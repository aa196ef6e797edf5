"""Social sign-in through the real fake providers (processes) and the Flask test client:
start → provider (auto switches) → our callback → link page / straight in / failure pages."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from idp.core import linking
from idp.core.models import Customer, FederatedIdentity
from idp.extensions import db
from tests.fakes.run import identity_provider_settings
from tests.support.realms import import_realm

from .conftest import REALM, RP
from .federation_support import (  # noqa: F401  (the *_fixture names are fixtures)
    ALIASES,
    BRANDS,
    PASSWORD,
    Social,
    all_links,
    closed_port_url,
    csrf_from,
    customer_row,
    events,
    fakes_fixture,
    idp_config_fixture,
    links_of,
    make_customer,
    query_of,
    social_app_fixture,
)


@pytest.fixture
def web(social_app):
    return Social(social_app.test_client())


@pytest.fixture
def marie(runner, social_app):
    return make_customer(runner, identifier="100001", email="marie@example.test",
                         given_name="Marie", family_name="Dupont")


def new_browser(app) -> Social:
    return Social(app.test_client())


def to_rp(resp) -> str:
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    assert location.startswith(RP + "?"), location
    return location


def test_login_page_shows_the_four_brands_in_seed_order(web):
    page = web.get(f"/realms/{REALM}/login")
    labels = re.findall(r'<a class="button social-(\w+)" id="social-\w+" href="([^"]+)"[^>]*>'
                        r"([^<]+)</a>", page.text)
    assert [(a, label) for a, _h, label in labels] == [
        ("facebook", "Facebook"), ("linkedin", "LinkedIn"), ("google", "Google"),
        ("x", "X")]
    for alias, href, _label in labels:
        assert href == f"/realms/{REALM}/broker/{alias}/login"


def test_disabled_provider_has_no_button_and_404(web, social_app, fakes):
    entry = {**identity_provider_settings("linkedin", fakes["linkedin"]), "enabled": False}
    with social_app.app_context():
        import_realm({"realm": REALM, "identity_providers": [entry]})
    page = web.get(f"/realms/{REALM}/login")
    assert "social-linkedin" not in page.text and "social-google" in page.text
    assert web.get(f"/realms/{REALM}/broker/linkedin/login").status_code == 404
    assert web.get(f"/realms/{REALM}/broker/github/login").status_code == 404
    assert web.get(f"/realms/{REALM}/broker/linkedin/endpoint?state=x").status_code == 404


@pytest.mark.parametrize("alias", ALIASES)
def test_first_sign_in_links_after_password_then_straight_in(alias, web, marie,
                                                             social_app):
    assert web.authorize().status_code == 302
    with social_app.app_context():
        customers_before = db.session.query(Customer).count()

    resp = web.social(alias)
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith(f"/realms/{REALM}/broker/{alias}/link")
    page = web.get(resp.headers["Location"])
    assert page.status_code == 200
    assert f"Associer votre compte {BRANDS[alias]} à votre espace client" in page.text
    assert 'id="first-login"' in page.text and 'id="back-to-app"' in page.text
    with social_app.app_context():
        assert all_links() == []  # nothing linked before the identifier is proven
        assert db.session.query(Customer).count() == customers_before  # nobody created

    final = web.follow(web.link_with_password(alias, marie))
    claims = web.id_token_claims(to_rp(final))
    assert set(claims["amr"]) == {"pwd", "fed"}
    assert claims["idp"] == alias
    with social_app.app_context():
        rows = links_of(marie)
        assert [(r.provider, r.email) for r in rows] == [
            (alias, "alice.martin@example.com")]
        linked = events("federated_identity_linked")
        assert len(linked) == 1 and linked[0].detail["provider"] == alias
        assert linked[0].customer_id == customer_row(marie).id

    # Another browser, later: the same social account goes straight in.
    other = new_browser(social_app)
    assert other.authorize(state="st2").status_code == 302
    final = other.follow(other.social(alias))
    rp = to_rp(final)
    assert query_of(rp)["state"] == "st2"
    claims = other.id_token_claims(rp)
    assert claims["amr"] == ["fed"]
    assert claims["idp"] == alias
    with social_app.app_context():
        assert claims["sub"] == customer_row(marie).sub
        assert len(events("federated_identity_linked")) == 1


def test_second_sign_in_drains_pending_required_actions(web, marie, social_app):
    web.authorize()
    web.social("google")
    web.follow(web.link_with_password("google", marie))
    with social_app.app_context():
        customer = customer_row(marie)
        customer.required_actions = ["UPDATE_PASSWORD"]
        db.session.commit()
    other = new_browser(social_app)
    other.authorize()
    resp = other.social("google")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/login-actions/password")


def test_email_match_alone_never_links_nor_signs_in(web, runner, social_app):
    make_customer(runner, identifier="200002", email="alice.martin@example.com")
    web.authorize()
    resp = web.social("google")  # Google says alice.martin@example.com is verified
    assert resp.headers["Location"].endswith("/broker/google/link")
    with social_app.app_context():
        assert all_links() == []
    # No SSO session: the client gets no code without the password.
    assert "/login" in web.authorize().headers["Location"]


def test_wrong_password_on_link_page_links_nothing(web, marie, social_app):
    web.authorize()
    web.social("facebook")
    resp = web.link_with_password("facebook", marie, "Wrong-password-1!")
    assert resp.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in resp.text
    assert "Associer votre compte Facebook" in resp.text  # still on the link page
    with social_app.app_context():
        assert all_links() == []
        assert events("login_failed")


def test_no_email_from_provider_still_links_after_password(web, marie, social_app):
    web.authorize()
    resp = web.social("x", user="chloe")
    assert resp.headers["Location"].endswith("/broker/x/link")
    final = web.follow(web.link_with_password("x", marie))
    to_rp(final)
    with social_app.app_context():
        rows = links_of(marie)
        assert [(r.provider, r.email) for r in rows] == [("x", None)]


def test_premiere_connexion_from_link_page_links_at_the_end(web, runner, social_app):
    make_customer(runner, identifier="300003", password=None, email="paul@example.test",
                  temporary_password="482913")
    web.authorize()
    web.social("linkedin", user="bruno")
    page = web.get(f"/realms/{REALM}/login?first=1&link=linkedin")  # the link page's button
    assert 'name="link" value="linkedin"' in page.text
    resp = web.post(f"/realms/{REALM}/login",
                        data={"login": "300003", "password": "482913", "first": "1",
                              "link": "linkedin", "csrf_token": csrf_from(page.text)})
    resp = web.follow(resp)
    assert resp.status_code == 200 and 'name="confirm"' in resp.text  # new password page
    with social_app.app_context():
        assert all_links() == []  # not before the première connexion is complete
    new = "Nouveau-Mot2passe!"
    resp = web.post(urlsplit(resp.request.url).path,
                        data={"password": new, "confirm": new,
                              "csrf_token": csrf_from(resp.text)})
    final = web.follow(resp)
    claims = web.id_token_claims(to_rp(final))
    assert "pwd" in claims["amr"] and "fed" in claims["amr"] and claims["idp"] == "linkedin"
    with social_app.app_context():
        assert [r.provider for r in links_of("300003")] == ["linkedin"]


def test_pending_link_is_dropped_on_the_plain_sign_in_page(web, runner, social_app):
    """Security: an unknown social identity left pending in a shared browser used to be
    linked to the next customer who signed in there within 15 minutes."""
    make_customer(runner, identifier="300004", password="Bonjour-2026!",
                  email="lea@example.test")
    web.authorize()
    web.social("linkedin", user="bruno")  # someone leaves the link page here
    page = web.get(f"/realms/{REALM}/login")  # the next customer opens the sign-in page
    assert 'name="link"' not in page.text
    resp = web.post(f"/realms/{REALM}/login",
                    data={"login": "300004", "password": "Bonjour-2026!",
                          "csrf_token": csrf_from(page.text)})
    final = web.follow(resp)
    claims = web.id_token_claims(to_rp(final))
    assert claims["amr"] == ["pwd"] and "idp" not in claims
    with social_app.app_context():
        assert links_of("300004") == []


@pytest.mark.parametrize("alias", ALIASES)
def test_cancel_at_each_provider(alias, web, social_app):
    assert web.authorize().status_code == 302
    resp = web.social(alias, auto="cancel")
    assert resp.status_code == 200
    assert f"Connexion avec {BRANDS[alias]} annulée" in resp.text
    assert 'id="back-to-login"' in resp.text and 'id="back-to-app"' in resp.text
    with social_app.app_context():
        failure = events("federation_failure")
        assert [(e.detail["provider"], e.detail["reason"]) for e in failure] == [
            (alias, "cancelled")]
        assert all_links() == []
    # "Retour à l'application": the client gets access_denied with its state.
    back = web.post(f"/realms/{REALM}/login/cancel",
                        data={"csrf_token": csrf_from(resp.text)})
    assert query_of(to_rp(back)) == {"error": "access_denied",
                                     "error_description": "Sign-in cancelled", "state": "st",
                                     **({"iss": query_of(back.headers["Location"])["iss"]}
                                        if "iss" in query_of(back.headers["Location"]) else {})}


def test_cancel_without_client_offers_the_sign_in_only(web):
    resp = web.social("google", auto="cancel")
    assert resp.status_code == 200
    assert 'id="back-to-login"' in resp.text and 'id="back-to-app"' not in resp.text


@pytest.mark.parametrize("mutate", ["missing", "wrong"])
def test_bad_or_missing_state(mutate, web, marie, social_app):
    location = web.at_provider(web.start("google"))
    if mutate == "missing":
        location = re.sub(r"([?&])state=[^&]*&?", r"\1", location)
    else:
        location = re.sub(r"state=[^&]*", "state=forged", location)
    resp = web.callback(location)
    assert resp.status_code == 400
    assert "Cette tentative de connexion n'est plus valable" in resp.text
    with social_app.app_context():
        assert events("federation_failure")[-1].detail["reason"] == "bad_state"
        assert all_links() == []


def test_callback_without_any_sign_in_started(web):
    resp = web.get(f"/realms/{REALM}/broker/google/endpoint?state=abc&code=def")
    assert resp.status_code == 400
    assert 'data-reason="bad_state"' in resp.text


def test_replayed_callback_is_refused(web, marie, social_app):
    web.authorize()
    web.social("google")
    web.follow(web.link_with_password("google", marie))
    # Sign in again, keep the callback URL and play it twice.
    other = new_browser(social_app)
    other.authorize()
    location = other.at_provider(other.start("google"))
    first = other.callback(location)
    assert first.status_code == 302
    replay = other.callback(location)
    assert replay.status_code == 400 and 'data-reason="bad_state"' in replay.text
    with social_app.app_context():
        assert events("federation_failure")[-1].detail["reason"] == "bad_state"
        assert len(all_links()) == 1


def test_callback_of_another_provider_is_bad_state(web):
    url = web.start("google")
    web.start("x")  # a second attempt replaces the first
    resp = web.callback(web.at_provider(url))
    assert resp.status_code == 400 and 'data-reason="bad_state"' in resp.text


def test_provider_down_at_token_step_gives_timeout_page(web, social_app, fakes):
    entry = identity_provider_settings("x", fakes["x"])
    entry["token_url"] = closed_port_url() + "/2/oauth2/token"
    with social_app.app_context():
        import_realm({"realm": REALM, "identity_providers": [entry]})
    web.authorize()
    resp = web.social("x")
    assert resp.status_code == 504
    assert "X ne répond pas" in resp.text
    assert 'id="back-to-app"' in resp.text
    with social_app.app_context():
        failure = events("federation_failure")[-1]
        assert failure.detail["reason"] == "timeout"
        assert "secret" not in str(failure.detail).lower()


def test_provider_down_at_start_gives_timeout_page(web, social_app):
    entry = identity_provider_settings("google", closed_port_url())
    with social_app.app_context():
        import_realm({"realm": REALM, "identity_providers": [entry]})
    resp = web.get(f"/realms/{REALM}/broker/google/login")
    assert resp.status_code == 504 and "Google ne répond pas" in resp.text
    with social_app.app_context():
        assert events("federation_failure")[-1].detail["reason"] == "timeout"


def test_identity_linked_to_another_customer_meanwhile(web, marie, runner, social_app):
    make_customer(runner, identifier="200002", email="other@example.test")
    web.authorize()
    web.social("google")  # alice, unknown: link page
    # Meanwhile another browser links the same Google account to customer 200002.
    other = new_browser(social_app)
    other.social("google")
    other.follow(other.link_with_password("google", "200002"))
    with social_app.app_context():
        assert [r.provider for r in links_of("200002")] == ["google"]
    # Back in the first browser: proving 100001 must not steal the identity.
    page = web.get(f"/realms/{REALM}/broker/google/link")
    assert page.status_code == 409
    assert "déjà associé à un autre espace client" in page.text
    with social_app.app_context():
        assert links_of(marie) == []
        assert events("federated_link_refused")[-1].detail["reason"] == "other_customer"


def test_identity_linked_to_another_customer_at_password_post(web, marie, runner,
                                                              social_app):
    make_customer(runner, identifier="200002", email="other@example.test")
    web.authorize()
    web.social("google")
    page = web.get(f"/realms/{REALM}/broker/google/link")
    other = new_browser(social_app)
    other.social("google")
    other.follow(other.link_with_password("google", "200002"))
    resp = web.post(f"/realms/{REALM}/broker/google/link",
                        data={"login": marie, "password": PASSWORD,
                              "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 409 and 'data-reason="other_customer"' in resp.text
    with social_app.app_context():
        assert links_of(marie) == []
        assert [r.provider for r in links_of("200002")] == ["google"]


def test_hook_refuses_identity_linked_elsewhere_during_the_flow(web, marie, runner,
                                                                social_app):
    """The race the pages cannot see: linked to someone else while the customer was
    signing in through the sign-in form opened from the link page (première connexion)."""
    make_customer(runner, identifier="200002", email="other@example.test")
    web.authorize()
    web.social("google")
    other = new_browser(social_app)
    other.social("google")
    other.follow(other.link_with_password("google", "200002"))
    final = web.follow(web.password_login(marie, link="google"))
    claims = web.id_token_claims(to_rp(final))
    assert claims["amr"] == ["pwd"] and "idp" not in claims
    with social_app.app_context():
        assert links_of(marie) == []
        assert events("federated_link_refused")[-1].detail["reason"] == "other_customer"
    page = web.get(f"/realms/{REALM}/account/social")
    assert "déjà associé à un autre espace client" in page.text


def test_provider_already_linked_with_another_account(web, marie, social_app):
    web.social("google")
    web.follow(web.link_with_password("google", marie))
    other = new_browser(social_app)
    other.social("google", user="bruno")
    page = other.get(f"/realms/{REALM}/broker/google/link")
    resp = other.post(f"/realms/{REALM}/broker/google/link",
                      data={"login": marie, "password": PASSWORD,
                            "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 409 and 'data-reason="provider_taken"' in resp.text
    with social_app.app_context():
        assert len(links_of(marie)) == 1


def test_expired_pending_link_is_not_linked(web, marie, social_app, monkeypatch):
    web.authorize()
    web.social("facebook")
    monkeypatch.setattr(linking, "LINK_MAX_AGE", -1)
    assert web.get(f"/realms/{REALM}/broker/facebook/link").status_code == 302
    final = web.follow(web.password_login(marie))
    assert web.id_token_claims(to_rp(final))["amr"] == ["pwd"]
    with social_app.app_context():
        assert all_links() == []


def test_do_not_link_button_forgets_the_identity(web, marie, social_app):
    web.authorize()
    web.social("google")
    page = web.get(f"/realms/{REALM}/broker/google/link")
    resp = web.post(f"/realms/{REALM}/broker/link/cancel",
                        data={"csrf_token": csrf_from(page.text)})
    assert resp.headers["Location"].endswith(f"/realms/{REALM}/login")
    final = web.follow(web.password_login(marie))
    to_rp(final)
    with social_app.app_context():
        assert all_links() == []


def test_disabled_customer_cannot_sign_in_with_linked_provider(web, marie, social_app):
    web.social("google")
    web.follow(web.link_with_password("google", marie))
    with social_app.app_context():
        customer_row(marie).enabled = False
        db.session.commit()
    other = new_browser(social_app)
    other.authorize()
    resp = other.social("google")
    assert resp.status_code == 403 and 'data-reason="disabled"' in resp.text
    with social_app.app_context():
        assert db.session.query(FederatedIdentity).count() == 1


def test_pages_in_english(web, marie):
    en = {"headers": {"Accept-Language": "en"}}
    url = web.at_provider(web.start("google"), auto="cancel")
    resp = web.get(url, **en)
    assert "Sign-in with Google cancelled" in resp.text and "Back to sign-in" in resp.text
    resp = web.get(web.at_provider(web.start("x")), **en)
    page = web.get(resp.headers["Location"], **en)
    assert "Link your X account to your customer space" in page.text
    assert "First sign-in" in page.text
    login = web.get(f"/realms/{REALM}/login", **en)
    assert 'aria-label="Sign in with Facebook"' in login.text
