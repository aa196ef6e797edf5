"""RP-initiated logout and back-channel logout, with a real HTTP receiver."""

import threading
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from idp.core import logout
from idp.extensions import db
from tests.support.realms import import_realm

from .conftest import REALM, RP, RP_SECRET, csrf_from
from .oidc_helpers import LOGOUT, TOKEN, basic, redeem, verify


@pytest.fixture
def receiver(monkeypatch):
    """A real HTTP server collecting back-channel logout POSTs, on loopback (allowed as
    ``IDP_OUTBOUND_LOOPBACK`` allows it in development)."""
    monkeypatch.setattr("idp.core.clients.uris._loopback_allowed", True)
    received = []

    @Request.application
    def app(request):
        received.append(request.form.get("logout_token"))
        return Response("ok")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.port}/bcl", received
    server.shutdown()


def sign_in(flow, client):
    q = flow.code_flow(scope="openid offline_access")
    return redeem(client, q["code"]).json


def test_logout_with_hint_redirects_with_state(flow, customer, client):
    body = sign_in(flow, client)
    resp = client.get(LOGOUT, query_string={
        "id_token_hint": body["id_token"], "post_logout_redirect_uri": "https://rp.example/bye",
        "state": "x!@#$%^&*()"})
    assert resp.status_code == 302
    loc = urlsplit(resp.headers["Location"])
    assert loc.netloc == "rp.example" and loc.path == "/bye"
    assert parse_qs(loc.query) == {"state": ["x!@#$%^&*()"]}
    q = flow.authorize(prompt="none")
    assert "login_required" in q.headers["Location"]
    refreshed = client.post(TOKEN, data={"grant_type": "refresh_token",
                                         "refresh_token": body["refresh_token"]}, headers=basic())
    assert refreshed.status_code == 400


@pytest.mark.parametrize("params", [
    {"post_logout_redirect_uri": "https://evil.example/"},
    {"post_logout_redirect_uri": "https://rp.example/bye?x=1"},
    {"post_logout_redirect_uri": "https://rp.example/bye"},  # no client identified
    {"id_token_hint": "not-a-jwt", "post_logout_redirect_uri": "https://rp.example/bye"},
])
def test_bad_logout_requests_never_redirect(client, params):
    resp = client.get(LOGOUT, query_string=params)
    assert resp.status_code == 400
    assert "Location" not in resp.headers


def test_logout_without_hint_asks_confirmation(flow, customer, client):
    sign_in(flow, client)
    page = client.get(LOGOUT, query_string={"client_id": "rp"})
    assert page.status_code == 200 and "confirm-logout" in page.text
    assert "code" in flow.authorize(prompt="none").headers["Location"]
    done = client.post(LOGOUT, data={"client_id": "rp", "confirm": "yes",
                                     "csrf_token": csrf_from(page.text)})
    assert done.status_code == 200
    assert "login_required" in flow.authorize(prompt="none").headers["Location"]


def test_backchannel_logout_token(app, flow, customer, client, receiver):
    url, received = receiver
    with app.app_context():
        import_realm({"realm": REALM, "clients": [{
            "client_id": "rp", "client_secret": RP_SECRET, "redirect_uris": [RP],
            "post_logout_redirect_uris": ["https://rp.example/bye"],
            "grant_types": ["authorization_code", "refresh_token"],
            "backchannel_logout_uri": url, "first_party": True}]})
        db.session.remove()
    body = sign_in(flow, client)
    sid = verify(client, body["id_token"])[1]["sid"]
    resp = client.get(LOGOUT, query_string={"id_token_hint": body["id_token"]})
    assert resp.status_code == 200
    logout.wait_for_deliveries()  # delivered in the background, never on the request
    assert len(received) == 1
    header, claims = verify(client, received[0])
    assert header["typ"] == "logout+jwt"
    assert claims["sid"] == sid and claims["aud"] == "rp"
    assert claims["events"] == {"http://schemas.openid.net/event/backchannel-logout": {}}
    assert "nonce" not in claims and claims["jti"]
