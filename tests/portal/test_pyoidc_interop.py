"""The portal, configured only, against pyoidc's OpenID Provider (see ``pyoidc_op``).

Both run as real HTTP servers on loopback; a ``requests`` session plays the navigator, so the
OP's back-channel logout reaches the portal over HTTP as it would in production.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from werkzeug.serving import make_server

from portal import create_app
from portal.data_import import import_data
from portal.extensions import db
from portal.models import SavedSearch, ServerSession

from .conftest import demo_data
from .pyoidc_op import CLIENT_ID, CLIENT_SECRET, CUSTOMER_CLAIM, PASSWORD, PyoidcOP, form_fields


class Portal:
    """The portal app behind a real loopback server (its URL is known before the app)."""

    def __init__(self) -> None:
        self.app: Any = None
        self.server = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)

    def configure(self, op: PyoidcOP, database: str, **settings: Any) -> Any:
        self.database = database
        self.app = create_app({
            "TESTING": True,
            "SECRET_KEY": "interop-secret",
            "SQLALCHEMY_DATABASE_URI": database,
            "OIDC_ISSUER": op.issuer,
            "OIDC_CLIENT_ID": CLIENT_ID,
            "OIDC_CLIENT_SECRET": CLIENT_SECRET,
            "PUBLIC_URL": self.url,
            "CUSTOMER_CLAIM": CUSTOMER_CLAIM,
            **settings,
        })
        with self.app.app_context():
            db.create_all()
            assert import_data(demo_data(op.issuer)).errors == []
        return self.app


@pytest.fixture
def portal(tmp_path: Path) -> Any:
    server = Portal()
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.server.shutdown()
    server.server.server_close()
    if server.app is not None:
        with server.app.app_context():
            db.session.remove()
            db.drop_all()
            db.engine.dispose()


@pytest.fixture
def op(portal: Portal, tmp_path: Path) -> Any:
    provider = PyoidcOP(portal.url).start()
    database = os.environ.get("TEST_PORTAL_DATABASE_URL") or f"sqlite:///{tmp_path / 'p.db'}"
    portal.configure(provider, database)
    yield provider
    provider.stop()


@pytest.fixture
def navigator() -> Any:
    with requests.Session() as session:
        yield session


def sign_in(navigator: requests.Session, portal: Portal, op: PyoidcOP, path: str = "/auth/login",
            login: str = "100001") -> requests.Response:
    """Open a portal page, meet the OP's sign-in form, fill it in; return the last page."""
    page = navigator.get(portal.url + path, timeout=10)
    return fill_sign_in_form(navigator, op, page, login)


def fill_sign_in_form(navigator: requests.Session, op: PyoidcOP, page: requests.Response,
                      login: str = "100001") -> requests.Response:
    assert page.url.startswith(op.issuer + "/authorization"), page.url
    assert 'action="/login"' in page.text
    return navigator.post(op.issuer + "/login", timeout=10, data={
        **form_fields(page.text), "login": login, "password": PASSWORD,
    })


def session_data(portal: Portal, navigator: requests.Session) -> dict | None:
    cookie = navigator.cookies.get("portal_session")
    if cookie is None:
        return None
    with portal.app.app_context():
        row = db.session.get(ServerSession, hashlib.sha256(cookie.encode()).hexdigest())
        return dict(row.data) if row else None


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def expire_access_token(portal: Portal, navigator: requests.Session) -> None:
    """Move the portal session past its access token's expiry.

    pyoidc sends no ``expires_in`` (RECOMMENDED only), so the portal assumes 300 s; rather
    than wait that long, the clock of this one session is moved.
    """
    cookie = navigator.cookies["portal_session"]
    with portal.app.app_context():
        row = db.session.get(ServerSession, hashlib.sha256(cookie.encode()).hexdigest())
        row.data = {**row.data, "expires_at": time.time() - 1}
        db.session.commit()


def test_sign_in_with_the_configured_customer_claim(portal, op, navigator):
    home = sign_in(navigator, portal, op)
    assert home.url == portal.url + "/"
    assert "Marie Dupont" in home.text and "Vos comptes" in home.text
    [authorize] = op.hits("/authorization")[:1]
    assert authorize["code_challenge_method"] == ["S256"] and authorize["nonce"][0]
    assert "offline_access" in authorize["scope"][0].split()
    data = session_data(portal, navigator)
    assert data["customer_id"] == "100001" and data["sub"]
    # OIDC Core §11: no prompt=consent, so the OP ignored offline_access.
    assert data["refresh_token"] is None


