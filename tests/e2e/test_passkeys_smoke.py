"""Smoke test of the passkey pieces in a real Chromium: idp.core.passkeys on the server,
idp/static/passkeys.js in the page, the DevTools virtual authenticator as the phone.

The page is a throwaway Flask app served in a thread (the sign-in pages get passkeys
later, on the server-side sign-in state); it has the idp's real CSP and Flask-WTF CSRF,
so it also proves passkeys.js runs under them. Served on ``localhost``: an IP address
cannot be a WebAuthn RP ID.
"""

from __future__ import annotations

import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, jsonify, render_template_string, request, session
from flask_wtf import CSRFProtect
from werkzeug.serving import make_server

import idp.core.passkeys as pk
from idp.core.db import db
from idp.core.models import Customer, Realm
from shared.security import init_security_headers
from tests.conftest import database_uri
from tests.support.virtual_authenticator import VirtualAuthenticator

pytestmark = pytest.mark.e2e

STATIC = Path(pk.__file__).resolve().parents[1] / "static"

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8">
<meta name="csrf-token" content="{{ csrf_token() }}">
<title>Passkeys</title><link rel="icon" href="data:,">
<script src="{{ url_for('static', filename='passkeys.js') }}" defer></script>
</head><body>
<form method="post" action="/password"><input name="login" id="login"
  autocomplete="username webauthn"><button type="submit" id="password">Connexion</button></form>
<button type="button" hidden id="register" data-passkey="register"
  data-options-url="/register/options" data-verify-url="/register/verify">
  Créer une clé d'accès</button>
<button type="button" hidden id="signin" data-passkey="signin"
  data-options-url="/signin/options" data-verify-url="/signin/verify">
  Se connecter avec une clé d'accès</button>
