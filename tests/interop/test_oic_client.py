"""Interoperability: an independent OIDC client library (pyoidc, ``oic``) against the idp
served over real HTTP: discovery → code + PKCE → id_token validation → userinfo →
refresh → revocation → RP-initiated logout. None of our own client code is used.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import socket
import threading
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from oic.oic import Client
from oic.oic.message import AuthorizationResponse, RegistrationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from werkzeug.serving import make_server

from idp import create_app
from idp.extensions import db
from tests.support.realms import import_realm

REALM = "paris-ile-de-france"
SECRET = "interop-secret-" + "k" * 40
CALLBACK = "https://rp.example/callback"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_idp(idp_config):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app({**idp_config, "PUBLIC_URL": base, "TESTING": False})
    with app.app_context():
        db.create_all()
        import_realm({"realm": REALM, "display_name": "Paris Île-de-France", "clients": [{
            "client_id": "interop", "client_secret": SECRET, "redirect_uris": [CALLBACK],
            "post_logout_redirect_uris": ["https://rp.example/bye"],
            "grant_types": ["authorization_code", "refresh_token"], "first_party": True}]})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["customers", "create", "--realm", REALM, "--identifier", "300",
                                 "--email", "interop@example.test", "--email-verified",
                                 "--password", "Interop-2026!", "--given-name", "Ana"])
    assert result.exit_code == 0, result.output
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def browser_login(auth_url: str) -> str:
    """A plain HTTP 'browser': follow the idp's redirects, fill the sign-in form."""
    session = requests.Session()
    resp = session.get(auth_url, allow_redirects=True)
    assert resp.status_code == 200 and 'name="password"' in resp.text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', resp.text).group(1)
    resp = session.post(resp.url, data={"login": "300", "password": "Interop-2026!",
                                        "csrf_token": token}, allow_redirects=False)
    for _ in range(5):
        location = resp.headers["Location"]
        if location.startswith(CALLBACK):
            return location
        resp = session.get(requests.compat.urljoin(resp.url, location), allow_redirects=False)
    raise AssertionError("never came back to the callback")


def test_full_flow_with_pyoidc(live_idp):
    issuer = f"{live_idp}/realms/{REALM}"
    client = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    provider = client.provider_config(issuer)
    assert provider["issuer"] == issuer
    client.store_registration_info(RegistrationResponse(
        client_id="interop", client_secret=SECRET, redirect_uris=[CALLBACK],
        token_endpoint_auth_method="client_secret_basic"))

    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    request = client.construct_AuthorizationRequest(request_args={
        "client_id": "interop", "response_type": "code", "scope": "openid profile email customer",
        "state": state, "nonce": nonce, "redirect_uri": CALLBACK,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    callback = browser_login(request.request(client.authorization_endpoint))

    query = urlsplit(callback).query
    assert parse_qs(query)["iss"] == [issuer]  # RFC 9207
    auth = client.parse_response(AuthorizationResponse, info=query, sformat="urlencoded")
    assert auth["state"] == state

    tokens = client.do_access_token_request(
        state=state, request_args={"code": auth["code"], "redirect_uri": CALLBACK,
                                   "code_verifier": verifier},
        authn_method="client_secret_basic")
    id_token = tokens["id_token"]  # verified by pyoidc: signature (JWKS), iss, aud, exp
    assert id_token["nonce"] == nonce
    assert id_token["iss"] == issuer and id_token["aud"] == ["interop"]

    info = client.do_user_info_request(state=state)
    assert info["sub"] == id_token["sub"]
    assert info["customer_id"] == "300" and info["email_verified"] is True

    refreshed = client.do_access_token_refresh(state=state, authn_method="client_secret_basic")
    assert refreshed["access_token"] != tokens["access_token"]
    assert refreshed["refresh_token"] != tokens["refresh_token"]

    revoke = requests.post(provider["revocation_endpoint"],
                           data={"token": refreshed["refresh_token"]},
                           auth=("interop", SECRET), timeout=5)
    assert revoke.status_code == 200
    again = requests.post(provider["token_endpoint"], data={
        "grant_type": "refresh_token", "refresh_token": refreshed["refresh_token"]},
        auth=("interop", SECRET), timeout=5)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"

    logout = requests.get(provider["end_session_endpoint"], params={
        "id_token_hint": tokens["id_token"].jwt, "post_logout_redirect_uri": "https://rp.example/bye",
        "state": "bye"}, allow_redirects=False, timeout=5)
    assert logout.status_code == 302
    assert logout.headers["Location"] == "https://rp.example/bye?state=bye"
