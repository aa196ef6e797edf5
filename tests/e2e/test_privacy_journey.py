"""The privacy features in a real Chromium against a real idp process (issue 22).

A customer downloads their data (identifier, address, passkey, last sign-in in it),
requests the deletion of their account, cancels it by signing in, requests it again;
after the grace period (time moved in the database) the purge runs, the customer can no
longer sign in and the admin API shows ``customer_deleted``. A second browser gets one
new-device mail (the first none) and signs in with a code read from the inbox. Every
screen passes axe-core (no serious or critical WCAG 2.1 AA issue) at desktop and phone
widths.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect
from sqlalchemy import create_engine, text

from tests.idp.journey_helpers import parts, subject
from tests.support.virtual_authenticator import VirtualAuthenticator

from .conftest import IdpServer, Inbox, running_idp

pytestmark = pytest.mark.e2e

REALM = "e2e-privacy"
PASSWORD = "Bonjour-2026!"
SECRET = "svc-secret-" + "s" * 40
AXE = Path(__file__).parents[1] / "admin" / "vendor" / "axe.min.js"
OFFER_TITLE = "Se connecter sans mot de passe avec ce téléphone"


@pytest.fixture(scope="module")
def privacy_idp(tmp_path_factory, smtp: Inbox) -> Iterator[IdpServer]:
    """The idp on ``localhost`` (passkeys need a host name), with a service client of the
    agency's apps that reads audit events."""
    realm = {"realm": REALM, "display_name": "Paris Île-de-France",
             "resend_cooldown": 0,
             "clients": [{"client_id": "crm", "client_secret": SECRET,
                          "grant_types": ["client_credentials"], "response_types": [],
                          "scope": "admin:events:read", "first_party": True}]}
    with running_idp(tmp_path_factory.mktemp("idp-privacy"), smtp, host="localhost",
                     db_name="idp-privacy", realm=realm) as server:
        yield server


