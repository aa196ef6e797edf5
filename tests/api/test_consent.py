"""Consent for third-party clients: asked, remembered, listed in Mon compte, revoked (with
the app's tokens), re-asked; prompt=consent and prompt=none."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlsplit

from tests.api.conftest import PARIS, SECRET, bearer, make_customer, service_token
from tests.idp.conftest import csrf_from
from tests.support.sign_in import sign_in as support_sign_in

AUTH = f"/realms/{PARIS}/protocol/openid-connect/auth"
CB = "https://tiers.example/cb"


def setup_third_party(app, client):
    from idp.core.realms import find_realm
    from tests.support.realms import import_realm

    with app.app_context():
        import_realm({"realm": PARIS, "clients": [{
            "client_id": "tiers", "client_secret": SECRET, "redirect_uris": [CB],
            "client_name": "Appli Tiers", "logo_uri": "https://cdn.tiers.example/logo.png",
            "scope": "openid profile email offline_access", "first_party": False}]})
        assert find_realm(PARIS)
    make_customer(client, bearer(service_token(client)), "600001", password="Bonjour-2026!",
                  email="m@example.test", email_verified=True, given_name="Marie")


def authorize(client, **extra):
    return client.get(AUTH, query_string={"client_id": "tiers", "redirect_uri": CB,
                                          "response_type": "code", "state": "s",
                                          "scope": "openid profile email", **extra})


def sign_in(client):
    return support_sign_in(client, "600001", realm=PARIS, follow=True)


def approve(client, page, answer="approve"):
    import re

    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))
    return client.post(AUTH, data={**fields, "consent": answer})


def code_of(resp):
    assert resp.status_code == 302, resp.text
    return parse_qs(urlsplit(resp.headers["Location"]).query)


def test_consent_given_listed_revoked_reasked(app, client):
    setup_third_party(app, client)
    authorize(client)
    page = sign_in(client)
    assert page.status_code == 200 and "Appli Tiers" in page.text
    assert "Votre adresse email" in page.text and "Votre nom" in page.text
    assert "cdn.tiers.example" in page.headers["Content-Security-Policy"]
    code = code_of(approve(client, page))["code"][0]
    basic = base64.b64encode(f"tiers:{SECRET}".encode()).decode()
    tokens = client.post(f"/realms/{PARIS}/protocol/openid-connect/token", data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": CB},
        headers={"Authorization": f"Basic {basic}"}).json
    assert "access_token" in tokens
    # Remembered: the next request goes straight through.
    assert "code" in code_of(authorize(client))
    # prompt=consent asks again; prompt=none with consent is fine.
    assert authorize(client, prompt="consent").status_code == 200
    assert "code" in code_of(authorize(client, prompt="none"))
    # Listed in Mon compte with its date and scopes.
    home = client.get(f"/realms/{PARIS}/account/")
    assert "Applications autorisées" in home.text and "Appli Tiers" in home.text
    # Revoked there: the app's tokens die, the next sign-in asks again.
    revoke = client.post(f"/realms/{PARIS}/account/consents/tiers/revoke",
                         data={"csrf_token": csrf_from(home.text)})
    assert revoke.status_code == 302
    assert "Appli Tiers" not in client.get(f"/realms/{PARIS}/account/").text
    with app.app_context():
        from idp.core.models import Token
        from idp.extensions import db

        rows = db.session.execute(db.select(Token).where(
            Token.customer_id.is_not(None))).scalars().all()
        assert rows and all(r.revoked_at is not None for r in rows)
    none = code_of(authorize(client, prompt="none"))
    assert none["error"] == ["consent_required"]
    assert authorize(client).status_code == 200  # the consent screen again


def test_denied_and_first_party_skips(app, client):
    setup_third_party(app, client)
    authorize(client)
    page = sign_in(client)
    assert code_of(approve(client, page, "deny"))["error"] == ["access_denied"]
    first = client.get(AUTH, query_string={"client_id": "rp", "redirect_uri":
                                           "https://rp.example/cb", "response_type": "code",
                                           "scope": "openid profile", "state": "s"})
    assert "code" in code_of(first)


def test_more_scopes_ask_again_and_english(app, client):
    setup_third_party(app, client)
    authorize(client, ui_locales="en")
    page = sign_in(client)
    approve(client, page)
    wider = authorize(client, scope="openid profile email offline_access", prompt="consent",
                      ui_locales="en")
    assert wider.status_code == 200
    assert "Authorize" in wider.text or "Allow" in wider.text
