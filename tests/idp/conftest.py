"""idp fixtures: app, client, a realm with clients and customers, sign-in helpers."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.realms import fresh_idp, import_realm
from tests.support.sign_in import csrf_from, sign_in  # noqa: F401  (csrf_from: re-exported)

REALM = "paris-ile-de-france"
ISSUER = f"http://idp.test/realms/{REALM}"
RP = "https://rp.example/cb"
RP_SECRET = "rp-secret-" + "s" * 40


@pytest.fixture
def app(idp_config):
    with fresh_idp(idp_config) as application:
        with application.app_context():
            import_realm(
                {
                    "realm": REALM,
                    "display_name": "Paris Île-de-France",
                    "clients": [
                        {
                            "client_id": "rp",
                            "client_secret": RP_SECRET,
                            "redirect_uris": [RP, "https://rp.example/cb2?bar=foo"],
                            "post_logout_redirect_uris": ["https://rp.example/bye"],
                            "grant_types": ["authorization_code", "refresh_token",
                                            "client_credentials"],
                            "backchannel_logout_uri": "https://rp.example/bcl",
                            "first_party": True,
                        },
                        {
                            "client_id": "spa",
                            "redirect_uris": ["https://spa.example/cb"],
                            "token_endpoint_auth_method": "none",
                            "first_party": True,
                        },
                        {
                            "client_id": "third",
                            "client_secret": RP_SECRET,
                            "redirect_uris": ["https://third.example/cb"],
                            "first_party": False,
                            "client_name": "Appli tierce",
                        },
                        {
                            "client_id": "post",
                            "client_secret": RP_SECRET,
                            "redirect_uris": ["https://post.example/cb"],
                            "token_endpoint_auth_method": "client_secret_post",
                            "id_token_signed_response_alg": "ES256",
                            "first_party": True,
                        },
                    ],
                }
            )
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def make_customer(runner, identifier="100001", password="Bonjour-2026!", email="marie@example.test",
                  verified=True, **extra):
    args = ["customers", "create", "--realm", REALM, "--identifier", identifier]
    if email:
        args += ["--email", email]
    if verified:
        args += ["--email-verified"]
    if password:
        args += ["--password", password]
    for key, value in extra.items():
        args += [f"--{key.replace('_', '-')}", value]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    return identifier


@pytest.fixture
def customer(runner):
    return make_customer(runner, given_name="Marie", family_name="Dupont")


def pkce_pair():
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=")
    return verifier, challenge.decode()




class Browser:
    """Drives the Flask test client through authorize → login → code like a browser."""

    def __init__(self, client):
        self.client = client

    def authorize(self, **params):
        query = {"client_id": "rp", "redirect_uri": RP, "response_type": "code",
                 "scope": "openid", "state": "st", "nonce": "n-1"}
        query.update({k: v for k, v in params.items() if v is not None})
        query = {k: v for k, v in query.items() if v != "__omit__"}
        return self.client.get(f"/realms/{REALM}/protocol/openid-connect/auth",
                               query_string=query)

    def login(self, login="100001", password="Bonjour-2026!"):
        return sign_in(self.client, login, password)

    def follow(self, resp, limit=10):
        """Follow idp-internal redirects; stop at the first one leaving the idp."""
        for _ in range(limit):
            if resp.status_code not in (301, 302, 303):
                return resp
            location = resp.headers["Location"]
            parts = urlsplit(location)
            if parts.netloc and parts.netloc != "idp.test" and parts.netloc != "localhost":
                return resp
            resp = self.client.get(location)
        return resp

    def code_flow(self, login="100001", password="Bonjour-2026!", **params):
        """Authorize, sign in, and return the final redirect's query parameters."""
        resp = self.authorize(**params)
        if resp.status_code == 302 and "/login" in resp.headers["Location"]:
            resp = self.follow(self.login(login, password))
        assert resp.status_code == 302, resp.text
        return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}


@pytest.fixture
def flow(client):
    return Browser(client)
