"""Fixtures for the operations tests: own PostgreSQL, own Redis, two idp instances.

``idp_pair`` is two idp server processes on one private PostgreSQL database and one
private Redis (as behind a load balancer: same secret key, same public URL), set up through
the ``idp`` CLI only. ``Customer`` drives a browser-less code flow against either instance.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from .services import (
    ROOT,
    IdpInstance,
    PostgresCluster,
    RedisServer,
    http,
    idp_cli,
    idp_cli_many,
    temp_root,
)

REALM = "ops"
REDIRECT_URI = "https://app.example/cb"
PASSWORD = "Ops-Bonjour-2026!"
IDENTIFIER = "300001"


@pytest.fixture(scope="session")
def ops_root() -> Iterator[Path]:
    root = temp_root("espace-ops-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres(ops_root: Path) -> Iterator[PostgresCluster]:
    cluster = PostgresCluster(ops_root / "pg").init()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="session")
def redis_server(ops_root: Path) -> Iterator[RedisServer]:
    server = RedisServer(ops_root)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@dataclass
class IdpPair:
    """Two instances, the client registered on them, and the shared services."""

    a: IdpInstance
    b: IdpInstance
    postgres: PostgresCluster
    redis: RedisServer
    public_url: str
    client_id: str
    client_secret: str
    metrics_token: str

    def basic_auth(self) -> str:
        raw = f"{self.client_id}:{self.client_secret}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    @property
    def both(self) -> tuple[IdpInstance, IdpInstance]:
        return (self.a, self.b)


@pytest.fixture(scope="session")
def idp_pair(ops_root: Path, postgres: PostgresCluster,
             redis_server: RedisServer) -> Iterator[IdpPair]:
    database = postgres.create_database("idp_ops")
    port_a = IdpInstance("a", {}, ops_root).port
    public_url = f"http://127.0.0.1:{port_a}"
    metrics_token = secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "IDP_SECRET_KEY": "ops-" + secrets.token_urlsafe(32),
        "IDP_PUBLIC_URL": public_url,
        "IDP_SQLALCHEMY_DATABASE_URI": database,
        "IDP_RATELIMIT_STORAGE_URI": redis_server.url,
        "IDP_RATELIMIT_ENABLED": "true",
        "IDP_LOGIN_RATE_LIMIT": "1000/minute",
        "IDP_MAIL_SUPPRESS_SEND": "true",
        "IDP_METRICS_TOKEN": metrics_token,
        "IDP_ARGON2_TIME_COST": "1",
        "IDP_ARGON2_MEMORY_COST": "1024",
        "IDP_ARGON2_PARALLELISM": "1",
        "FLASK_DEBUG": "0",
    }
    realm_file = ops_root / "realm.json"
    realm_file.write_text(json.dumps({"realm": REALM, "display_name": "Opérations"}),
                          encoding="utf-8")
    idp_cli(env, "db", "upgrade")
    idp_cli(env, "realms", "import", str(realm_file))
    _customer, client = idp_cli_many(env, [
        ["customers", "create", "--realm", REALM, "--identifier", IDENTIFIER,
         "--email", "ops@example.test", "--email-verified", "--password", PASSWORD],
        ["clients", "create", "--realm", REALM, "--client-id", "app",
         "--redirect-uri", REDIRECT_URI, "--json"],
    ])
    created = json.loads(client)
    a = IdpInstance("a", env, ops_root, port=port_a)
    b = IdpInstance("b", env, ops_root)
    try:
        a.spawn()
        b.spawn()
        a.wait_up()
        b.wait_up()
        yield IdpPair(a, b, postgres, redis_server, public_url, created["client_id"],
                      created["client_secret"], metrics_token)
    finally:
        a.stop()
        b.stop()


class Customer:
    """A browser without JavaScript: cookies, the CSRF field, redirects kept on one instance."""

    def __init__(self, pair: IdpPair, instance: IdpInstance) -> None:
        import requests

        self.pair = pair
        self.instance = instance
        self.http = requests.Session()

    def _local(self, url: str) -> str:
        """The balancer's view: any public-URL link is served by the chosen instance."""
        if url.startswith(self.pair.public_url):
            url = url[len(self.pair.public_url):]
        return url if url.startswith("http") else self.instance.url + url

    def get(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.http.get(self._local(path), allow_redirects=False, timeout=10, **kwargs)

    def post(self, path: str, **kwargs):  # type: ignore[no-untyped-def]
        return self.http.post(self._local(path), allow_redirects=False, timeout=10, **kwargs)

    def sign_in(self) -> dict[str, str]:
        """Authorize, sign in, redeem the code: returns the token response."""
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(
            hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        query = urlencode({"client_id": self.pair.client_id, "redirect_uri": REDIRECT_URI,
                           "response_type": "code", "scope": "openid", "state": "s-1",
                           "nonce": "n-1", "code_challenge": challenge,
                           "code_challenge_method": "S256"})
        resp = self.get(f"/realms/{REALM}/protocol/openid-connect/auth?{query}")
        for _ in range(10):
            if resp.status_code not in (301, 302, 303):
                break
            location = resp.headers["Location"]
            if location.startswith(REDIRECT_URI):
                break
            resp = self.get(location)
        if resp.status_code == 200:  # the sign-in form
            assert "csrf_token" in resp.text, resp.text[:500]
            resp = self.login(resp.text, resp.url)
            for _ in range(10):
                if resp.status_code not in (301, 302, 303):
                    break
                if resp.headers["Location"].startswith(REDIRECT_URI):
                    break
                resp = self.get(resp.headers["Location"])
        assert resp.status_code == 302, (resp.status_code, resp.text[:500])
        params = parse_qs(urlsplit(resp.headers["Location"]).query)
        assert "code" in params, resp.headers["Location"]
        token = self.post(f"/realms/{REALM}/protocol/openid-connect/token",
                          data={"grant_type": "authorization_code", "code": params["code"][0],
                                "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
                          auth=(self.pair.client_id, self.pair.client_secret))
        assert token.status_code == 200, (token.status_code, token.text)
        return token.json()

    def login(self, page: str, url: str):  # type: ignore[no-untyped-def]
        match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
        assert match, page[:500]
        return self.http.post(url, data={"login": IDENTIFIER, "password": PASSWORD,
                                         "csrf_token": match.group(1)},
                              allow_redirects=False, timeout=10)


def metrics_text(pair: IdpPair, instance: IdpInstance) -> str:
    status, _headers, body = http("GET", instance.url + "/metrics",
                                  headers={"Authorization": f"Bearer {pair.metrics_token}"})
    assert status == 200, body[:300]
    return body.decode()
