"""Mon compte → comptes de réseaux sociaux: list, link another, unlink (never the last way
in); realm import refuses bad provider entries."""

from __future__ import annotations

import pytest

from idp.extensions import db
from tests.fakes.run import identity_provider_settings
from tests.support.realms import RealmImportError, import_realm

from .conftest import REALM
from .federation_support import (  # noqa: F401  (the *_fixture names are fixtures)
    PASSWORD,
    Social,
    csrf_from,
    customer_row,
    events,
    fakes_fixture,
    idp_config_fixture,
    links_of,
    make_customer,
    social_app_fixture,
)

SOCIAL = f"/realms/{REALM}/account/social"


@pytest.fixture
def web(social_app):
    return Social(social_app.test_client())


@pytest.fixture
def linked(web, runner, social_app):
    """Customer 100001 signed in, with Google (alice) linked."""
    make_customer(runner, identifier="100001", email="marie@example.test")
    web.social("google")
    web.follow(web.link_with_password("google", "100001"))
    with social_app.app_context():
        assert [r.provider for r in links_of("100001")] == ["google"]
    return "100001"


def post_form(web, path: str, page_path: str = SOCIAL):
    page = web.get(page_path)
    return web.post(path, data={"csrf_token": csrf_from(page.text)})


def link_form(web, alias: str, password: str = PASSWORD):
    """The link button, then the current password it asks for (issue 9, item 8)."""
    confirm = post_form(web, f"{SOCIAL}/{alias}/link")
    assert confirm.status_code == 200 and 'id="link-confirm"' in confirm.text
    return web.post(f"{SOCIAL}/{alias}/link", data={"csrf_token": csrf_from(confirm.text),
                                                    "current_password": password})


