"""The portal journey in headless Chromium: the portal and the idp as real processes.

Sign in at the portal through the idp, Accueil with the demo balance and interventions, every
page, sign-out, back-channel logout from the idp, and the Internet Explorer page.
"""

from __future__ import annotations

import re
import time
import uuid
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from .portal_fixtures import (  # noqa: F401  (fixture)
    PASSWORD,
    PortalServer,
    portal_server_fixture,
)

CUSTOMER = "100001"
IE11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"


def norm(text: str | None) -> str:
    """Text with U+202F / U+00A0 turned into plain spaces and runs of spaces collapsed."""
    return " ".join((text or "").replace("\u202f", " ").replace("\u00a0", " ").split())


def euros(cents: int) -> str:
    """French amount as shown by the portal, with plain spaces: ``1 234,56 €``."""
    sign = "\u2212" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units:,}".replace(",", " ") + f",{rest:02d} €"


def balance_cents(customer: dict) -> int:
    total = Decimal(0)
    for entry in customer["ledger"]:
        total += Decimal(str(entry.get("credit") or 0)) - Decimal(str(entry.get("debit") or 0))
    return int(total * 100)


def open_interventions(customer: dict) -> int:
    return sum(1 for i in customer["interventions"] if i["status"] == "en_cours")


def sign_in_at_idp(page: Page, portal: PortalServer, ident: str = CUSTOMER) -> None:
    expect(page).to_have_url(re.compile("^" + re.escape(portal.issuer) + "/"))
    page.fill("#login", ident)
    page.fill("#password", PASSWORD)
    page.click("#submit")


def sign_in(page: Page, portal: PortalServer) -> None:
    page.goto(portal.page_url("/"))
    expect(page.locator("h1")).to_have_text("Bienvenue sur votre espace client")
    page.get_by_role("link", name="Se connecter", exact=True).click()
    sign_in_at_idp(page, portal)
    expect(page).to_have_url(portal.page_url("/"))
    expect(page.locator("h1")).to_have_text("Accueil")


def nav(page: Page, name: str) -> None:
    page.locator("nav.main").get_by_role("link", name=name, exact=True).click()
    expect(page.locator("h1")).to_have_text(name)


def at_sign_in_page(page: Page, portal: PortalServer) -> None:
    expect(page).to_have_url(re.compile("^" + re.escape(portal.issuer) + "/"))
    expect(page.locator("#login")).to_be_visible()
    expect(page.locator("#password")).to_be_visible()


# -- the main journey, desktop and phone ---------------------------------------------------


