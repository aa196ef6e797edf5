"""Every page in French and English, the IE gate, isolation between customers, forms."""

from __future__ import annotations

import re

import pytest

from .conftest import sign_in

NNBSP, NBSP = "\u202f", "\u00a0"

SIGNED_IN_PAGES = {
    # path: (French text, English text)
    "/": ("Vos comptes", "Your accounts"),
    "/biens": ("Propriétaire", "Owner"),
    "/comptes": ("Relevé de compte", "Account statement"),
    "/interventions": ("Infiltration en toiture", "Filter interventions"),
    "/interventions?statut=en_cours": ("Infiltration en toiture", "In progress"),
    "/interventions/INT-5001": ("Toitures Parisiennes", "Contractor"),
    "/dossiers": ("Télécharger", "Download"),
    "/recherches": ("Nouvelle recherche", "New search"),
    "/contacts": ("Claire Lefèvre", "My contacts"),
    "/agence": ("Agence Paris 15e", "Opening hours"),
    "/autres": ("Les rubriques d'aide", "help topics"),
    "/aide": ("Première connexion", "First sign-in"),
    "/aide/connexion": ("Mot de passe oublié", "Forgotten password"),
    "/aide/premiere-connexion": ("Confirmer mon adresse email", "Confirm my email address"),
    "/aide/espace-client": ("Mon compte", "My account"),
    "/a-propos": ("Navigateurs compatibles", "Supported browsers"),
}


def _check_page(html: str, lang: str) -> None:
    assert f'<html lang="{lang}">' in html
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "portal.css" in html
    assert "<script" not in html, "pages must work without JavaScript"


@pytest.mark.parametrize("path", sorted(SIGNED_IN_PAGES))
@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_page_renders_in_both_languages(signed_in, path, lang):
    separator = "&" if "?" in path else "?"
    response = signed_in.get(f"{path}{separator}lang={lang}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    _check_page(html, lang)
    expected = SIGNED_IN_PAGES[path][0 if lang == "fr" else 1]
    assert expected in html, f"{expected!r} missing from {path} in {lang}"
    assert "Mon compte" in html if lang == "fr" else "My account" in html
    assert "/account" in html


def test_accept_language_chooses_english(signed_in):
    html = signed_in.get("/comptes", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(
        as_text=True)
    assert 'lang="en"' in html and "€1,234.56" in html


def test_french_is_the_default(signed_in):
    html = signed_in.get("/comptes", headers={"Accept-Language": "de"}).get_data(as_text=True)
    assert 'lang="fr"' in html


def test_home_tiles_of_the_seed(signed_in):
    html = signed_in.get("/").get_data(as_text=True)
    for text in ("Accueil", "Biens", "Comptes", "Interventions", "Mes recherches", "Dossiers",
                 "Mes contacts", "Voir mon agence", "Autres", "Aide", "À propos",
                 "Voir les interventions", "Se déconnecter"):
        assert text in html, text


def test_ledger_has_running_balance_newest_first(signed_in):
    html = signed_in.get("/comptes").get_data(as_text=True)
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td>", html)
    assert rows[0][1] == "Virement reçu (avance sur charges)"
    assert rows[-1][1] == "Appel de fonds 1er trimestre 2025"
    assert f"1{NNBSP}847,06{NBSP}€" in html  # the credit
    assert f"{'−'}612,50{NBSP}€" in html  # running balance after the first call for funds


def test_interventions_filter(signed_in):
    open_ = signed_in.get("/interventions?statut=en_cours").get_data(as_text=True)
    done = signed_in.get("/interventions?statut=terminees").get_data(as_text=True)
    assert "Infiltration en toiture" in open_ and "serrure" not in open_
    assert "serrure" in done and "Infiltration en toiture" not in done


def test_document_download(signed_in):
    response = signed_in.get("/dossiers/DOC-1001-01/telecharger")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    assert "Identifiant client : 100001" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/interventions/INT-5002",  # Jean Martin's
    "/dossiers/DOC-2001-01/telecharger",  # Jean Martin's
    "/dossiers/DOC-3001-01/telecharger",  # Sophie Bernard's
])
def test_other_customers_data_is_not_reachable(signed_in, path):
    response = signed_in.get(path)
    assert response.status_code == 404
    assert "Page introuvable" in response.get_data(as_text=True)