def test_account_link_comes_from_discovery(portal, op, navigator):
    html = sign_in(navigator, portal, op).text
    assert f'<a href="{op.issuer}/account">Mon compte</a>' in html
    others = navigator.get(portal.url + "/autres", timeout=10).text
    assert f'href="{op.issuer}/account"' in others


def test_account_link_from_configuration_wins(portal, op, navigator):
    portal.app.config["ACCOUNT_URL"] = "https://compte.agence.example/profil"
    html = sign_in(navigator, portal, op).text
    assert '<a href="https://compte.agence.example/profil">Mon compte</a>' in html
    assert f"{op.issuer}/account" not in html


def test_account_link_hidden_when_nobody_names_one(portal, op, navigator):
    op.publish_account_page = False
    html = sign_in(navigator, portal, op).text
    assert "Marie Dupont" in html
    assert "Mon compte" not in html and "/account" not in html
    others = navigator.get(portal.url + "/autres", timeout=10).text
    assert "Mon compte" not in others


def test_silent_renewal_after_access_token_expiry(portal, op, navigator):
    sign_in(navigator, portal, op)
    before = session_data(portal, navigator)
    expire_access_token(portal, navigator)
    page = navigator.get(portal.url + "/biens", timeout=10)
    assert page.status_code == 200 and page.url == portal.url + "/biens"
    assert "Appartement" in page.text
    silent = op.hits("/authorization")[-1]
    assert silent["prompt"] == ["none"] and silent["id_token_hint"] == [before["id_token"]]
    # sign-in, its return after the password form, the silent renewal: no second form.
    assert len(op.hits("/authorization")) == 3 and len(op.hits("/login")) == 1
    after = session_data(portal, navigator)
    assert after["access_token"] != before["access_token"]
    assert after["expires_at"] > time.time()
    assert after["sub"] == before["sub"]


def test_form_posted_after_expiry_keeps_its_data(portal, op, navigator):
    sign_in(navigator, portal, op)
    token = csrf_token(navigator.get(portal.url + "/recherches", timeout=10).text)
    expire_access_token(portal, navigator)
    typed = {"csrf_token": token, "label": "T2 près du parc", "transaction": "achat",
             "city": "Lyon 6e", "budget_max": "310000", "rooms_min": "2"}
    page = navigator.post(portal.url + "/recherches", data=typed, timeout=10)
    assert page.url == portal.url + "/recherches"
    assert op.hits("/authorization")[-1]["prompt"] == ["none"]
    assert "Ce que vous aviez saisi a été conservé" in page.text
    for value in ("T2 près du parc", "Lyon 6e", "310000", "2"):
        assert f'value="{value}"' in page.text
    assert re.search(r'checked[^>]*value="achat"|value="achat"[^>]*checked', page.text)
    with portal.app.app_context():
        assert db.session.query(SavedSearch).filter_by(label="T2 près du parc").count() == 0
    # Sending again (fresh CSRF token from the re-rendered page) saves it.
    again = navigator.post(portal.url + "/recherches", timeout=10,
                         data={**typed, "csrf_token": csrf_token(page.text)})
    assert "Recherche enregistrée." in again.text and "T2 près du parc" in again.text
    with portal.app.app_context():
        assert db.session.query(SavedSearch).filter_by(label="T2 près du parc").count() == 1


def test_form_survives_a_full_sign_in_when_the_op_session_is_gone(portal, op, navigator):
    sign_in(navigator, portal, op)
    token = csrf_token(navigator.get(portal.url + "/recherches", timeout=10).text)
    op.forget_sessions()
    expire_access_token(portal, navigator)
    typed = {"csrf_token": token, "label": "Studio étudiant", "transaction": "location",
             "city": "Grenoble", "budget_max": "", "rooms_min": ""}
    login_page = navigator.post(portal.url + "/recherches", data=typed, timeout=10)
    # prompt=none answered login_required: the OP's sign-in form is shown.
    assert op.hits("/authorization")[-2]["prompt"] == ["none"]
    assert "prompt" not in op.hits("/authorization")[-1]
    page = fill_sign_in_form(navigator, op, login_page)
    assert page.url == portal.url + "/recherches"
    assert 'value="Studio étudiant"' in page.text and 'value="Grenoble"' in page.text