<p id="status" data-passkey-status role="alert" hidden></p>
</body></html>"""


@dataclass
class PasskeyPage:
    url: str
    app: Flask
    customer_id: int
    realm_id: int

    def passkeys(self) -> list[dict[str, Any]]:
        with self.app.app_context():
            customer = db.session.get(Customer, self.customer_id)
            return [{"name": p.name, "sign_count": p.sign_count, "last_used": p.last_used_at,
                     "transports": p.transports, "credential_id": p.credential_id}
                    for p in pk.list_passkeys(customer)]


def make_app(tmp_path: Path, public_url: str) -> tuple[Flask, int, int]:
    app = Flask(__name__, static_folder=str(STATIC))
    app.config.update(SECRET_KEY=secrets.token_hex(32),
                      SQLALCHEMY_DATABASE_URI=database_uri(tmp_path))
    db.init_app(app)
    CSRFProtect(app)
    init_security_headers(app)
    states: dict[str, pk.PasskeyChallenge] = {}  # server-side state, by browser

    with app.app_context():
        db.create_all()
        realm = Realm(slug="paris", display_name="Paris Île-de-France", settings={})
        db.session.add(realm)
        db.session.flush()
        customer = Customer(realm_id=realm.id, identifier="100001", given_name="Marie",
                            family_name="Dupont", password_hash="$argon2id$stub")
        db.session.add(customer)
        db.session.commit()
        realm_id, customer_id = realm.id, customer.id

    rp = pk.RelyingParty.from_public_url(public_url, "Paris Île-de-France")

    def state_key() -> str:
        session.setdefault("k", secrets.token_urlsafe(16))
        return session["k"]

    def refused(err: pk.PasskeyError):
        return jsonify(error=err.code, message=f"Refusé / Refused: {err.code}"), 400

    @app.get("/")
    def page():
        return render_template_string(PAGE)

    @app.post("/register/options")
    def register_options():
        options, states[state_key()] = pk.registration_options(
            db.session.get(Customer, customer_id), rp)
        return jsonify(options)

    @app.post("/register/verify")
    def register_verify():
        try:
            passkey = pk.verify_registration(db.session.get(Customer, customer_id), rp,
                                             states.get(state_key()), request.get_json())
        except pk.PasskeyError as err:
            return refused(err)
        db.session.commit()
        return jsonify(message=f"Clé d'accès créée : {passkey.name}")

    @app.post("/signin/options")
    def signin_options():
        options, states[state_key()] = pk.authentication_options(rp, realm_id)
        return jsonify(options)

    @app.post("/signin/verify")
    def signin_verify():
        try:
            result = pk.verify_authentication(realm_id, rp, states.get(state_key()),
                                              request.get_json())
        except pk.PasskeyError as err:
            return refused(err)
        db.session.commit()
        session["who"] = [result.customer.identifier, " ".join(result.amr), result.acr]
        return jsonify(redirect="/welcome")

    @app.get("/welcome")
    def welcome():
        who, amr, acr = session["who"]
        return render_template_string(
            "<link rel='icon' href='data:,'><p id='who'>Bonjour {{ who }}</p>"
            "<p id='amr'>{{ amr }}</p><p id='acr'>{{ acr }}</p>", who=who, amr=amr, acr=acr)

    return app, realm_id, customer_id


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def passkey_page(tmp_path) -> Iterator[PasskeyPage]:
    port = free_port()
    url = f"http://localhost:{port}"
    app, realm_id, customer_id = make_app(tmp_path, url)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield PasskeyPage(url=url, app=app, customer_id=customer_id, realm_id=realm_id)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.drop_all()
            db.engine.dispose()


def test_register_then_sign_in_with_the_virtual_authenticator(passkey_page, desktop_page):
    page = desktop_page
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    auth = VirtualAuthenticator.attach(page)

    page.goto(passkey_page.url + "/")
    page.locator("#register").wait_for(state="visible")  # revealed by passkeys.js
    assert page.locator("#signin").is_visible()
    assert page.evaluate("document.documentElement.classList.contains('passkeys')")

    page.click("#register")
    page.wait_for_selector("#status:has-text('Clé d\\'accès créée')")
    [held] = auth.credentials()
    assert held["isResidentCredential"] is True and held["rpId"] == "localhost"
    [stored] = passkey_page.passkeys()
    assert stored["credential_id"] == auth.credential_ids()[0]
    assert stored["transports"] == ["internal"] and stored["last_used"] is None

    page.click("#signin")
    page.wait_for_url(passkey_page.url + "/welcome")
    assert page.inner_text("#who") == "Bonjour 100001"
    assert page.inner_text("#amr") == "hwk user mfa"
    assert page.inner_text("#acr") == "2"
    [used] = passkey_page.passkeys()
    assert used["last_used"] is not None and used["sign_count"] == held["signCount"] + 1
    assert errors == []


def test_conditional_mediation_signs_in_from_the_identifier_field(passkey_page, desktop_page):
    """On load, passkeys.js starts a ``mediation: "conditional"`` request (the identifier
    field's autofill). The virtual authenticator answers it as soon as it holds a passkey
    for the site, as if the customer had picked it from the autofill list: no click."""
    page = desktop_page
    VirtualAuthenticator.attach(page)
    page.goto(passkey_page.url + "/")
    assert page.evaluate("PublicKeyCredential.isConditionalMediationAvailable()") is True
    page.click("#register")
    page.wait_for_selector("#status:has-text('Clé d\\'accès créée')")
    assert page.url == passkey_page.url + "/"  # registering does not sign in
    page.reload()
    page.wait_for_url(passkey_page.url + "/welcome")
    assert page.inner_text("#who") == "Bonjour 100001"
    assert passkey_page.passkeys()[0]["last_used"] is not None


def test_refused_without_user_verification(passkey_page, desktop_page):
    page = desktop_page
    auth = VirtualAuthenticator.attach(page)
    page.goto(passkey_page.url + "/")
    page.click("#register")
    page.wait_for_selector("#status:has-text('Clé d\\'accès créée')")
    auth.set_user_verified(False)
    page.click("#signin")
    # The browser refuses a UV-required request the authenticator cannot verify.
    page.wait_for_selector("#status:not([hidden])")
    assert page.url == passkey_page.url + "/"
    assert passkey_page.passkeys()[0]["last_used"] is None


def test_buttons_stay_hidden_without_javascript(passkey_page, browser):
    ctx = browser.new_context(java_script_enabled=False, locale="fr-FR")
    try:
        page = ctx.new_page()
        page.goto(passkey_page.url + "/")
        assert page.locator("#password").is_visible()
        assert not page.locator("#register").is_visible()
        assert not page.locator("#signin").is_visible()
    finally:
        ctx.close()
