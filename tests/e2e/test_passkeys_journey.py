"""Issue 15's "done when", in Chromium against the real idp: a customer completes the
première connexion (temporary code, email, verification link, new password), is offered a
passkey and creates one (DevTools virtual authenticator), signs out, signs in with the
passkey alone (the identifier field's autofill: nothing typed), then removes it in Mon
compte. Also: the page without JavaScript is the password page.

The idp is served on ``localhost`` (its PUBLIC_URL), not 127.0.0.1: an IP address cannot
be a WebAuthn RP ID. Refusals (replayed assertion, wrong origin, wrong RP ID) are tested at
the unit level in tests/idp/test_passkeys_views.py and test_passkeys_core.py.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from tests.support.virtual_authenticator import VirtualAuthenticator

from .conftest import IdpServer, Inbox, link_in, running_idp

pytestmark = pytest.mark.e2e

REALM = "e2e-passkeys"
PASSWORD = "Nouveau-2026!"
OFFER_TITLE = "Se connecter sans mot de passe avec ce téléphone"


@pytest.fixture(scope="module")
def localhost_idp(tmp_path_factory, smtp: Inbox) -> Iterator[IdpServer]:
    """The idp as a real process whose public URL is ``http://localhost:PORT``."""
    realm = {"realm": REALM, "display_name": "Paris Île-de-France", "resend_cooldown": 0,
             "clients": []}
    with running_idp(tmp_path_factory.mktemp("idp-passkeys"), smtp, host="localhost",
                     db_name="idp-passkeys", realm=realm) as server:
        yield server


def latest_session(server: IdpServer, identifier: str) -> tuple[str, str]:
    """(acr, amr) of the customer's newest SSO session, read from the idp's database."""
    engine = create_engine(server.env["IDP_SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.connect() as conn:
            row = conn.execute(text(
                "SELECT s.acr, s.amr FROM sso_session s JOIN customer c ON c.id = s.customer_id"
                " WHERE c.identifier = :i ORDER BY s.created_at DESC, s.auth_time DESC"
            ), {"i": identifier}).first()
    finally:
        engine.dispose()
    assert row is not None
    return row[0], str(row[1])


def premiere_connexion(page: Page, server: IdpServer, ident: str, email: str) -> None:
    page.goto(server.realm_url(REALM, "login"))
    page.click("#first-login")
    expect(page.locator("h1")).to_have_text("Première connexion")
    page.fill("#login", ident)
    page.fill("#password", "123456")
    page.click("#submit")
    page.fill("#email", email)
    page.get_by_role("button", name="Soumettre").click()
    expect(page.locator("h1")).to_have_text(
        "Vous devez vérifier votre courriel pour activer votre compte.")
    page.goto(server.url + link_in(server.smtp.wait_for(email)))
    page.click("#confirm")
    expect(page.locator("h1")).to_have_text("Nouveau mot de passe")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="Soumettre").click()


def test_premiere_connexion_then_passkey_alone_then_removed(desktop_page: Page,
                                                            localhost_idp: IdpServer):
    page, server = desktop_page, localhost_idp
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    auth = VirtualAuthenticator.attach(page)  # the phone's fingerprint sensor
    ident = str(uuid.uuid4().int)[:9]
    email = f"pk{ident}@example.test"
    server.cli("customers", "create", "--realm", REALM, "--identifier", ident,
               "--temporary-password", "123456")

    # Première connexion, then the offer (once), accepted.
    premiere_connexion(page, server, ident, email)
    expect(page.locator("h1")).to_have_text(OFFER_TITLE)
    expect(page.locator("#passkey-later")).to_be_visible()
    page.locator("#passkey-create").click()
    expect(page.locator("h1")).to_have_text("Mon compte")
    expect(page.locator("#identifier")).to_have_text(ident)
    [held] = auth.credentials()
    assert held["rpId"] == "localhost" and held["isResidentCredential"] is True
    expect(page.locator("#passkeys li")).to_have_count(1)
    expect(page.locator("#passkeys li")).to_contain_text("jamais utilisée")
    assert latest_session(server, ident)[0] == "1"  # this sign-in was the password

    # Sign out; the passkey alone signs in: the autofill request of the identifier field
    # is answered by the authenticator, nothing typed, no button pressed.
    page.click("#logout")
    expect(page.locator("h1")).to_have_text("Vous êtes déconnecté")
    page.goto(server.realm_url(REALM, "login"))
    expect(page.locator("h1")).to_have_text("Mon compte")
    expect(page.locator("#identifier")).to_have_text(ident)
    assert page.locator("#passkeys li").inner_text().count("utilisée le") == 1
    acr, amr = latest_session(server, ident)
    assert acr == "2" and "hwk" in amr and "user" in amr
    expect(page.locator("#passkey-add")).to_be_visible()  # Mon compte offers it again

    # Removed in Mon compte (the password is still a way in).
    page.locator(".passkey-remove button").click()
    expect(page.locator("#notice")).to_contain_text("a été supprimée")
    expect(page.locator("#no-passkeys")).to_be_visible()

    # The phone still holds it: signing in with it is refused, the password page remains.
    page.click("#logout")
    page.goto(server.realm_url(REALM, "login"))
    expect(page.locator("#passkey-status")).to_contain_text("n'est plus enregistrée")
    expect(page.locator("h1")).to_have_text("Connexion")
    # ... and passkeys.js told the authenticator to forget it (signalUnknownCredential).
    deadline = time.monotonic() + 5
    while auth.credentials() and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    assert auth.credentials() == []
    assert errors == []


def test_sign_in_with_the_button(desktop_page: Page, localhost_idp: IdpServer):
    """The button path: a browser without autofill of passkeys (conditional mediation
    switched off in the page) signs in by pressing "Se connecter avec une clé d'accès"."""
    page, server = desktop_page, localhost_idp
    auth = VirtualAuthenticator.attach(page)
    ident = str(uuid.uuid4().int)[:9]
    server.cli("customers", "create", "--realm", REALM, "--identifier", ident,
               "--email", f"b{ident}@example.test", "--email-verified", "--password", PASSWORD)
    page.goto(server.realm_url(REALM, "login"))
    page.fill("#login", ident)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("h1")).to_have_text(OFFER_TITLE)
    page.click("#passkey-create")
    expect(page.locator("h1")).to_have_text("Mon compte")
    assert len(auth.credentials()) == 1
    page.click("#logout")
    page.add_init_script(
        "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);")
    page.goto(server.realm_url(REALM, "login"))
    expect(page.locator("#passkey-signin")).to_be_visible()
    expect(page.locator("h1")).to_have_text("Connexion")
    page.click("#passkey-signin")
    expect(page.locator("h1")).to_have_text("Mon compte")
    expect(page.locator("#identifier")).to_have_text(ident)
    assert latest_session(server, ident)[0] == "2"


def test_without_javascript_the_page_is_the_password_page(browser, localhost_idp: IdpServer):
    ctx = browser.new_context(java_script_enabled=False, locale="fr-FR")
    try:
        page = ctx.new_page()
        page.goto(localhost_idp.realm_url(REALM, "login"))
        expect(page.locator("#submit")).to_be_visible()
        expect(page.locator("#passkey-signin")).to_be_hidden()
        assert page.locator("#passkey-signin").count() == 1
    finally:
        ctx.close()