def test_each_customer_sees_only_their_own_data(app, op):
    jean = app.test_client()
    sign_in(jean, op, "100002")
    html = jean.get("/").get_data(as_text=True)
    assert f"0,00{NBSP}€" in html and "Jean Martin" in html
    for path in ("/biens", "/comptes", "/interventions", "/dossiers", "/contacts", "/recherches"):
        page = jean.get(path).get_data(as_text=True)
        assert "Lecourbe" not in page and "Dupont" not in page and "LOT-1001" not in page
    sophie = app.test_client()
    sign_in(sophie, op, "100003")
    html = sophie.get("/").get_data(as_text=True)
    assert f"−245,30{NBSP}€" in html and 'En cours <strong class="count">2</strong>' in html


def _csrf(html: str) -> str:
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_saved_search_add_validate_and_delete(signed_in):
    page = signed_in.get("/recherches").get_data(as_text=True)
    token = _csrf(page)
    bad = signed_in.post("/recherches", data={"csrf_token": token, "label": "", "city": "",
                                              "transaction": "location", "rooms_min": "99"})
    assert bad.status_code == 400
    html = bad.get_data(as_text=True)
    assert "Donnez un nom à votre recherche." in html
    assert "Indiquez une ville ou un code postal." in html
    assert "Indiquez un nombre entre 1 et 20." in html
    assert 'aria-invalid="true"' in html
    good = signed_in.post("/recherches", data={
        "csrf_token": token, "label": "T2 à Vanves", "city": "Vanves",
        "transaction": "achat", "budget_max": "300000", "rooms_min": "2"}, follow_redirects=True)
    html = good.get_data(as_text=True)
    assert "Recherche enregistrée." in html and "T2 à Vanves" in html
    assert f"300{NNBSP}000,00{NBSP}€" in html
    ref = re.search(r'/recherches/(S-[0-9a-f]+)/supprimer', html.split("T2 à Vanves")[1]).group(1)
    deleted = signed_in.post(f"/recherches/{ref}/supprimer", data={"csrf_token": _csrf(html)},
                             follow_redirects=True)
    assert "Recherche supprimée." in deleted.get_data(as_text=True)
    assert "T2 à Vanves" not in deleted.get_data(as_text=True)


def test_saved_search_form_needs_csrf(signed_in):
    response = signed_in.post("/recherches", data={"label": "x", "city": "y",
                                                   "transaction": "achat"})
    assert response.status_code == 400
    assert "Formulaire expiré" in response.get_data(as_text=True)


def test_cannot_delete_someone_elses_search(app, op, signed_in):
    sophie = app.test_client()
    sign_in(sophie, op, "100003")
    token = _csrf(sophie.get("/recherches").get_data(as_text=True))
    response = sophie.post("/recherches/S-1001-1/supprimer", data={"csrf_token": token})
    assert response.status_code == 404
    assert "Studio à louer" in signed_in.get("/recherches").get_data(as_text=True)


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
])
def test_internet_explorer_gets_unsupported_page(client, agent):
    html = client.get("/", headers={"User-Agent": agent}).get_data(as_text=True)
    assert "Navigateur non compatible" in html
    for browser in ("Firefox", "Safari", "Chrome", "Edge"):
        assert browser in html


def test_modern_browser_is_not_gated(client):
    agent = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    assert "non compatible" not in client.get("/", headers={"User-Agent": agent}).get_data(
        as_text=True)


@pytest.mark.parametrize("lang,text", [("fr", "Page introuvable"), ("en", "Page not found")])
def test_404_page(client, lang, text):
    response = client.get(f"/nulle-part?lang={lang}")
    assert response.status_code == 404 and text in response.get_data(as_text=True)


def test_500_page_has_no_stack_trace(app, client):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail")

    response = client.get("/boom")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Une erreur est survenue" in html and "secret detail" not in html


def test_security_headers_on_every_response(client):
    response = client.get("/a-propos")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert "form-action 'self' http://127.0.0.1:" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_public_pages_for_anonymous_visitors(client):
    for path in ("/aide", "/aide/connexion", "/a-propos", "/autres",
                 "/navigateur-non-compatible"):
        assert client.get(path).status_code == 200, path
    html = client.get("/").get_data(as_text=True)
    assert "Se connecter" in html and "Se déconnecter" not in html
