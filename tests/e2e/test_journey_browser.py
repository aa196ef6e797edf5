"""The seed journey in headless Chromium, desktop and phone, against a real idp + SMTP."""

from __future__ import annotations

import time
import uuid

import bcrypt
import pytest
from playwright.sync_api import Page, expect

from .conftest import IdpServer, link_in

REALM = "e2e-paris"
EXPIRY = "e2e-expiry"
PASSWORD = "Nouveau-2026!"


@pytest.fixture(scope="session")
def realms(idp_server: IdpServer) -> IdpServer:
    idp_server.load_realm({"realm": REALM, "display_name": "Paris Île-de-France",
                           "resend_cooldown": 3, "agency_contact": "agence@example.test",
                           "clients": []})
    idp_server.load_realm({"realm": EXPIRY, "display_name": "Paris Île-de-France",
                           "action_token_lifetime": 1, "resend_cooldown": 0, "clients": []})
    return idp_server


def new_id() -> str:
    return str(uuid.uuid4().int)[:9]


def temp_customer(server: IdpServer, realm: str = REALM, code: str = "123456") -> str:
    ident = new_id()
    server.cli("customers", "create", "--realm", realm, "--identifier", ident,
               "--temporary-password", code)
    return ident


def first_login(page: Page, server: IdpServer, ident: str, secret: str, realm: str = REALM):
    page.goto(server.realm_url(realm, "login"))
    expect(page.locator(".realm-name")).to_have_text("Paris Île-de-France")
    page.click("#first-login")
    expect(page.locator("h1")).to_have_text("Première connexion")
    page.fill("#login", ident)
    page.fill("#password", secret)
    page.click("#submit")


def give_email(page: Page, email: str) -> None:
    page.fill("#email", email)
    page.get_by_role("button", name="Soumettre").click()
    expect(page.locator("h1")).to_have_text(
        "Vous devez vérifier votre courriel pour activer votre compte.")


def test_first_login_with_temporary_code(any_page: Page, realms: IdpServer):
    page, server = any_page, realms
    ident = temp_customer(server)
    email = f"c{ident}@example.test"
    first_login(page, server, ident, "123456")
    give_email(page, email)
    mail = server.smtp.wait_for(email)
    page.goto(server.url + link_in(mail))
    page.click("#confirm")
    expect(page.locator("h1")).to_have_text("Nouveau mot de passe")
    expect(page.locator(".rules")).to_contain_text("Au moins 1 caractère spécial")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="Soumettre").click()
    expect(page.locator("h1")).to_have_text("Mon compte")
    expect(page.locator("#identifier")).to_have_text(ident)
    expect(page.locator("#email")).to_contain_text(email)


def test_legacy_bcrypt_goes_straight_through(desktop_page: Page, realms: IdpServer):
    page, server = desktop_page, realms
    ident = new_id()
    email = f"s{ident}@example.test"
    legacy = bcrypt.hashpw(b"Ancien-mdp1", bcrypt.gensalt(4)).decode()
    csv = server.tmp / f"{ident}.csv"
    csv.write_text(f"identifier,email,legacy_password_hash\n{ident},{email},{legacy}\n")
    server.cli("customers", "import", "--realm", REALM, str(csv))
    first_login(page, server, ident, "Ancien-mdp1")
    expect(page.locator("h1")).to_have_text(
        "Vous devez vérifier votre courriel pour activer votre compte.")
    page.goto(server.url + link_in(server.smtp.wait_for(email)))
    page.click("#confirm")
    expect(page.locator("h1")).to_have_text("Mon compte")


def test_resend_cooldown_and_other_address(desktop_page: Page, realms: IdpServer):
    page, server = desktop_page, realms
    ident = temp_customer(server)
    typo, good = f"t{ident}@exmple.test", f"g{ident}@example.test"
    first_login(page, server, ident, "123456")
    give_email(page, typo)
    page.click("#resend")
    expect(page.locator("#resend-result")).to_contain_text("Veuillez patienter")
    time.sleep(3.2)
    page.click("#resend")
    expect(page.locator("#resend-result")).to_contain_text("Un nouveau courriel a été envoyé")
    server.smtp.wait_for(typo, 2)
    time.sleep(3.2)
    page.click("#other-address")
    expect(page.locator("#email")).to_have_value(typo)
    give_email(page, good)
    old_link = link_in(server.smtp.to(typo)[-1])
    page.goto(server.url + link_in(server.smtp.wait_for(good)))
    page.click("#confirm")
    expect(page.locator("h1")).to_have_text("Nouveau mot de passe")
    page.goto(server.url + old_link)
    expect(page.locator("#link-status")).to_be_visible()