def test_sign_in_and_every_page(any_page: Page, portal_server: PortalServer, tmp_path: Path):
    page, portal = any_page, portal_server
    data = portal.customer_data(CUSTOMER)
    balance = euros(balance_cents(data))
    assert balance == "1 234,56 €"  # the demo data as documented in docs/portal.md

    # A protected page first: the idp's sign-in, then back to that very page.
    page.goto(portal.page_url("/comptes"))
    sign_in_at_idp(page, portal)
    expect(page).to_have_url(portal.page_url("/comptes"))
    expect(page.locator("h1")).to_have_text("Comptes")

    # Accueil
    page.locator("nav.main").get_by_role("link", name="Accueil", exact=True).click()
    expect(page.locator("h1")).to_have_text("Accueil")
    assert norm(page.locator(".tile .balance").text_content()) == f"Vos comptes {balance}"
    assert norm(page.locator(".tile .balance .amount").text_content()) == balance
    count_tile = page.locator(".tile").filter(has=page.locator(".count"))
    assert norm(count_tile.locator("p").first.text_content()) == (
        f"En cours {open_interventions(data)}")
    expect(page.locator(".tiles")).to_contain_text(f"{len(data['properties'])} biens")
    expect(page.locator(".tiles")).to_contain_text(f"{len(data['documents'])} documents")

    # Biens
    nav(page, "Biens")
    cards = page.locator(".card")
    expect(cards).to_have_count(len(data["properties"]))
    expect(cards.first).to_contain_text("Appartement T3, 2e étage")
    expect(cards.first).to_contain_text("24 rue Lecourbe")
    expect(cards.first).to_contain_text("Propriétaire")

    # Comptes: balance and ledger, newest first
    nav(page, "Comptes")
    assert norm(page.locator("p.balance").text_content()) == f"Vos comptes {balance}"
    expect(page.locator("p.muted")).to_have_text("Vous êtes créditeur.")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(len(data["ledger"]))
    expect(rows.first).to_contain_text("Virement reçu (avance sur charges)")
    assert norm(rows.first.locator("td").last.text_content()) == balance
    expect(rows.last).to_contain_text("Appel de fonds 1er trimestre 2025")

    # Interventions: filters and a detail
    nav(page, "Interventions")
    titles = page.locator(".card h2")
    expect(titles).to_have_text(["Infiltration en toiture",
                                 "Remplacement de la serrure de la cave"])
    page.get_by_role("link", name="Terminées", exact=True).click()
    expect(page).to_have_url(re.compile(r"statut=terminees"))
    expect(titles).to_have_text(["Remplacement de la serrure de la cave"])
    page.locator("ul.filters").get_by_role("link", name="En cours", exact=True).click()
    expect(page).to_have_url(re.compile(r"statut=en_cours"))
    expect(titles).to_have_text(["Infiltration en toiture"])
    expect(page.locator(".card .badge")).to_have_text(["En cours"])
    page.get_by_role("link", name="Infiltration en toiture").click()
    expect(page).to_have_url(portal.page_url("/interventions/INT-5001"))
    expect(page.locator("h1")).to_have_text("Infiltration en toiture")
    details = page.locator("dl.details")
    expect(details).to_contain_text("Toitures Parisiennes")
    expect(details).to_contain_text("INT-5001")
    expect(page.locator("main")).to_contain_text("Couvreur mandaté")

    # Mes recherches: the demo one, a refused form, add one, delete it
    nav(page, "Mes recherches")
    searches = page.locator(".card h2")
    expect(searches).to_have_text(["Studio à louer près de la Convention"])
    page.get_by_role("button", name="Enregistrer la recherche").click()
    expect(page.locator("p.error[role=alert]")).to_be_visible()
    expect(page.locator("#label-error")).to_have_text("Donnez un nom à votre recherche.")
    label = f"T4 à acheter {uuid.uuid4().hex[:6]}"
    page.get_by_label("Nom de la recherche").fill(label)
    page.get_by_label("Achat").check()
    page.get_by_label("Ville ou code postal").fill("Paris 15e")
    page.get_by_label("Budget maximum (€)").fill("350000")
    page.get_by_label("Nombre de pièces minimum").fill("4")
    page.get_by_role("button", name="Enregistrer la recherche").click()
    expect(page.locator(".flash")).to_have_text("Recherche enregistrée.")
    expect(searches).to_have_text(["Studio à louer près de la Convention", label])
    added = page.locator(".card").filter(has_text=label)
    assert norm(added.locator("p").first.text_content()) == (
        "Achat · Paris 15e · jusqu'à 350 000,00 € · 4 pièces minimum")
    added.get_by_role("button", name="Supprimer").click()
    expect(page.locator(".flash")).to_have_text("Recherche supprimée.")
    expect(searches).to_have_text(["Studio à louer près de la Convention"])

    # Dossiers: download one, check the response
    nav(page, "Dossiers")
    doc = data["documents"][0]
    card = page.locator(".card").filter(has_text=doc["title"])
    expect(page.locator(".card h2")).to_have_count(len(data["documents"]))
    expect(card).to_contain_text(doc["filename"])
    link = card.get_by_role("link", name="Télécharger")
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.suggested_filename == doc["filename"]
    saved = tmp_path / doc["filename"]
    download.save_as(saved)
    assert saved.read_text(encoding="utf-8") == doc["content_text"]
    href = link.get_attribute("href")
    assert href == f"/dossiers/{doc['ref']}/telecharger"
    resp = page.request.get(portal.page_url(href))
    assert resp.status == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.headers["content-disposition"].startswith("attachment")
    assert doc["filename"] in resp.headers["content-disposition"]
    assert "no-store" in resp.headers["cache-control"]
    assert "Montant : 612,50 €" in resp.text()
    # Someone else's document is not there for this customer.
    other = portal.customer_data("100002")["documents"][0]["ref"]
    assert page.request.get(portal.page_url(f"/dossiers/{other}/telecharger")).status == 404

    # Mes contacts
    nav(page, "Mes contacts")
    expect(page.locator(".card h2")).to_have_text([c["name"] for c in data["contacts"]])
    expect(page.locator(".card").nth(1)).to_contain_text("Comptabilité")
    expect(page.locator("a[href^='mailto:']").first).to_have_text("c.lefevre@agence.example")

    # Mon agence
    nav(page, "Mon agence")
    expect(page.locator("main h2")).to_have_text("Agence Paris 15e – Convention")
    details = page.locator("dl.details")
    expect(details).to_contain_text("112 rue de la Convention")
    expect(details).to_contain_text("01 45 32 10 20")
    expect(details).to_contain_text("Samedi : 9 h – 12 h")
    expect(details).to_contain_text("Claire Lefèvre")

    # Autres, Aide (and a topic), À propos
    nav(page, "Autres")
    expect(page.locator(".card h2")).to_have_text(["Aide", "À propos", "Mon compte"])
    page.locator("footer").get_by_role("link", name="Aide", exact=True).click()
    expect(page.locator("h1")).to_have_text("Aide")
    topic = page.get_by_role("link", name="Aide à la connexion sur le nouvel espace client")
    topic.click()
    expect(page.locator("h1")).to_have_text("Aide à la connexion sur le nouvel espace client")
    expect(page.locator("main")).to_contain_text("N'utilisez jamais Internet Explorer.")
    page.locator("footer").get_by_role("link", name="À propos", exact=True).click()
    expect(page.locator("h1")).to_have_text("À propos")
    expect(page.locator("main")).to_contain_text("Navigateurs compatibles : Firefox")
    # Still signed in everywhere: the header shows the customer and the sign-out button.
    expect(page.get_by_role("button", name="Se déconnecter")).to_be_visible()


