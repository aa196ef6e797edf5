"""Shared by ``test_federation_*.py``: the fakes as real processes, a realm that uses them,
and a browser-like helper driving the Flask test client and the fakes (with ``requests``).

The idp's public URL is ``http://localhost:5000`` (a loopback URL the fakes accept as a
redirect URI); every request of the test client uses absolute URLs on it so that the
session cookie is always sent.
"""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import KeySet

from idp.core.models import AuditEvent, Customer, FederatedIdentity
from idp.extensions import db
from tests.fakes.run import realm_identity_providers, running_fakes
from tests.support.realms import import_realm
from tests.support.sign_in import csrf_from, sign_in

from .conftest import REALM, RP, RP_SECRET, make_customer

PUBLIC = "http://localhost:5000"
ISSUER = f"{PUBLIC}/realms/{REALM}"
ALIASES = ("google", "linkedin", "facebook", "x")
BRANDS = {"google": "Google", "linkedin": "LinkedIn", "facebook": "Facebook", "x": "X"}
PASSWORD = "Bonjour-2026!"


@pytest.fixture(scope="session", name="fakes")
def fakes_fixture() -> Iterator[dict[str, str]]:
    with running_fakes() as urls:
        yield urls


@pytest.fixture(name="idp_config")
def idp_config_fixture(idp_config):
    return {**idp_config, "PUBLIC_URL": PUBLIC, "FEDERATION_TIMEOUT": 3.0}


@pytest.fixture(name="social_app")
def social_app_fixture(app, fakes):
    with app.app_context():
        import_realm({"realm": REALM, "identity_providers": realm_identity_providers(fakes)})
    return app


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


class Social:
    """A browser: the idp through the Flask test client, the fakes through ``requests``."""

    def __init__(self, client):
        self.client = client

    def url(self, path: str) -> str:
        return urljoin(PUBLIC + "/", path)

    def get(self, path: str, **kw):
        return self.client.get(self.url(path), **kw)

    def post(self, path: str, **kw):
        return self.client.post(self.url(path), **kw)

    def internal(self, location: str) -> bool:
        parts = urlsplit(location)
        return not parts.netloc or f"{parts.scheme}://{parts.netloc}" == PUBLIC

    def follow(self, resp, limit: int = 12):
        """Follow the idp's own redirects; stop at one that leaves the idp."""
        for _ in range(limit):
            if resp.status_code not in (301, 302, 303):
                return resp
            location = resp.headers["Location"]
            if not self.internal(location):
                return resp
            resp = self.get(location)
        return resp

    def authorize(self, **params):
        query = {"client_id": "rp", "redirect_uri": RP, "response_type": "code",
                 "scope": "openid", "state": "st", "nonce": "n-1", **params}
        return self.get(f"/realms/{REALM}/protocol/openid-connect/auth?{urlencode(query)}")

    def start(self, alias: str) -> str:
        resp = self.get(f"/realms/{REALM}/broker/{alias}/login")
        assert resp.status_code == 302, resp.text
        location = resp.headers["Location"]
        assert not self.internal(location), location
        return location

    @staticmethod
    def at_provider(url: str, user: str = "alice", auto: str = "allow") -> str:
        """The fake answers (no page) with a redirect to our callback; returns that URL."""
        sep = "&" if "?" in url else "?"
        resp = requests.get(f"{url}{sep}{urlencode({'login_hint': user, 'auto': auto})}",
                            allow_redirects=False, timeout=10)
        assert resp.status_code == 302, resp.text
        location = resp.headers["Location"].split("#", 1)[0]  # Facebook's #_=_
        assert location.startswith(f"{PUBLIC}/realms/{REALM}/broker/"), location
        return location

    def callback(self, location: str):
        return self.get(location)

    def social(self, alias: str, user: str = "alice", auto: str = "allow"):
        """Button → provider → callback; returns the idp's answer to the callback."""
        return self.callback(self.at_provider(self.start(alias), user, auto))

    def link_with_password(self, alias: str, login: str, password: str = PASSWORD):
        page = self.get(f"/realms/{REALM}/broker/{alias}/link")
        assert page.status_code == 200, page.text
        return self.post(f"/realms/{REALM}/broker/{alias}/link",
                         data={"login": login, "password": password,
                               "csrf_token": csrf_from(page.text)})

    def password_login(self, login: str, password: str = PASSWORD, link: str | None = None):
        """The sign-in form; ``link`` as the link page's "Première connexion" button
        opens it (keeping the pending social identity)."""
        if link:
            return sign_in(self, login, password, realm=REALM, query=f"?first=1&link={link}",
                           link=link, first="1")
        return sign_in(self, login, password, realm=REALM)

    def id_token_claims(self, rp_redirect: str) -> dict:
        """Redeem the code of the client redirect and verify the id_token."""
        params = query_of(rp_redirect)
        assert "code" in params, params
        resp = self.post(f"/realms/{REALM}/protocol/openid-connect/token",
                         data={"grant_type": "authorization_code", "code": params["code"],
                               "redirect_uri": RP},
                         headers={"Authorization": "Basic " + base64.b64encode(
                             f"rp:{RP_SECRET}".encode()).decode()})
        assert resp.status_code == 200, resp.text
        keyset = KeySet.import_key_set(
            self.get(f"/realms/{REALM}/protocol/openid-connect/certs").json)
        claims = jwt.decode(resp.json["id_token"], keyset, algorithms=["RS256", "ES256"]).claims
        assert claims["iss"] == ISSUER
        assert claims["aud"] == "rp" or "rp" in claims["aud"]
        return claims


def customer_row(identifier: str) -> Customer:
    return db.session.execute(db.select(Customer).filter_by(identifier=identifier)).scalar_one()


def links_of(identifier: str) -> list[FederatedIdentity]:
    customer = customer_row(identifier)
    return list(db.session.execute(
        db.select(FederatedIdentity).filter_by(customer_id=customer.id)).scalars())


def all_links() -> list[FederatedIdentity]:
    return list(db.session.execute(db.select(FederatedIdentity)).scalars())


def events(name: str) -> list[AuditEvent]:
    return list(db.session.execute(
        db.select(AuditEvent).filter_by(event=name).order_by(AuditEvent.id)).scalars())


__all__ = ["ALIASES", "BRANDS", "ISSUER", "PASSWORD", "PUBLIC", "Social", "all_links",
           "closed_port_url", "csrf_from", "customer_row", "events", "fakes_fixture",
           "idp_config_fixture", "links_of", "make_customer", "query_of", "social_app_fixture"]
