"""In Chromium: a third-party app's consent screen (name, logo, plain words), consent
remembered, listed in Mon compte with its date, revoked there, then asked again."""

from __future__ import annotations

import uuid
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

pytestmark = pytest.mark.e2e
CB = "https://tiers.example/cb"


def test_consent_given_listed_revoked_reasked(idp_server, desktop_page):
    realm = "consent-" + uuid.uuid4().hex[:6]
    idp_server.load_realm({"realm": realm, "display_name": "Agence test", "clients": [{
        "client_id": "tiers", "client_secret": "t" * 48, "redirect_uris": [CB],
        "client_name": "Appli Tiers", "scope": "openid profile email", "first_party": False}]})
    idp_server.cli("customers", "create", "--realm", realm, "--identifier", "100001",
                   "--email", "marie@example.test", "--email-verified",
                   "--password", "Bonjour-2026!", "--given-name", "Marie")
    page = desktop_page
    arrived: list[str] = []

    def land(route):
        arrived.append(route.request.url)
        route.fulfill(status=200, body="<p id=app>app</p>", content_type="text/html")

    page.route("https://tiers.example/**", land)
    auth = idp_server.realm_url(realm, "protocol/openid-connect/auth?" + urlencode({
        "client_id": "tiers", "redirect_uri": CB, "response_type": "code",
        "scope": "openid profile email", "state": "s1"}))
    page.goto(auth)
    page.fill("#login", "100001")
    page.fill("#password", "Bonjour-2026!")
    page.keyboard.press("Enter")
    page.wait_for_selector("#consent-title")
    assert "Appli Tiers" in page.inner_text("#consent-title")
    scopes = page.inner_text("#consent-scopes")
    assert "adresse email" in scopes and "nom" in scopes
    page.click("#consent-approve")
    page.wait_for_selector("#app")
    assert "code" in parse_qs(urlsplit(arrived[-1]).query)

    # Navigations started by the page (not page.goto) so the app's redirect is routed.
    page.evaluate("url => { location.href = url; }", auth)  # remembered: no screen
    page.wait_for_selector("#app")
    assert len(arrived) == 2

    page.goto(idp_server.realm_url(realm, "account/"))
    item = page.locator("#consents li[data-client-id='tiers']")
    assert "Appli Tiers" in item.inner_text() and "autorisée le" in item.inner_text()
    item.locator("button.revoke-consent").click()
    page.wait_for_selector("#notice")
    assert page.locator("#consents").count() == 0

    page.evaluate("url => { location.href = url; }", auth)  # asked again
    page.wait_for_selector("#consent-title")
    page.click("#consent-deny")
    page.wait_for_selector("#app")
    assert parse_qs(urlsplit(arrived[-1]).query)["error"] == ["access_denied"]
