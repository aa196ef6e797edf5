"""Administrative changes made with the ``idp`` CLI reach every running instance within a
second (issue 11, item 4): key rotation, client secret rotation, client disabling and
deletion, a realm setting, a disabled customer.

The CLI is another process: its cache invalidations travel through PostgreSQL
(``LISTEN/NOTIFY``, idp/web/invalidation.py). A third instance started with
``IDP_CACHE_SIGNAL=false`` is the control: it keeps serving what it cached, which shows
that the caches are real and that the signal, not luck with their lifetimes, is what
makes ``a`` and ``b`` see each change.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from idp.core import clients, keys

from .conftest import IDENTIFIER, PASSWORD, REALM, IdpPair
from .flows import Browser, cli, client_credentials, jwt_header, refresh, serving
from .services import IdpInstance, idp_cli_many, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _serving(idp_pair: IdpPair) -> None:
    serving(idp_pair)

#: The promise: every instance sees a change this soon after the command returned.
WITHIN = 1.0
CLIENT_TTL = clients.CACHE_TTL_SECONDS
KEY_TTL = keys.CACHE_TTL_SECONDS


@pytest.fixture(scope="module")
def deaf(idp_pair: IdpPair, ops_root: Path) -> Iterator[IdpInstance]:
    """A third instance on the same database, without the invalidation signal."""
    instance = IdpInstance("deaf", {**idp_pair.a.env, "IDP_CACHE_SIGNAL": "false"}, ops_root)
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def service_clients(idp_pair: IdpPair) -> dict[str, str]:
    """Client-credentials clients, one per test (each changes or deletes its own), made by
    one batch of parallel CLI calls."""
    names = [f"svc-{i}" for i in range(4)]
    outputs = idp_cli_many(idp_pair.a.env, [
        ["clients", "create", "--realm", REALM, "--client-id", name, "--grant-type",
         "client_credentials", "--scope", "openid", "--json"] for name in names])
    return {name: json.loads(out)["client_secret"] for name, out in zip(names, outputs,
                                                                         strict=True)}


@pytest.fixture
def service_client(service_clients: dict[str, str]) -> tuple[str, str]:
    return service_clients.popitem()


class Control:
    """The signal-less instance's stale answer, asserted while its cache entry (loaded at
    warm-up) is certainly still alive: on a loaded machine the CLI alone may take longer
    than a cache lifetime, and an expired entry proves nothing either way."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.warmed = time.monotonic()

    def holds(self) -> bool:
        return time.monotonic() - self.warmed < self.ttl - 1.0


def everywhere(idp_pair: IdpPair, check: Callable[[IdpInstance], bool], what: str) -> None:
    """``check`` holds on both instances within ``WITHIN`` seconds."""
    for instance in idp_pair.both:
        wait_for(lambda i=instance: check(i), WITHIN, f"{what} on {instance.name}",
                 interval=0.05)


def test_client_secret_rotation_is_seen_at_once(idp_pair: IdpPair, deaf: IdpInstance,
                                                service_client: tuple[str, str]) -> None:
    client_id, old = service_client
    for instance in (*idp_pair.both, deaf):  # every cache holds the client now
        assert client_credentials(instance, client_id, old).status_code == 200
    control = Control(CLIENT_TTL)
    new = json.loads(cli(idp_pair, "clients", "rotate-secret", "--realm", REALM, client_id,
                         "--json"))["client_secret"]
    everywhere(idp_pair, lambda i: client_credentials(i, client_id, old).status_code == 401,
               "old secret refused")
    for instance in idp_pair.both:
        assert client_credentials(instance, client_id, new).status_code == 200
    # Control: an instance without the signal still accepts the old secret (its cache).
    if control.holds():
        assert client_credentials(deaf, client_id, old).status_code == 200


def test_client_disabled_then_deleted_is_refused_at_once(
        idp_pair: IdpPair, deaf: IdpInstance, service_client: tuple[str, str]) -> None:
    client_id, secret = service_client
    for instance in (*idp_pair.both, deaf):
        assert client_credentials(instance, client_id, secret).status_code == 200
    control = Control(CLIENT_TTL)
    cli(idp_pair, "clients", "disable", "--realm", REALM, client_id)
    everywhere(idp_pair, lambda i: client_credentials(i, client_id, secret).status_code == 401,
               "disabled client refused")
    if control.holds():
        assert client_credentials(deaf, client_id, secret).status_code == 200

    cli(idp_pair, "clients", "delete", "--realm", REALM, client_id)
    everywhere(idp_pair, lambda i: client_credentials(i, client_id, secret).status_code == 401,
               "deleted client refused")


