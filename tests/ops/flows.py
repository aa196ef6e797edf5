"""Browser-less OIDC steps for the multi-instance tests, each aimed at a chosen instance.

A ``Browser`` keeps one cookie jar (cookies ignore the port, so the jar is shared by both
instances as behind a load balancer); every call names the instance that serves it, so a
test can authorize on one instance, sign in on the other and redeem on the first.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from .conftest import REALM, REDIRECT_URI, IdpPair
from .services import IdpInstance, idp_cli

PROTOCOL = f"/realms/{REALM}/protocol/openid-connect"
REDIRECTS = (301, 302, 303)


def db_url(pair: IdpPair) -> str:
    """libpq URL of the pair's database (for checks the HTTP surface cannot show)."""
    return pair.a.env["IDP_SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://",
                                                              "postgresql://")


def sql(pair: IdpPair, query: str, *params: Any) -> list[tuple]:
    import psycopg

    with psycopg.connect(db_url(pair), autocommit=True) as conn:
        cur = conn.execute(query, params)
        return list(cur.fetchall()) if cur.description else []


def cli(pair: IdpPair, *args: str) -> str:
    return idp_cli(pair.a.env, *args)


@dataclass
class Browser:
    """One browser: its cookies, and the PKCE verifier of its current authorization."""

    pair: IdpPair
    http: requests.Session = field(default_factory=requests.Session)
    verifier: str = ""

    def url(self, instance: IdpInstance, path_or_url: str) -> str:
        """The balancer's view: a public-URL link served by ``instance``."""
        if path_or_url.startswith(self.pair.public_url):
            path_or_url = path_or_url[len(self.pair.public_url):]
        return path_or_url if path_or_url.startswith("http") else instance.url + path_or_url

    def get(self, instance: IdpInstance, path: str) -> requests.Response:
        return self.http.get(self.url(instance, path), allow_redirects=False, timeout=15)

    def post(self, instance: IdpInstance, path: str, **kwargs: Any) -> requests.Response:
        return self.http.post(self.url(instance, path), allow_redirects=False, timeout=15,
                              **kwargs)

    def follow(self, instance: IdpInstance, resp: requests.Response) -> requests.Response:
        """Follow redirects on ``instance`` until a page or the client's redirect URI."""
        for _ in range(10):
            if resp.status_code not in REDIRECTS:
                return resp
            if resp.headers["Location"].startswith(REDIRECT_URI):
                return resp
            resp = self.get(instance, resp.headers["Location"])
        raise AssertionError("redirect loop")

    def authorize(self, instance: IdpInstance, client_id: str | None = None
                  ) -> requests.Response:
        """Start a code flow (PKCE) on ``instance``; returns the sign-in page or the
        redirect back to the client (already signed in)."""
        self.verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(self.verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({"client_id": client_id or self.pair.client_id,
                           "redirect_uri": REDIRECT_URI, "response_type": "code",
                           "scope": "openid offline_access", "state": "st", "nonce": "no",
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        return self.follow(instance, self.get(instance, f"{PROTOCOL}/auth?{query}"))

    def submit(self, instance: IdpInstance, page: requests.Response,
               fields: dict[str, str]) -> requests.Response:
        """Post ``page``'s form (its CSRF token) to its own address, on ``instance``."""
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
        assert match, page.text[:500]
        path = urlsplit(page.url)
        target = path.path + (f"?{path.query}" if path.query else "")
        return self.post(instance, target, data={**fields, "csrf_token": match.group(1)})

    def login(self, instance: IdpInstance, page: requests.Response, identifier: str,
              password: str) -> requests.Response:
        return self.submit(instance, page, {"login": identifier, "password": password})

    def redeem(self, instance: IdpInstance, resp: requests.Response) -> requests.Response:
        """The code in the redirect back to the client, redeemed on ``instance``."""
        assert resp.status_code == 302, (resp.status_code, resp.text[:500])
        params = parse_qs(urlsplit(resp.headers["Location"]).query)
        assert "code" in params, resp.headers["Location"]
        return requests.post(
            instance.url + f"{PROTOCOL}/token", timeout=15,
            data={"grant_type": "authorization_code", "code": params["code"][0],
                  "redirect_uri": REDIRECT_URI, "code_verifier": self.verifier},
            auth=(self.pair.client_id, self.pair.client_secret))

    def sign_in(self, instance: IdpInstance, identifier: str, password: str) -> dict[str, Any]:
        """The whole flow on one instance; returns the token response."""
        page = self.authorize(instance)
        if page.status_code == 200:
            page = self.follow(instance, self.login(instance, page, identifier, password))
        token = self.redeem(instance, page)
        assert token.status_code == 200, (token.status_code, token.text)
        return dict(token.json())


def code_for(base: str, realm: str, client_id: str, redirect_uri: str, identifier: str,
             password: str, scope: str = "openid offline_access") -> tuple[str, str]:
    """Authorize and sign in at ``base`` without JavaScript: (code, PKCE verifier), the code
    left unredeemed."""
    session = requests.Session()
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri,
                       "response_type": "code", "scope": scope, "state": "s", "nonce": "n",
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    resp = session.get(f"{base}/realms/{realm}/protocol/openid-connect/auth?{query}",
                       timeout=15)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', resp.text)
    assert match, resp.text[:500]
    resp = session.post(resp.url, data={"login": identifier, "password": password,
                                        "csrf_token": match.group(1)},
                        allow_redirects=False, timeout=15)
    for _ in range(10):
        location = resp.headers.get("Location", "")
        if location.startswith(redirect_uri) or resp.status_code not in REDIRECTS:
            break
        resp = session.get(location if location.startswith("http") else base + location,
                           allow_redirects=False, timeout=15)
    location = resp.headers.get("Location", "")
    assert location.startswith(redirect_uri), (resp.status_code, resp.text[:500])
    return parse_qs(urlsplit(location).query)["code"][0], verifier


def refresh(pair: IdpPair, instance: IdpInstance, refresh_token: str) -> requests.Response:
    return requests.post(instance.url + f"{PROTOCOL}/token", timeout=15,
                         data={"grant_type": "refresh_token", "refresh_token": refresh_token},
                         auth=(pair.client_id, pair.client_secret))


def client_credentials(instance: IdpInstance, client_id: str, secret: str
                       ) -> requests.Response:
    return requests.post(instance.url + f"{PROTOCOL}/token", timeout=15,
                         data={"grant_type": "client_credentials"}, auth=(client_id, secret))


def jwt_header(token: str) -> dict[str, Any]:
    head = token.split(".")[0]
    import json

    return dict(json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))))


def client_assertion(pair: IdpPair, key: RSAKey, client_id: str) -> str:
    """A ``private_key_jwt`` assertion (RFC 7523) for the token endpoint, valid 60 s."""
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "jti": secrets.token_urlsafe(16),
              "aud": f"{pair.public_url}{PROTOCOL}/token", "iat": now, "exp": now + 60}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)


def serving(pair: IdpPair) -> None:
    """Wait until both instances serve a page that needs the database.

    Another test may just have stopped and restarted PostgreSQL (the portal's outage test
    shares the cluster): an instance answers 503 once per dead pooled connection, then
    recovers by itself; these tests start from recovered instances.
    """
    from .services import wait_for

    def ok(instance: IdpInstance) -> bool:
        return Browser(pair).authorize(instance).status_code == 200

    for instance in pair.both:
        wait_for(lambda i=instance: ok(i), 15, f"{instance.name} serving again")
