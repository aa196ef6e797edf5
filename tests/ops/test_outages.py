"""Two idp instances through a PostgreSQL outage and a Redis outage (issue 11, items 1-3, 7).

Each test leaves the services running again: the next one starts from a healthy pair.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .conftest import REALM, Customer, IdpPair, metrics_text
from .services import IdpInstance, http, wait_for

pytestmark = pytest.mark.e2e


def test_probes_answer_on_both_instances(idp_pair: IdpPair) -> None:
    for instance in idp_pair.both:
        status, _headers, body = http("GET", instance.url + "/healthz")
        assert (status, json.loads(body)) == (200, {"status": "ok"})
        assert instance.readyz() == (200, {"status": "ok",
                                           "checks": {"database": "ok", "redis": "ok"}})


def test_postgres_outage_is_a_503_and_instances_recover_without_restart(
        idp_pair: IdpPair) -> None:
    # Warm both pools: these connections die with the server and must not be reused.
    signed_in = {}
    for instance in idp_pair.both:
        signed_in[instance.name] = Customer(idp_pair, instance)
        assert "access_token" in signed_in[instance.name].sign_in()

    idp_pair.postgres.stop()
    try:
        for instance in idp_pair.both:
            status, body = instance.readyz()
            assert status == 503
            assert body == {"status": "unavailable",
                            "checks": {"database": "unavailable", "redis": "ok"}}
            # Liveness does no I/O: the balancer must not kill a healthy process.
            assert http("GET", instance.url + "/healthz")[0] == 200

            # Redeeming a code needs the database (realm and client may be cached).
            status, headers, raw = http(
                "POST", instance.url + f"/realms/{REALM}/protocol/openid-connect/token",
                data=b"grant_type=authorization_code&code=abc&redirect_uri=https%3A%2F%2Fapp"
                     b".example%2Fcb&code_verifier=" + b"v" * 43,
                headers={"Content-Type": "application/x-www-form-urlencoded",
                         "Authorization": idp_pair.basic_auth()})
            assert status == 503
            assert json.loads(raw)["error"] == "temporarily_unavailable"
            assert int(headers["Retry-After"]) > 0

            # A signed-in customer's authorization request needs their SSO session row.
            resp = signed_in[instance.name].get(
                f"/realms/{REALM}/protocol/openid-connect/auth?client_id=app"
                "&response_type=code&scope=openid&state=s&nonce=n"
                "&redirect_uri=https%3A%2F%2Fapp.example%2Fcb&code_challenge_method=S256"
                "&code_challenge=" + "c" * 43)
            assert resp.status_code == 503, resp.text
            assert resp.json()["error"] == "temporarily_unavailable"

            status, headers, raw = http("GET", instance.url + f"/realms/{REALM}/login",
                                        headers={"Accept-Language": "fr"})
            page = raw.decode()
            assert status == 503
            assert headers["Content-Type"].startswith("text/html")
            assert "Retry-After" in headers
            assert "momentanément indisponible" in page
            assert "Traceback" not in page and "psycopg" not in page
            assert "OperationalError" not in page
    finally:
        idp_pair.postgres.start()

    # No restart: each instance is ready again within seconds, and serves a whole sign-in.
    for instance in idp_pair.both:
        wait_for(lambda i=instance: i.readyz()[0] == 200, 15, f"{instance.name} ready")
        assert "access_token" in Customer(idp_pair, instance).sign_in()
    for instance in idp_pair.both:
        log = instance.log.read_text()
        assert "database unavailable" in log
        assert "Traceback" not in log  # an outage is one warning line, not a stack trace


def _limit_keys(idp_pair: IdpPair) -> list[bytes]:
    return [k for k in idp_pair.redis.client().keys("*") if b"credential-forms" in k]


def test_redis_outage_keeps_sign_in_working_then_limits_return_to_redis(
        idp_pair: IdpPair) -> None:
    # Redis up: the per-IP budget of the credential forms is counted in Redis.
    Customer(idp_pair, idp_pair.a).sign_in()
    assert _limit_keys(idp_pair), idp_pair.redis.client().keys("*")

    idp_pair.redis.stop()
    try:
        for instance in idp_pair.both:
            # POST /login answers normally (no 500) and the code still becomes tokens.
            tokens = Customer(idp_pair, instance).sign_in()
            assert {"access_token", "id_token"} <= tokens.keys()
            status, body = instance.readyz()
            assert status == 200  # degraded, still serving: stays in the balancer
            assert body == {"status": "degraded",
                            "checks": {"database": "ok", "redis": "unavailable"}}
            assert "falling back to in-memory storage" in instance.log.read_text()
    finally:
        idp_pair.redis.start()

    # Redis back (empty, like a replacement node): each instance counts in Redis again.
    for instance in idp_pair.both:
        redis = idp_pair.redis.client()
        redis.flushall()

        def counted_in_redis(i=instance) -> bool:
            customer = Customer(idp_pair, i)
            page = customer.get(f"/realms/{REALM}/login")
            assert customer.login(page.text, page.url).status_code == 302
            return bool(_limit_keys(idp_pair))

        wait_for(counted_in_redis, 40, f"{instance.name} back on Redis", interval=0.5)
        assert instance.readyz()[1]["status"] == "ok"


def test_metrics_add_up_workers_and_request_ids_are_echoed(idp_pair: IdpPair) -> None:
    Customer(idp_pair, idp_pair.b).sign_in()
    text = metrics_text(idp_pair, idp_pair.b)
    assert re.search(r'idp_sign_ins_total\{outcome="success"\} [1-9]', text), text
    assert re.search(r'idp_tokens_issued_total\{grant="authorization_code"\} [1-9]', text)
    assert 'http_request_duration_seconds_bucket{' in text
    assert 'endpoint="oidc.token"' in text
    # Without the bearer token, nothing: the endpoint must not leak through the balancer.
    assert http("GET", idp_pair.b.url + "/metrics")[0] == 401

    status, headers, _body = http("GET", idp_pair.a.url + f"/realms/{REALM}/login",
                                  headers={"X-Request-ID": "portal-req-42"})
    assert status == 200 and headers["X-Request-ID"] == "portal-req-42"
    lines = [json.loads(line) for line in idp_pair.a.log.read_text().splitlines()
             if line.startswith("{")]
    mine = [line for line in lines if line.get("request_id") == "portal-req-42"]
    assert mine and mine[-1]["path"] == f"/realms/{REALM}/login"
    assert mine[-1]["status"] == 200 and mine[-1]["method"] == "GET"
    # A malformed id is replaced, never echoed into logs and headers.
    status, headers, _body = http("GET", idp_pair.a.url + "/healthz",
                                  headers={"X-Request-ID": "bad id\u00e9"})
    assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-ID"])


def test_once_ready_again_no_request_runs_on_a_connection_from_before(
        idp_pair: IdpPair, ops_root: Path) -> None:
    """Issue 20, item 3: once ``/readyz`` says ready, no request fails on a connection the
    restart killed, in any worker: two server workers, each with connections used just
    before the outage; ``/readyz`` and the outage's request reach one of them only."""
    instance = IdpInstance("two-workers", idp_pair.a.env, ops_root, workers=2)
    instance.start()
    try:
        wait_for(lambda: instance.readyz()[0] == 200, 15, "ready")
        tokens = [Customer(idp_pair, instance).sign_in() for _ in range(THREADS)]
        for _round in range(ROUNDS):  # both workers' pools hold just-used connections
            tokens = _every_kind(idp_pair, instance, tokens)
        idp_pair.postgres.stop()
        try:
            status, _headers, _body = http("GET", instance.url + f"/realms/{REALM}/login")
            assert status == 503
        finally:
            idp_pair.postgres.start()
        wait_for(lambda: instance.readyz()[0] == 200, 15, "ready again")
        # Straight away, in parallel, every kind, on both workers.
        for _round in range(ROUNDS):
            tokens = _every_kind(idp_pair, instance, tokens)
        assert Customer(idp_pair, instance).sign_in()["access_token"]
    finally:
        instance.stop()


