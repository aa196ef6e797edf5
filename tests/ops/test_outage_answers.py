"""A PostgreSQL outage is never blamed on the caller (issue 20, item 1).

With the database stopped, every protocol endpoint, asked a request that would succeed
with the database up (real credentials, real tokens), answers ``503`` with a JSON
``{"error": "temporarily_unavailable"}`` and ``Retry-After``: never a 4xx (an agency app
would discard a good secret or token) and never a 500 or an HTML page.

The cases are sent during one outage to an instance ("c") that never served these clients
or tokens: only the realm is in its cache, so the lookups of the client, the keys and the
tokens reach the database; the "cold" cases name a realm c never served, so the realm
lookup itself fails.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

from .conftest import IdpPair
from .flows import code_for
from .services import IdpInstance, http, idp_cli, idp_cli_many, wait_for

pytestmark = pytest.mark.e2e

REALM = "outage"
COLD_REALM = "outage-cold"  # never asked for on instance c: nothing of it is cached there
PROTOCOL = f"/realms/{REALM}/protocol/openid-connect"
REDIRECT_URI = "https://outage-app.example/cb"
LOGOUT_URI = "https://outage-app.example/bye"
IDENTIFIER, PASSWORD = "310001", "Panne-Bonjour-2026!"
SECRETS = {name: secrets.token_urlsafe(32)
           for name in ("web", "svc-basic", "svc-post", "svc-admin")}
JWT_KEY = RSAKey.generate_key(2048, private=True, parameters={"kid": "outage-1"})


@dataclass
class Rig:
    """What a working agency app holds before the outage, and the instance under test."""

    pair: IdpPair
    c: IdpInstance
    tokens: dict[str, str] = field(default_factory=dict)
    code: str = ""
    verifier: str = ""
    initial_token: str = ""
    registered: dict = field(default_factory=dict)
    admin_token: str = ""


def _basic(client_id: str) -> str:
    raw = f"{client_id}:{SECRETS[client_id]}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def _realm_file(root: Path) -> Path:
    svc = {"grant_types": ["client_credentials"], "response_types": [], "scope": "openid"}
    data = {"realm": REALM, "display_name": "Panne", "clients": [
        {"client_id": "web", "client_secret": SECRETS["web"], "redirect_uris": [REDIRECT_URI],
         "post_logout_redirect_uris": [LOGOUT_URI], "first_party": True,
         "grant_types": ["authorization_code", "refresh_token"],
         "scope": "openid profile email offline_access"},
        {"client_id": "svc-basic", "client_secret": SECRETS["svc-basic"], **svc},
        {"client_id": "svc-post", "client_secret": SECRETS["svc-post"], **svc,
         "token_endpoint_auth_method": "client_secret_post"},
        {"client_id": "svc-jwt", **svc, "token_endpoint_auth_method": "private_key_jwt",
         "jwks": {"keys": [JWT_KEY.as_dict(private=False)]}},
        {"client_id": "svc-admin", "client_secret": SECRETS["svc-admin"], **svc,
         "scope": "admin:customers:read"},
    ]}
    path = root / "outage-realm.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    cold = root / "outage-cold-realm.json"
    cold.write_text(json.dumps({"realm": COLD_REALM, "display_name": "Froid"}),
                    encoding="utf-8")
    return path


def _sign_in_for_code(base: str) -> tuple[str, str]:
    return code_for(base, REALM, "web", REDIRECT_URI, IDENTIFIER, PASSWORD,
                    "openid profile offline_access")


@pytest.fixture(scope="module")
def rig(idp_pair: IdpPair, ops_root: Path) -> Iterator[Rig]:
    env = idp_pair.a.env
    idp_cli(env, "realms", "import", str(_realm_file(ops_root)))
    initial, _customer, _cold = idp_cli_many(env, [
        ["clients", "initial-token", "--realm", REALM, "--uses", "5", "--json"],
        ["customers", "create", "--realm", REALM, "--identifier", IDENTIFIER,
         "--email", "panne@example.test", "--email-verified", "--password", PASSWORD],
        ["realms", "import", str(ops_root / "outage-cold-realm.json")],
    ])
    c = IdpInstance("c", env, ops_root)
    c.start()
    a = idp_pair.a.url
    rig = Rig(idp_pair, c, initial_token=json.loads(initial)["token"])
    try:
        wait_for(lambda: http("GET", f"{a}/realms/{REALM}/login")[0] == 200, 15, "a serving")
        # Tokens of a signed-in customer (redeemed on instance a: c never sees them).
        code, verifier = _sign_in_for_code(a)
        resp = requests.post(f"{a}{PROTOCOL}/token", timeout=15, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier}, headers={"Authorization": _basic("web")})
        assert resp.status_code == 200, resp.text
        rig.tokens = resp.json()
        rig.code, rig.verifier = _sign_in_for_code(a)  # kept unredeemed for the outage
        resp = requests.post(f"{a}{PROTOCOL}/token", timeout=15,
                             data={"grant_type": "client_credentials"},
                             headers={"Authorization": _basic("svc-admin")})
        assert resp.status_code == 200, resp.text
        rig.admin_token = resp.json()["access_token"]
        resp = requests.post(f"{a}/realms/{REALM}/clients-registrations/openid-connect",
                             timeout=15, json={"client_name": "Outage app",
                                               "redirect_uris": [REDIRECT_URI]},
                             headers={"Authorization": f"Bearer {rig.initial_token}"})
        assert resp.status_code == 201, resp.text
        rig.registered = resp.json()
        yield rig
    finally:
        c.stop()


def _assertion(rig: Rig) -> str:
    now = int(time.time())
    claims = {"iss": "svc-jwt", "sub": "svc-jwt", "jti": secrets.token_urlsafe(16),
              "aud": f"{rig.pair.public_url}{PROTOCOL}/token", "iat": now, "exp": now + 120}
    return jwt.encode({"alg": "RS256", "kid": JWT_KEY.kid}, claims, JWT_KEY)


Request = tuple[str, str, dict]  # method, path, requests keyword arguments
FORM = "application/x-www-form-urlencoded"

CASES: dict[str, Callable[[Rig], Request]] = {
    "token authorization_code": lambda r: ("POST", f"{PROTOCOL}/token", {
        "data": {"grant_type": "authorization_code", "code": r.code,
                 "redirect_uri": REDIRECT_URI, "code_verifier": r.verifier},
        "headers": {"Authorization": _basic("web")}}),
    "token refresh_token": lambda r: ("POST", f"{PROTOCOL}/token", {
        "data": {"grant_type": "refresh_token", "refresh_token": r.tokens["refresh_token"]},
        "headers": {"Authorization": _basic("web")}}),
    "token client_credentials client_secret_basic": lambda r: ("POST", f"{PROTOCOL}/token", {
        "data": {"grant_type": "client_credentials"},
        "headers": {"Authorization": _basic("svc-basic")}}),
    "token client_credentials client_secret_post": lambda r: ("POST", f"{PROTOCOL}/token", {
        "data": {"grant_type": "client_credentials", "client_id": "svc-post",
                 "client_secret": SECRETS["svc-post"]}}),
    "token client_credentials private_key_jwt": lambda r: ("POST", f"{PROTOCOL}/token", {
        "data": {"grant_type": "client_credentials", "client_id": "svc-jwt",
                 "client_assertion_type":
                     "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                 "client_assertion": _assertion(r)}}),
    "introspection": lambda r: ("POST", f"{PROTOCOL}/token/introspect", {
        "data": {"token": r.tokens["access_token"]},
        "headers": {"Authorization": _basic("web")}}),
    "revocation": lambda r: ("POST", f"{PROTOCOL}/revoke", {
        "data": {"token": r.tokens["refresh_token"], "token_type_hint": "refresh_token"},
        "headers": {"Authorization": _basic("web")}}),
    "userinfo": lambda r: ("GET", f"{PROTOCOL}/userinfo", {
        "headers": {"Authorization": f"Bearer {r.tokens['access_token']}"}}),
    "registration": lambda r: ("POST", f"/realms/{REALM}/clients-registrations/openid-connect",
                               {"json": {"client_name": "New app",
                                         "redirect_uris": [REDIRECT_URI]},
                                "headers": {"Authorization": f"Bearer {r.initial_token}"}}),
    "registration read (RFC 7592)": lambda r: ("GET", _client_uri(r), {
        "headers": {"Authorization": f"Bearer {r.registered['registration_access_token']}"}}),
    "registration update (RFC 7592)": lambda r: ("PUT", _client_uri(r), {
        "json": {**{k: v for k, v in r.registered.items()
                    if k not in ("registration_access_token", "registration_client_uri",
                                 "client_secret_expires_at", "client_id_issued_at")},
                 "client_name": "Renamed app"},
        "headers": {"Authorization": f"Bearer {r.registered['registration_access_token']}"}}),
    "registration delete (RFC 7592)": lambda r: ("DELETE", _client_uri(r), {
        "headers": {"Authorization": f"Bearer {r.registered['registration_access_token']}"}}),
    "jwks": lambda r: ("GET", f"{PROTOCOL}/certs", {}),
    "end_session": lambda r: ("GET", f"{PROTOCOL}/logout?" + urlencode({
        "id_token_hint": r.tokens["id_token"], "post_logout_redirect_uri": LOGOUT_URI}), {}),
    "admin API": lambda r: ("GET", f"/admin/realms/{REALM}/customers?q=310", {
        "headers": {"Authorization": f"Bearer {r.admin_token}"}}),
}
#: Needing nothing but the realm, these answer from the cache when the realm is in it.
COLD_ONLY = {
    "discovery": lambda r: ("GET", f"/realms/{COLD_REALM}/.well-known/openid-configuration",
                            {}),
    "jwks of an uncached realm": lambda r: ("GET",
                                            f"/realms/{COLD_REALM}/protocol/openid-connect"
                                            "/certs", {}),
    "token of an uncached realm": lambda r: ("POST",
                                             f"/realms/{COLD_REALM}/protocol/openid-connect"
                                             "/token", {
        "data": {"grant_type": "client_credentials"},
        "headers": {"Authorization": _basic("svc-basic")}}),
}


def _client_uri(rig: Rig) -> str:
    return urlsplit(rig.registered["registration_client_uri"]).path


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]  # case-insensitive: granian sends lower-case names
    body: bytes


@pytest.fixture(scope="module")
def answers(rig: Rig) -> dict[str, Answer]:
    """Every case sent to c during one outage, c having only the realm in its cache (the
    cases need a second or so together, well within the realm cache's lifetime)."""
    c = rig.c
    # The realm in c's cache (a dead pooled connection may cost one 503 first).
    wait_for(lambda: http("GET", f"{c.url}/realms/{REALM}/.well-known/"
                                 "openid-configuration")[0] == 200, 20, "c serving")
    prepared = {name: make(rig) for name, make in {**CASES, **COLD_ONLY}.items()}
    found: dict[str, Answer] = {}
    rig.pair.postgres.stop()
    try:
        for name, (method, path, kwargs) in prepared.items():
            resp = requests.request(method, c.url + path, allow_redirects=False, timeout=15,
                                    **kwargs)
            found[name] = Answer(resp.status_code, resp.headers, resp.content)
    finally:
        rig.pair.postgres.start()
        # The tests after this module share the pair: leave every instance serving.
        for instance in (*rig.pair.both, c):
            wait_for(lambda i=instance: i.readyz()[0] == 200, 60, f"{instance.name} ready")
    return found


def _check_unavailable(answer: Answer) -> None:
    assert answer.status == 503, (answer.status, answer.headers, answer.body[:500])
    assert "json" in answer.headers["Content-Type"], answer.headers
    assert json.loads(answer.body)["error"] == "temporarily_unavailable", answer.body
    assert int(answer.headers["Retry-After"]) > 0
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("case", list(CASES))
def test_each_endpoint_answers_503_when_only_the_realm_is_cached(
        answers: dict[str, Answer], case: str) -> None:
    _check_unavailable(answers[case])


@pytest.mark.parametrize("case", list(COLD_ONLY))
def test_each_endpoint_answers_503_when_nothing_is_cached(
        answers: dict[str, Answer], case: str) -> None:
    _check_unavailable(answers[case])


def test_the_caller_credentials_still_work_after_the_outage(rig: Rig) -> None:
    """The 503s consumed nothing: the refresh token, the secrets, the assertion key and the
    registration still work once the database is back (a 4xx would have made the app
    discard them)."""
    c = rig.c
    wait_for(lambda: c.readyz()[0] == 200, 20, "c ready")
    wait_for(lambda: http("GET", f"{c.url}/realms/{REALM}/.well-known/"
                                 "openid-configuration")[0] == 200, 20, "c serving")
    for case in ("token refresh_token",
                 "token client_credentials client_secret_basic",
                 "token client_credentials client_secret_post",
                 "token client_credentials private_key_jwt", "registration read (RFC 7592)"):
        method, path, kwargs = CASES[case](rig)
        resp = requests.request(method, c.url + path, allow_redirects=False, timeout=15,
                                **kwargs)
        assert resp.status_code == 200, (case, resp.status_code, resp.text[:300])