def test_key_rotation_signs_with_the_new_key_at_once(
        idp_pair: IdpPair, deaf: IdpInstance, service_client: tuple[str, str]) -> None:
    client_id, secret = service_client

    def kid(instance: IdpInstance) -> str:
        resp = client_credentials(instance, client_id, secret)
        assert resp.status_code == 200, resp.text
        return str(jwt_header(resp.json()["access_token"])["kid"])

    before = {instance.name: kid(instance) for instance in (*idp_pair.both, deaf)}
    control = Control(KEY_TTL)
    rotated = json.loads(cli(idp_pair, "keys", "rotate", "--realm", REALM, "--json"))
    new_kids = set(rotated["active_kids"])
    assert not new_kids & set(before.values())
    everywhere(idp_pair, lambda i: kid(i) in new_kids, "tokens signed with the new key")
    if control.holds():  # still the cached (previous) key
        assert kid(deaf) == before["deaf"]
    # The JWKS of every instance publishes the new key (and keeps the previous one).
    for instance in idp_pair.both:
        jwks = Browser(idp_pair).get(instance, f"/realms/{REALM}/protocol/openid-connect/certs")
        published = {k["kid"] for k in jwks.json()["keys"]}
        assert new_kids | {before[instance.name]} <= published


def test_realm_setting_is_seen_at_once(idp_pair: IdpPair, service_client: tuple[str, str],
                                       tmp_path: Path) -> None:
    client_id, secret = service_client

    def lifetime(instance: IdpInstance) -> int:
        resp = client_credentials(instance, client_id, secret)
        assert resp.status_code == 200, resp.text
        return int(resp.json()["expires_in"])

    # No signal-less control here: the realm cache lives only 10 s, and the control
    # instance's entry may have been loaded by an earlier test, so its staleness would be
    # a race; the client and key tests keep the control.
    before = {instance.name: lifetime(instance) for instance in idp_pair.both}
    wanted = 240 if before["a"] != 240 else 180
    path = tmp_path / "realm.json"
    path.write_text(json.dumps({"realm": REALM, "access_token_lifetime": wanted}),
                    encoding="utf-8")
    cli(idp_pair, "realms", "import", str(path))
    everywhere(idp_pair, lambda i: lifetime(i) == wanted, "the new access token lifetime")


def test_disabled_customer_is_refused_at_once(idp_pair: IdpPair, deaf: IdpInstance) -> None:
    identifier = "300301"
    cli(idp_pair, "customers", "create", "--realm", REALM, "--identifier", identifier,
        "--email", "disable@example.test", "--email-verified", "--password", PASSWORD)
    browser = Browser(idp_pair)
    tokens = browser.sign_in(idp_pair.a, identifier, PASSWORD)
    fresh = refresh(idp_pair, idp_pair.b, tokens["refresh_token"])
    assert fresh.status_code == 200, fresh.text

    cli(idp_pair, "customers", "disable", "--realm", REALM, "--identifier", identifier)
    # Nothing about customers is cached: even the instance without the signal refuses.
    for instance in (*idp_pair.both, deaf):
        assert refresh(idp_pair, instance, fresh.json()["refresh_token"]).status_code == 400
        page = browser.authorize(instance)  # the SSO session ended with the customer
        assert page.status_code == 200 and 'name="password"' in page.text
        refused = browser.login(instance, page, identifier, PASSWORD)
        assert refused.status_code == 401, refused.status_code  # as a wrong password
    # Other customers are untouched.
    assert Browser(idp_pair).sign_in(idp_pair.b, IDENTIFIER, PASSWORD)["access_token"]


def test_notice_payload_round_trip() -> None:
    """Keys survive the trip through a NOTIFY payload; what JSON cannot carry (bytes, a
    too long key) widens to the whole namespace, never to a wrong entry."""
    from idp.web.invalidation import MAX_PAYLOAD, database_gone, decode, encode

    for namespace, key in (("realm", "ops"), ("active_key", (3, "RS256")),
                           ("public_keys", 3), ("client", None)):
        assert decode(encode(namespace, key)) == (namespace, key)
    assert decode(encode("client", (1, "app", b"secret"))) == ("client", None)
    assert decode(encode("realm", "x" * MAX_PAYLOAD)) == ("realm", None)
    assert database_gone(Exception('connection failed: FATAL:  database "x" does not exist'))
    assert not database_gone(Exception("connection refused"))