THREADS = 4
ROUNDS = 4


def _every_kind(idp_pair: IdpPair, instance: IdpInstance, tokens: list[dict]) -> list[dict]:
    """Userinfo, introspection, refresh and a sign-in page for each token, on THREADS
    threads at once (each request on its own pooled connection); every answer must be a
    success. Returns the refreshed tokens."""
    from concurrent.futures import ThreadPoolExecutor

    import requests

    protocol = instance.url + f"/realms/{REALM}/protocol/openid-connect"

    def one(token: dict) -> dict:
        bearer = {"Authorization": f"Bearer {token['access_token']}"}
        resp = requests.get(f"{protocol}/userinfo", headers=bearer, timeout=10)
        assert resp.status_code == 200, ("userinfo", resp.status_code, resp.text[:200])
        resp = requests.post(f"{protocol}/token/introspect", timeout=10,
                             data={"token": token["access_token"]},
                             auth=(idp_pair.client_id, idp_pair.client_secret))
        assert resp.status_code == 200 and resp.json()["active"], resp.text[:200]
        page = requests.get(instance.url + f"/realms/{REALM}/login", timeout=10)
        assert page.status_code == 200, ("login page", page.status_code)
        resp = requests.post(f"{protocol}/token", timeout=10,
                             data={"grant_type": "refresh_token",
                                   "refresh_token": token["refresh_token"]},
                             auth=(idp_pair.client_id, idp_pair.client_secret))
        assert resp.status_code == 200, ("refresh", resp.status_code, resp.text[:200])
        return dict(resp.json())

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(one, tokens))