def test_header_names_the_customer(desktop_page: Page, portal_server: PortalServer):
    """The header greets the customer by name (the idp knows it, so does the portal's data)."""
    page, portal = desktop_page, portal_server
    sign_in(page, portal)
    name = portal.customer_data(CUSTOMER)["display_name"]
    expect(page.locator("header .who")).to_have_text(name)


# -- sign-out ------------------------------------------------------------------------------


def test_sign_out_from_the_portal(any_page: Page, portal_server: PortalServer):
    page, portal = any_page, portal_server
    sign_in(page, portal)
    before = portal.session_count(CUSTOMER)
    assert before >= 1
    page.get_by_role("button", name="Se déconnecter").click()
    # The idp ends its session and sends the browser back to the portal, signed out.
    expect(page).to_have_url(re.compile("^" + re.escape(portal.page_url("/")) + r"\?"))
    expect(page.locator("h1")).to_have_text("Bienvenue sur votre espace client")
    expect(page.locator("main .flash")).to_have_text("Vous êtes déconnecté.")
    expect(page.locator("nav.main")).to_have_count(0)
    expect(page.get_by_role("button", name="Se déconnecter")).to_have_count(0)
    assert portal.session_count(CUSTOMER) == before - 1
    # A protected page now needs a fresh sign-in at the idp (its session ended too) ...
    page.goto(portal.page_url("/dossiers"))
    at_sign_in_page(page, portal)
    # ... after which the customer lands on the page asked for.
    sign_in_at_idp(page, portal)
    expect(page).to_have_url(portal.page_url("/dossiers"))
    expect(page.locator("h1")).to_have_text("Dossiers")


@pytest.mark.parametrize("where", ["account", "logout-endpoint"])
def test_back_channel_logout_from_the_idp(desktop_page: Page, portal_server: PortalServer,
                                          where: str):
    page, portal = desktop_page, portal_server
    sign_in(page, portal)
    nav(page, "Comptes")
    before = portal.session_count(CUSTOMER)
    assert before >= 1
    if where == "account":
        # The portal's "Mon compte" link leads to the idp's account page.
        page.locator("header").get_by_role("link", name="Mon compte").click()
        expect(page.locator("h1")).to_have_text("Mon compte")
        expect(page.locator("#identifier")).to_have_text(CUSTOMER)
        page.click("#logout")
    else:
        page.goto(portal.idp.realm_url(portal.realm, "protocol/openid-connect/logout"))
        page.click("#confirm-logout")
    expect(page.locator("h1")).to_have_text("Vous êtes déconnecté")
    # The idp tells the portal over the back channel, in the background once the logout
    # is committed (the customer's request never waits): the session row goes.
    deadline = time.monotonic() + 15
    while portal.session_count(CUSTOMER) != before - 1 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert portal.session_count(CUSTOMER) == before - 1
    page.goto(portal.page_url("/comptes"))
    at_sign_in_page(page, portal)
    page.goto(portal.page_url("/"))
    expect(page.locator("h1")).to_have_text("Bienvenue sur votre espace client")
    expect(page.locator("nav.main")).to_have_count(0)


# -- Internet Explorer ---------------------------------------------------------------------


def test_internet_explorer_gets_the_unsupported_page(browser: Browser,
                                                     portal_server: PortalServer):
    portal = portal_server
    ctx = browser.new_context(user_agent=IE11, locale="fr-FR")
    try:
        page = ctx.new_page()
        page.set_default_timeout(10_000)
        for path in ("/", "/comptes", "/auth/login"):
            page.goto(portal.page_url(path))
            expect(page).to_have_url(portal.page_url(path))  # not sent to the idp
            expect(page.locator("h1")).to_have_text("Navigateur non compatible")
            expect(page.locator("main")).to_contain_text(
                "Internet Explorer n'est pas compatible avec votre espace client.")
            expect(page.locator("main li")).to_have_text(["Firefox", "Safari", "Chrome", "Edge"])
    finally:
        ctx.close()
    # Chromium's own user agent gets the welcome page at the same address.
    ctx = browser.new_context(locale="fr-FR")
    try:
        page = ctx.new_page()
        page.goto(portal.page_url("/"))
        expect(page.locator("h1")).to_have_text("Bienvenue sur votre espace client")
    finally:
        ctx.close()