def test_expired_link(desktop_page: Page, realms: IdpServer):
    page, server = desktop_page, realms
    ident = temp_customer(server, EXPIRY)
    email = f"e{ident}@example.test"
    first_login(page, server, ident, "123456", EXPIRY)
    give_email(page, email)
    mail = server.smtp.wait_for(email)
    time.sleep(1.5)
    page.goto(server.url + link_in(mail))
    expect(page.locator("#link-status")).to_contain_text("expiré")
    page.click("#renew")
    expect(page.locator("#message")).to_contain_text("Un nouveau lien")
    server.smtp.wait_for(email, 2)


def test_password_policy_violations(phone_page: Page, realms: IdpServer):
    page, server = phone_page, realms
    ident = temp_customer(server)
    email = f"p{ident}@example.test"
    first_login(page, server, ident, "123456")
    give_email(page, email)
    page.goto(server.url + link_in(server.smtp.wait_for(email)))
    page.click("#confirm")
    page.fill("#password", "abcdefgh")
    page.fill("#confirm", "abcdefgx")
    page.get_by_role("button", name="Soumettre").click()
    errors = page.locator("#password-msg")
    expect(errors).to_contain_text("au moins 1 majuscule")
    expect(errors).to_contain_text("au moins 1 chiffre")
    expect(errors).to_contain_text("au moins 1 caractère spécial")
    expect(page.locator("#confirm-msg")).to_contain_text("ne sont pas identiques")
    expect(page.locator("#password")).to_have_value("")
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="Soumettre").click()
    expect(page.locator("h1")).to_have_text("Mon compte")


def test_forgotten_password(desktop_page: Page, realms: IdpServer):
    page, server = desktop_page, realms
    ident = new_id()
    email = f"f{ident}@example.test"
    server.cli("customers", "create", "--realm", REALM, "--identifier", ident, "--email", email,
               "--email-verified", "--password", "Ancien-2026!")
    page.goto(server.realm_url(REALM, "login"))
    page.click("#forgot")
    page.fill("#login", ident)
    page.click("#submit")
    expect(page.locator("#forgot-sent")).to_contain_text("Si un compte correspond")
    expect(page.locator("#agency-contact")).to_contain_text("agence@example.test")
    page.goto(server.url + link_in(server.smtp.wait_for(email)))
    page.fill("#password", PASSWORD)
    page.fill("#confirm", PASSWORD)
    page.get_by_role("button", name="Soumettre").click()
    expect(page.locator("h1")).to_have_text("Mot de passe modifié")
    page.click("#to-login")
    page.fill("#login", ident)
    page.fill("#password", PASSWORD)
    page.click("#submit")
    expect(page.locator("h1")).to_have_text("Mon compte")


def test_lockout(desktop_page: Page, realms: IdpServer):
    page, server = desktop_page, realms
    ident = new_id()
    server.cli("customers", "create", "--realm", REALM, "--identifier", ident,
               "--email", f"l{ident}@example.test", "--email-verified",
               "--password", "Correct-2026!")
    page.goto(server.realm_url(REALM, "login"))
    for _ in range(5):
        page.fill("#login", ident)
        page.fill("#password", "mauvais")
        page.click("#submit")
        expect(page.locator("#login-error")).to_have_text("Identifiant ou mot de passe incorrect.")
    page.fill("#login", ident)
    page.fill("#password", "Correct-2026!")
    page.click("#submit")
    expect(page.locator("#login-error")).to_have_text("Identifiant ou mot de passe incorrect.")
    server.cli("customers", "unlock", "--realm", REALM, "--identifier", ident)
    page.fill("#login", ident)
    page.fill("#password", "Correct-2026!")
    page.click("#submit")
    expect(page.locator("h1")).to_have_text("Mon compte")