def test_requires_sign_in(web):
    resp = web.get(SOCIAL)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/realms/{REALM}/login")
    assert web.post(f"{SOCIAL}/google/unlink").status_code == 400  # no CSRF token
    page = web.get(f"/realms/{REALM}/login")
    resp = web.post(f"{SOCIAL}/google/unlink", data={"csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/realms/{REALM}/login")


def test_account_home_links_to_the_social_page(web, linked):
    home = web.get(f"/realms/{REALM}/account/")
    assert home.status_code == 200
    assert f'href="{SOCIAL}"' in home.text
    assert "Associés : Google." in home.text


def test_list_shows_linked_and_linkable_providers(web, linked):
    page = web.get(SOCIAL)
    assert page.status_code == 200
    assert 'data-provider="google" data-linked="yes"' in page.text
    assert "alice.martin@example.com" in page.text
    for alias in ("facebook", "linkedin", "x"):
        assert f'data-provider="{alias}" data-linked="no"' in page.text
        assert f'id="link-{alias}"' in page.text
    assert 'id="unlink-google"' in page.text  # has a password: may unlink


def test_link_another_provider_from_account(web, linked, social_app):
    resp = link_form(web, "x")
    assert resp.status_code == 302
    location = web.at_provider(resp.headers["Location"], user="bruno")
    back = web.callback(location)
    assert back.status_code == 302 and back.headers["Location"].endswith(SOCIAL)
    page = web.get(SOCIAL)
    assert "Votre compte X est maintenant associé" in page.text
    with social_app.app_context():
        assert sorted(r.provider for r in links_of(linked)) == ["google", "x"]
        assert events("federated_identity_linked")[-1].detail == {"provider": "x",
                                                                   "via": "account"}


def test_link_from_account_refuses_identity_of_another_customer(web, linked, runner,
                                                                social_app):
    make_customer(runner, identifier="200002", email="other@example.test")
    other = Social(social_app.test_client())
    other.social("facebook")
    other.follow(other.link_with_password("facebook", "200002"))
    resp = link_form(web, "facebook")
    back = web.callback(web.at_provider(resp.headers["Location"]))
    assert back.status_code == 409 and 'data-reason="other_customer"' in back.text
    with social_app.app_context():
        assert [r.provider for r in links_of(linked)] == ["google"]
        assert events("federated_link_refused")[-1].detail["reason"] == "other_customer"


def test_account_link_callback_for_a_signed_out_browser_is_refused(web, linked, social_app):
    resp = link_form(web, "linkedin")
    location = web.at_provider(resp.headers["Location"])
    page = web.get(f"/realms/{REALM}/account/")
    web.post(f"/realms/{REALM}/protocol/openid-connect/logout",
             data={"csrf_token": csrf_from(page.text), "confirm": "yes"})
    back = web.callback(location)
    assert back.status_code == 400 and 'data-reason="bad_state"' in back.text
    with social_app.app_context():
        assert [r.provider for r in links_of(linked)] == ["google"]


def test_unlink_with_a_password(web, linked, social_app):
    resp = post_form(web, f"{SOCIAL}/google/unlink")
    assert resp.status_code == 302
    assert "plus associé à votre espace client" in web.get(SOCIAL).text
    with social_app.app_context():
        assert links_of(linked) == []
        assert events("federated_identity_unlinked")[-1].detail == {"provider": "google"}


def test_never_unlink_the_last_way_in(web, linked, social_app):
    with social_app.app_context():
        customer = customer_row(linked)
        customer.password_hash = None
        db.session.commit()
    page = web.get(SOCIAL)
    assert 'id="unlink-google"' not in page.text
    assert "seul moyen de connexion" in page.text
    resp = web.post(f"{SOCIAL}/google/unlink", data={"csrf_token": csrf_from(page.text)})
    assert resp.status_code == 302
    after = web.get(SOCIAL)
    assert "Vous ne pouvez pas dissocier votre compte Google" in after.text
    with social_app.app_context():
        assert [r.provider for r in links_of(linked)] == ["google"]
        assert events("federated_unlink_refused")[-1].detail["reason"] == "last_way_in"


def test_without_password_one_of_two_providers_may_go(web, linked, social_app):
    resp = link_form(web, "facebook")
    web.callback(web.at_provider(resp.headers["Location"]))
    with social_app.app_context():
        customer_row(linked).password_hash = None
        db.session.commit()
    page = web.get(SOCIAL)
    assert 'id="unlink-google"' in page.text and 'id="unlink-facebook"' in page.text
    web.post(f"{SOCIAL}/google/unlink", data={"csrf_token": csrf_from(page.text)})
    with social_app.app_context():
        assert [r.provider for r in links_of(linked)] == ["facebook"]
    assert 'id="unlink-facebook"' not in web.get(SOCIAL).text


def test_unlinked_identity_is_unknown_again(web, linked, social_app):
    post_form(web, f"{SOCIAL}/google/unlink")
    other = Social(social_app.test_client())
    resp = other.social("google")
    assert resp.headers["Location"].endswith("/broker/google/link")


def test_unlink_requires_csrf(web, linked, social_app):
    resp = web.post(f"{SOCIAL}/google/unlink")
    assert resp.status_code == 400
    with social_app.app_context():
        assert len(links_of(linked)) == 1


# -- realm import ---------------------------------------------------------------------------
@pytest.mark.parametrize("entry, message", [
    ({"alias": "google", "client_id": "a", "client_secret": "b",
      "discovery_url": "http://accounts.example.com/.well-known/openid-configuration"},
     "https"),
    ({"alias": "x", "client_id": "a", "client_secret": "b", "scope": "users.email"},
     "users.read"),
    ({"alias": "facebook", "client_id": "a", "client_secret": "b", "graph_version": "banana"},
     "graph_version"),
    ({"alias": "google", "client_id": "a", "client_secret": "b", "tokne_url": "x"},
     "unknown field(s) tokne_url"),
    ({"alias": "github", "client_id": "a", "client_secret": "b"}, "alias must be one of"),
])
def test_realm_import_refuses_bad_provider_entries(social_app, entry, message):
    with social_app.app_context():
        with pytest.raises(RealmImportError) as info:
            import_realm({"realm": REALM, "identity_providers": [entry]})
        assert message in str(info.value)
        assert str(info.value).startswith("identity provider")


def test_realm_import_keeps_x_request_email_alias(social_app, fakes):
    entry = {**identity_provider_settings("x", fakes["x"]), "request_email": False}
    with social_app.app_context():
        import_realm({"realm": REALM, "identity_providers": [entry]})
        from idp.core.models import IdentityProvider
        row = db.session.execute(db.select(IdentityProvider).filter_by(alias="x")).scalar_one()
        assert row.settings["email_capability"] is False


def test_password_is_never_shown(web, linked):
    assert PASSWORD not in web.get(SOCIAL).text
