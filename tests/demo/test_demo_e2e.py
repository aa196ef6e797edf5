"""``make demo`` as a visitor meets it: the real script on free ports, the idp discovery and
the portal answer, the four social buttons reach the labelled demo providers, Marie is
already linked, Sophie links once, and the inbox holds the mails with their links."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from playwright.sync_api import Browser, Page, expect

from demo.run import RunningDemo, running_demo

pytestmark = pytest.mark.e2e

BRANDS = {"facebook": "Facebook", "linkedin": "LinkedIn", "google": "Google", "x": "X"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningDemo]:
    with running_demo(tmp_path_factory.mktemp("demo")) as running:
        yield running


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    ctx = browser.new_context(locale="fr-FR", viewport={"width": 1200, "height": 800})
    page = ctx.new_page()
    page.set_default_timeout(15_000)
    yield page
    ctx.close()


def test_discovery_portal_inbox_and_providers_answer(demo: RunningDemo):
    config = requests.get(demo.issuer + "/.well-known/openid-configuration", timeout=10)
    assert config.status_code == 200 and config.json()["issuer"] == demo.issuer
    assert requests.get(demo.url("portal"), timeout=10).status_code == 200
    assert "Boîte de réception" in requests.get(demo.url("inbox"), timeout=10).text
    assert not (demo.folder / "mail.log").exists()
    for alias, brand in BRANDS.items():
        home = requests.get(demo.url(alias), timeout=10)
        assert f"{brand} : fournisseur de démonstration" in home.text


def sign_in_with(page: Page, demo: RunningDemo, alias: str, user: str) -> None:
    page.goto(demo.url("portal"))
    page.get_by_role("link", name="Se connecter", exact=True).click()
    expect(page.locator(".social a.button")).to_have_text(
        ["Facebook", "LinkedIn", "Google", "X"])
    page.locator(f"#social-{alias}").click()
    expect(page.locator(".demo-banner")).to_contain_text("fournisseur de démonstration")
    page.check(f"input[name=login_hint][value={user}]")
    page.get_by_role("button", name="Autoriser / Allow").click()


@pytest.mark.parametrize("alias", list(BRANDS))
def test_marie_is_linked_on_all_four_and_goes_straight_in(page: Page, demo: RunningDemo,
                                                          alias: str):
    sign_in_with(page, demo, alias, "marie")
    # Facebook's "#_=_" fragment survives the redirects, as with the real one.
    expect(page).to_have_url(re.compile("^" + re.escape(demo.url("portal")) + "(#_=_)?$"))
    expect(page.locator("h1")).to_have_text("Accueil")
    expect(page.locator("header")).to_contain_text("Marie Dupont")


def test_sophie_links_once_then_the_inbox_link_verifies_her_address(page: Page,
                                                                   demo: RunningDemo):
    sign_in_with(page, demo, "google", "sophie")
    expect(page.locator("h1")).to_have_text("Associer votre compte Google à votre espace client")
    page.fill("#login", "100003")
    page.fill("#password", "Ancien-mdp1")
    page.click("#submit")
    expect(page.locator("h1")).to_have_text(
        "Vous devez vérifier votre courriel pour activer votre compte.")

    page.goto(demo.url("inbox"))
    page.locator("a.mail").first.click()
    expect(page.locator("dl.headers")).to_contain_text("sophie.bernard@example.test")
    page.locator("pre.text a[href*='/action/']").first.click()  # the link, clicked
    expect(page).to_have_url(re.compile("^" + re.escape(demo.issuer)))
    page.click("#confirm")
    expect(page.locator("h1")).to_have_text(re.compile("Accueil|Mon compte"))

    # Linked: the Google button now goes straight in, in a fresh browser.
    ctx = page.context.browser.new_context(locale="fr-FR")
    try:
        again = ctx.new_page()
        again.set_default_timeout(15_000)
        sign_in_with(again, demo, "google", "sophie")
        expect(again.locator("h1")).to_have_text("Accueil")
        expect(again.locator("header")).to_contain_text("Sophie Bernard")
    finally:
        ctx.close()


def test_the_passkey_button_is_there_as_the_readme_prints_it(page: Page, demo: RunningDemo):
    """The demo's pages are on ``localhost`` (WebAuthn refuses an IP address): following
    the printed portal URL leads to a sign-in page offering passkeys."""
    page.goto(demo.url("portal"))
    assert page.url.startswith(f"http://localhost:{demo.ports['portal']}/")
    page.get_by_role("link", name="Se connecter", exact=True).click()
    expect(page).to_have_url(re.compile("^" + re.escape(f"http://localhost:{demo.ports['idp']}/")))
    expect(page.locator("#passkey-signin")).to_be_visible()
    expect(page.locator("#passkey-signin")).to_have_text("Se connecter avec une clé d'accès")
