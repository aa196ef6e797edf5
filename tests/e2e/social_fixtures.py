"""Fixtures for the social sign-in journeys, on top of ``tests/e2e/conftest.py``:

- ``social_fakes``: the four fake providers as real processes (session);
- ``social_realm``: a fresh realm per test (so a fake user is never already linked) whose
  ``identity_providers`` point at the fakes, with one confidential client whose redirect URI
  is served by ``relying_party``;
- ``relying_party``: a tiny real HTTP server playing the client app: it records every
  redirect it receives and redeems codes at the idp's token endpoint.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.fakes.run import realm_identity_providers, running_fakes

from .conftest import IdpServer

CLIENT_ID = "rp-social"
CLIENT_SECRET = "rp-social-secret-" + "s" * 32
PASSWORD = "Bonjour-2026!"


@pytest.fixture(scope="session", name="social_fakes")
def social_fakes_fixture() -> Iterator[dict[str, str]]:
    with running_fakes() as urls:
        yield urls


@dataclass
class RelyingParty:
    url: str
    hits: list[dict[str, str]] = field(default_factory=list)

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/cb"

    def last(self) -> dict[str, str]:
        assert self.hits, "the client app was never called back"
        return self.hits[-1]


@pytest.fixture(scope="session", name="relying_party")
def relying_party_fixture() -> Iterator[RelyingParty]:
    rp = RelyingParty(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            if parts.path == "/cb":  # not /favicon.ico
                rp.hits.append(dict(parse_qsl(parts.query)))
            body = b"<!doctype html><html lang='fr'><title>Appli</title><h1>Appli cliente</h1>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rp.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rp
    server.shutdown()
    server.server_close()


@dataclass
class SocialRealm:
    server: IdpServer
    realm: str
    rp: RelyingParty

    def url(self, path: str = "") -> str:
        return self.server.realm_url(self.realm, path)

    def authorize_url(self, state: str) -> str:
        query = {"client_id": CLIENT_ID, "redirect_uri": self.rp.redirect_uri,
                 "response_type": "code", "scope": "openid", "state": state, "nonce": state}
        return self.url("protocol/openid-connect/auth") + "?" + urlencode(query)

    def customer(self, email: str | None = None) -> str:
        ident = str(uuid.uuid4().int)[:9]
        args = ["customers", "create", "--realm", self.realm, "--identifier", ident,
                "--password", PASSWORD]
        if email:
            args += ["--email", email, "--email-verified"]
        self.server.cli(*args)
        return ident

    def id_token_claims(self, code: str) -> dict:
        resp = requests.post(self.url("protocol/openid-connect/token"),
                             data={"grant_type": "authorization_code", "code": code,
                                   "redirect_uri": self.rp.redirect_uri},
                             auth=(CLIENT_ID, CLIENT_SECRET), timeout=10)
        assert resp.status_code == 200, resp.text
        keys = KeySet.import_key_set(
            requests.get(self.url("protocol/openid-connect/certs"), timeout=10).json())
        claims = jwt.decode(resp.json()["id_token"], keys, algorithms=["RS256", "ES256"]).claims
        assert claims["iss"] == self.url().rstrip("/")
        return claims


@pytest.fixture(name="social_realm")
def social_realm_fixture(idp_server: IdpServer, social_fakes: dict[str, str],
                 relying_party: RelyingParty) -> SocialRealm:
    slug = f"social-{uuid.uuid4().hex[:8]}"
    idp_server.load_realm({
        "realm": slug, "display_name": "Paris Île-de-France",
        "identity_providers": realm_identity_providers(social_fakes),
        "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                     "redirect_uris": [relying_party.redirect_uri],
                     "grant_types": ["authorization_code"], "first_party": True}],
    })
    return SocialRealm(server=idp_server, realm=slug, rp=relying_party)