def axe_clean(page: Page) -> None:
    """No serious or critical WCAG 2.x A/AA violation, at desktop then phone width."""
    for width, height in ((1280, 800), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.add_script_tag(path=str(AXE))
        result = page.evaluate("""async () => await axe.run(document, {runOnly: {type:
            'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})""")
        bad = [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes']][:3]}"
               for v in result["violations"] if v["impact"] in ("serious", "critical")]
        assert bad == [], f"{page.url} at {width}px: {bad}"
    page.set_viewport_size({"width": 1280, "height": 800})


def sql(server: IdpServer, statement: str, **params) -> None:
    engine = create_engine(server.env["IDP_SQLALCHEMY_DATABASE_URI"])
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def sign_in(page: Page, server: IdpServer, login: str, password: str = PASSWORD) -> None:
    page.goto(server.realm_url(REALM, "login"))
    page.fill("#login", login)
    page.fill("#password", password)
    page.click("#submit")


def mails_about(smtp: Inbox, address: str, words: str) -> list:
    return [m for m in smtp.to(address) if words in subject(m)]


def wait_mail(smtp: Inbox, address: str, words: str, count: int = 1, timeout: float = 10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mails_about(smtp, address, words)
        if len(found) >= count:
            return found[count - 1]
        time.sleep(0.05)
    raise AssertionError(f"no mail {words!r} #{count} to {address}")


def test_privacy_journey(browser, privacy_idp: IdpServer):
    server, smtp = privacy_idp, privacy_idp.smtp
    ident = str(uuid.uuid4().int)[:9]
    email = f"p{ident}@example.test"
    server.cli("customers", "create", "--realm", REALM, "--identifier", ident, "--email",
               email, "--email-verified", "--password", PASSWORD, "--given-name", "Marie",
               "--family-name", "Dupont")
    # bypass_csp: only so that axe-core can be injected; the pages keep their CSP.
    first = browser.new_context(viewport={"width": 1280, "height": 800}, locale="fr-FR",
                                accept_downloads=True, bypass_csp=True)
    page = first.new_page()
    page.set_default_timeout(10_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    auth = VirtualAuthenticator.attach(page)

    # First browser: the very first sign-in (no new-device mail), a passkey added.
    page.goto(server.realm_url(REALM, "login"))
    expect(page.locator("#email-code")).to_be_visible()
    axe_clean(page)
    sign_in(page, server, ident)
    expect(page.locator("h1")).to_have_text(OFFER_TITLE)
    page.locator("#passkey-create").click()
    expect(page.locator("h1")).to_have_text("Mon compte")
    assert len(auth.credentials()) == 1
    auth.cdp.send("WebAuthn.disable")  # the passkey stays on the server; no autofill now
    expect(page.locator("#activity li")).to_have_count(2)  # the sign-in and the passkey
    axe_clean(page)

    # Mes données: the JSON download and the readable page.
    with page.expect_download() as download:
        page.click("#download-data")
    doc = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
    assert doc["account"]["identifier"] == ident
    assert doc["emails"][0]["address"] == email and doc["emails"][0]["verified"] is True
    [passkey] = doc["ways_in"]["passkeys"]
    assert passkey["name"]
    assert doc["sign_ins"][0]["method"] == "password" and doc["sign_ins"][0]["device"]
    page.click("#view-data")
    expect(page.locator("#data-ways-in")).to_contain_text(passkey["name"])
    axe_clean(page)

    # Second browser: one new-device mail; then sign in with an emailed code.
    second = browser.new_context(viewport={"width": 390, "height": 844}, locale="fr-FR",
                                 bypass_csp=True)
    other = second.new_page()
    other.set_default_timeout(10_000)
    sign_in(other, server, ident)
    expect(other.locator("h1")).to_have_text("Mon compte")
    mail = wait_mail(smtp, email, "Nouvelle connexion")
    assert "Ce n'était pas moi" in parts(mail)[0]
    other.click("#logout")
    other.goto(server.realm_url(REALM, "login"))
    other.fill("#login", email)
    other.click("#email-code")
    expect(other.locator("#code-sent")).to_be_visible()
    axe_clean(other)
    other.fill("#code", "000000")
    other.click("#submit-code")
    expect(other.locator("#code-error")).to_be_visible()
    code_mail = wait_mail(smtp, email, "code de connexion")
    code = re.search(r"^\s+(\d{6})\s*$", parts(code_mail)[0], re.M).group(1)
    other.fill("#code", code)
    other.click("#submit-code")
    expect(other.locator("h1")).to_have_text("Mon compte")
    expect(other.locator("#activity li").first).to_contain_text("Code par email")
    second.close()
    assert len(mails_about(smtp, email, "Nouvelle connexion")) == 1  # none for the first

    # Supprimer mon compte: the confirmation names what goes; cancelled by signing in.
    page.goto(server.realm_url(REALM, "account/"))
    page.click("#delete-account")
    expect(page.locator("#what-goes")).to_contain_text(email)
    expect(page.locator("#what-goes")).to_contain_text(passkey["name"])
    axe_clean(page)
    page.click("#confirm-delete")
    expect(page.locator("#message")).to_contain_text("sera supprimé le")
    axe_clean(page)
    wait_mail(smtp, email, "Demande de suppression")
    sign_in(page, server, ident)
    expect(page.locator("#deletion-date")).to_be_visible()
    axe_clean(page)
    page.click("#cancel-deletion")
    expect(page.locator("h1")).to_have_text("Mon compte")

    # Requested again; the grace period passes (in the database); the purge runs.
    page.click("#delete-account")
    page.click("#confirm-delete")
    expect(page.locator("#message")).to_contain_text("sera supprimé le")
    sql(server, "UPDATE customer SET deletion_requested_at = deletion_requested_at - "
        "INTERVAL '31 days' WHERE identifier = :i" if "postgresql" in server.env[
            "IDP_SQLALCHEMY_DATABASE_URI"] else "UPDATE customer SET deletion_requested_at = "
        "datetime(deletion_requested_at, '-31 days') WHERE identifier = :i", i=ident)
    purged = server.cli("customers", "purge-deleted")
    assert ident in purged.stdout
    sign_in(page, server, ident)
    expect(page.locator("#login-error")).to_have_text("Identifiant ou mot de passe incorrect.")

    # The agency's apps read the erasure by cursor from the admin API.
    basic = base64.b64encode(f"crm:{SECRET}".encode()).decode()
    token = requests.post(f"{server.url}/realms/{REALM}/protocol/openid-connect/token",
                          data={"grant_type": "client_credentials",
                                "scope": "admin:events:read"},
                          headers={"Authorization": f"Basic {basic}"}, timeout=10).json()
    events = requests.get(f"{server.url}/admin/realms/{REALM}/events",
                          params={"type": "customer_deleted"},
                          headers={"Authorization": f"Bearer {token['access_token']}"},
                          timeout=10).json()
    assert [e["customer"] for e in events["items"]] == [ident]
    assert errors == []
    first.close()
