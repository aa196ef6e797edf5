"""Social sign-in in headless Chromium: the real idp process, the four fake providers as
real processes, and a real client app (a tiny HTTP server) waiting for its code."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from .social_fixtures import (  # noqa: F401  (fixtures)
    PASSWORD,
    SocialRealm,
    relying_party_fixture,
    social_fakes_fixture,
    social_realm_fixture,
)

BRANDS = {"facebook": "Facebook", "linkedin": "LinkedIn", "google": "Google",
          "x": "X"}
FAKE_TITLES = {"facebook": "Facebook", "linkedin": "LinkedIn", "google": "Google", "x": "X"}


def at_fake_provider(page: Page, alias: str, user: str = "alice", button: str = "Allow") -> None:
    expect(page.locator("h1")).to_contain_text("(fake)")
    page.check(f"input[name=login_hint][value={user}]")
    page.get_by_role("button", name=button, exact=True).click()


def back_at_client(page: Page, realm: SocialRealm, state: str) -> dict[str, str]:
    expect(page.locator("h1")).to_have_text("Appli cliente")
    hit = realm.rp.last()
    assert hit.get("state") == state, hit
    return hit


@pytest.mark.parametrize("alias", list(BRANDS))
def test_first_sign_in_links_by_password_then_straight_in(alias: str, desktop_page: Page,
                                                          browser: Browser,
                                                          social_realm: SocialRealm):
    page, realm = desktop_page, social_realm
    ident = realm.customer(email=f"{alias}-owner@example.test")

    page.goto(realm.authorize_url(f"first-{alias}"))
    expect(page.locator(".realm-name")).to_have_text("Paris Île-de-France")
    buttons = page.locator(".social a.button")
    expect(buttons).to_have_text(["Facebook", "LinkedIn", "Google", "X"])
    page.get_by_role("link", name=f"Se connecter avec {BRANDS[alias]}").click()
    at_fake_provider(page, alias)

    expect(page.locator("h1")).to_have_text(
        f"Associer votre compte {BRANDS[alias]} à votre espace client")
    page.fill("#login", ident)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    hit = back_at_client(page, realm, f"first-{alias}")
    claims = realm.id_token_claims(hit["code"])
    assert set(claims["amr"]) == {"pwd", "fed"} and claims["idp"] == alias

    # Second time, in a fresh browser (no SSO cookie): straight in, no password asked.
    ctx = browser.new_context(locale="fr-FR")
    try:
        again = ctx.new_page()
        again.set_default_timeout(10_000)
        again.goto(realm.authorize_url(f"again-{alias}"))
        again.locator(f"#social-{alias}").click()
        at_fake_provider(again, alias)
        hit = back_at_client(again, realm, f"again-{alias}")
        claims = realm.id_token_claims(hit["code"])
        assert claims["amr"] == ["fed"] and claims["idp"] == alias
    finally:
        ctx.close()


def test_on_a_phone_link_lands_on_mon_compte(phone_page: Page, social_realm: SocialRealm):
    page, realm = phone_page, social_realm
    ident = realm.customer(email="phone@example.test")
    page.goto(realm.url("login"))
    google = page.locator("#social-google")
    box = google.bounding_box()
    assert box is not None and box["height"] >= 44 and box["width"] >= 250  # thumb-sized
    google.click()
    at_fake_provider(page, "google", user="chloe")
    expect(page.locator("h1")).to_have_text("Associer votre compte Google à votre espace client")
    page.fill("#login", ident)
    page.fill("#password", "Mauvais-mot2passe!")
    page.click("#submit")
    expect(page.locator("#login-error")).to_have_text("Identifiant ou mot de passe incorrect.")
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("h1")).to_have_text("Mon compte")
    expect(page.locator("#identifier")).to_have_text(ident)
    expect(page.locator("#social-accounts-title")).to_be_visible()
    page.click("#social-accounts")
    expect(page.locator('[data-provider="google"]')).to_have_attribute("data-linked", "yes")
    expect(page.locator("#unlink-google")).to_be_visible()


@pytest.mark.parametrize("alias", ["linkedin", "facebook"])
def test_cancel_at_provider_then_back_to_the_app(alias: str, desktop_page: Page,
                                                 social_realm: SocialRealm):
    page, realm = desktop_page, social_realm
    page.goto(realm.authorize_url(f"cancel-{alias}"))
    page.locator(f"#social-{alias}").click()
    at_fake_provider(page, alias, button="Cancel")
    expect(page.locator("h1")).to_have_text(f"Connexion avec {BRANDS[alias]} annulée")
    expect(page.locator("#back-to-login")).to_be_visible()
    page.click("#back-to-app")
    hit = back_at_client(page, realm, f"cancel-{alias}")
    assert hit["error"] == "access_denied" and "code" not in hit


def test_cancel_then_sign_in_with_password_instead(desktop_page: Page,
                                                    social_realm: SocialRealm):
    page, realm = desktop_page, social_realm
    ident = realm.customer(email="cancel@example.test")
    page.goto(realm.authorize_url("cancel-then-pwd"))
    page.locator("#social-x").click()
    at_fake_provider(page, "x", button="Cancel")
    expect(page.locator("h1")).to_have_text(re.compile("annulée"))
    page.click("#back-to-login")
    page.fill("#login", ident)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    hit = back_at_client(page, realm, "cancel-then-pwd")
    assert realm.id_token_claims(hit["code"])["amr"] == ["pwd"]