def test_form_is_not_handed_to_another_customer(portal, op, navigator):
    sign_in(navigator, portal, op)
    token = csrf_token(navigator.get(portal.url + "/recherches", timeout=10).text)
    op.forget_sessions()
    expire_access_token(portal, navigator)
    typed = {"csrf_token": token, "label": "Secret de Marie", "transaction": "achat",
             "city": "Nice"}
    login_page = navigator.post(portal.url + "/recherches", data=typed, timeout=10)
    page = fill_sign_in_form(navigator, op, login_page, login="100002")
    assert "Jean Martin" in page.text
    searches = navigator.get(portal.url + "/recherches", timeout=10).text
    assert "Secret de Marie" not in searches and "Nice" not in searches


def test_delete_button_pressed_after_expiry_asks_to_confirm(portal, op, navigator):
    sign_in(navigator, portal, op)
    page = navigator.get(portal.url + "/recherches", timeout=10).text
    ref = re.search(r'action="/recherches/([^/"]+)/supprimer"', page).group(1)
    expire_access_token(portal, navigator)
    confirm = navigator.post(f"{portal.url}/recherches/{ref}/supprimer", timeout=10,
                           data={"csrf_token": csrf_token(page)})
    assert confirm.url == portal.url + "/auth/resume"
    assert "Reprendre votre envoi" in confirm.text
    assert f'action="/recherches/{ref}/supprimer"' in confirm.text
    done = navigator.post(f"{portal.url}/recherches/{ref}/supprimer", timeout=10,
                        data={"csrf_token": csrf_token(confirm.text)})
    assert "Recherche supprimée." in done.text


def test_refresh_token_is_used_when_the_op_grants_one(portal, op, navigator):
    op.offline_access = "grant"  # like our idp for a first-party client
    sign_in(navigator, portal, op)
    before = session_data(portal, navigator)
    assert before["refresh_token"]
    expire_access_token(portal, navigator)
    page = navigator.get(portal.url + "/comptes", timeout=10)
    assert page.url == portal.url + "/comptes" and page.history == []
    assert len(op.hits("/authorization")) == 2, "sign-in only: no round trip for renewal"
    after = session_data(portal, navigator)
    assert after["access_token"] != before["access_token"]


def test_sign_out_ends_both_sessions(portal, op, navigator):
    home = sign_in(navigator, portal, op)
    page = navigator.post(portal.url + "/auth/logout", data={"csrf_token": csrf_token(home.text)},
                        timeout=10)
    end_session = op.hits("/end_session")[-1]
    assert end_session["post_logout_redirect_uri"] == [portal.url + "/"]
    assert end_session["id_token_hint"]
    assert page.url.startswith(portal.url + "/?state=")
    assert "Vous êtes déconnecté" in page.text
    # Signed out at the OP too: the next visit meets its sign-in form again.
    again = navigator.get(portal.url + "/comptes", timeout=10)
    assert again.url.startswith(op.issuer + "/authorization")
    assert 'action="/login"' in again.text


def test_back_channel_logout_from_the_op(portal, op, navigator):
    sign_in(navigator, portal, op)
    assert session_data(portal, navigator) is not None
    result = op.sign_out_everywhere("100001")
    assert result.get("cookie"), "the OP's back-channel call to the portal failed"
    assert session_data(portal, navigator) is None
    page = navigator.get(portal.url + "/comptes", timeout=10, allow_redirects=False)
    assert page.status_code == 302 and "/auth/login" in page.headers["Location"]


def test_op_refusing_offline_access_needs_only_the_scopes_setting(portal, op, navigator):
    op.offline_access = "reject"  # stock pyoidc: invalid_request, stricter than §11
    refused = navigator.get(portal.url + "/auth/login", timeout=10)
    assert refused.status_code == 400 and "La connexion a échoué" in refused.text
    portal.configure(op, portal.database, OIDC_SCOPES="openid profile email customer")
    sign_in(navigator, portal, op)
    expire_access_token(portal, navigator)
    page = navigator.get(portal.url + "/biens", timeout=10)
    assert page.url == portal.url + "/biens" and "Appartement" in page.text
    assert op.hits("/authorization")[-1]["prompt"] == ["none"]
