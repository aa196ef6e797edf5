"""Two idp instances share every piece of state (issue 11, item 6).

Both idp instances run on one PostgreSQL database and one Redis, as behind a load
balancer without sticky sessions: whichever instance serves a step, the customer and the
client see one service. Races are run for real, on two processes, with a barrier.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from joserfc.jwk import RSAKey

from .conftest import IDENTIFIER, PASSWORD, REALM, IdpPair
from .flows import (
    PROTOCOL,
    Browser,
    cli,
    client_assertion,
    refresh,
    serving,
    sql,
)
from .services import BIN, ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _serving(idp_pair: IdpPair) -> None:
    serving(idp_pair)


def at_once(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` in threads released together; their results in order."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(i: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[i] = call()
        except Exception as exc:  # reported as the result, asserted by the test
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def new_customer(pair: IdpPair, identifier: str, *extra: str) -> None:
    cli(pair, "customers", "create", "--realm", REALM, "--identifier", identifier,
        "--email", f"{identifier}@example.test", "--email-verified", *extra)


def test_authorize_on_one_sign_in_on_the_other_refresh_on_either(idp_pair: IdpPair) -> None:
    a, b = idp_pair.both
    browser = Browser(idp_pair)
    page = browser.authorize(a)                      # the client's request reaches a
    assert page.status_code == 200 and 'name="password"' in page.text
    done = browser.follow(b, browser.login(b, page, IDENTIFIER, PASSWORD))  # the form, b
    token = browser.redeem(a, done)                  # the client redeems on a
    assert token.status_code == 200, token.text
    first = token.json()["refresh_token"]

    on_b = refresh(idp_pair, b, first)
    assert on_b.status_code == 200, on_b.text
    on_a = refresh(idp_pair, a, on_b.json()["refresh_token"])
    assert on_a.status_code == 200, on_a.text
    # The rotated token is spent everywhere: reuse on the other instance is refused.
    assert refresh(idp_pair, b, first).status_code == 400

    # The SSO session started on b is known to a: a new authorization needs no password.
    again = browser.authorize(a)
    assert again.status_code == 302, again.text[:300]
    assert browser.redeem(b, again).status_code == 200


def test_lockout_counts_failures_from_both_instances(idp_pair: IdpPair) -> None:
    new_customer(idp_pair, "300101", "--password", PASSWORD)
    failures = 5  # the realm's brute_force.failure_factor: then a growing wait
    for i in range(failures):
        instance = idp_pair.both[i % 2]
        browser = Browser(idp_pair)
        page = browser.authorize(instance)
        refused = browser.login(instance, page, "300101", f"wrong-{i}")
        assert refused.status_code == 401, refused.status_code
    assert sql(idp_pair, "SELECT failed_attempts, locked_until IS NOT NULL FROM customer "
                         "WHERE identifier = %s", "300101") == [(failures, True)]
    for instance in idp_pair.both:  # the right password is refused on both now
        browser = Browser(idp_pair)
        page = browser.authorize(instance)
        assert browser.login(instance, page, "300101", PASSWORD).status_code == 401


def test_logout_on_one_instance_ends_the_session_on_every_instance(idp_pair: IdpPair) -> None:
    a, b = idp_pair.both
    browser = Browser(idp_pair)
    tokens = browser.sign_in(a, IDENTIFIER, PASSWORD)
    # Another tab of the same browser, bound to a: same cookie.
    other_tab = Browser(idp_pair)
    other_tab.http.cookies.update(browser.http.cookies)
    assert other_tab.authorize(a).status_code == 302  # signed in on a

    bye = browser.get(b, f"{PROTOCOL}/logout?id_token_hint={tokens['id_token']}")
    assert bye.status_code == 200, bye.text[:300]

    page = other_tab.authorize(a)  # the old cookie on a: the session row has ended
    assert page.status_code == 200 and 'name="password"' in page.text


def test_private_key_jwt_assertion_replayed_on_the_other_instance_is_refused(
        idp_pair: IdpPair, tmp_path: Path) -> None:
    key = RSAKey.generate_key(2048, private=True, parameters={"kid": "ops-jwt-1"})
    realm = {"realm": REALM, "clients": [{
        "client_id": "jwt-app", "token_endpoint_auth_method": "private_key_jwt",
        "grant_types": ["client_credentials"], "redirect_uris": [], "scope": "openid",
        "jwks": {"keys": [key.as_dict(private=False)]}}]}
    path = tmp_path / "jwt-client.json"
    path.write_text(json.dumps(realm), encoding="utf-8")
    cli(idp_pair, "realms", "import", str(path))

    def token(instance: Any, assertion: str) -> requests.Response:
        return requests.post(instance.url + f"{PROTOCOL}/token", timeout=15, data={
            "grant_type": "client_credentials", "client_id": "jwt-app",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion})

    assertion = client_assertion(idp_pair, key, "jwt-app")
    first = token(idp_pair.a, assertion)
    assert first.status_code == 200, first.text
    replayed = token(idp_pair.b, assertion)
    # invalid_client, 400: RFC 6749 §5.2 asks 401 only with an Authorization header, and
    # the assertion travels in the body (tests/idp/test_private_key_jwt_and_errors.py)
    assert replayed.status_code == 400, replayed.text
    assert replayed.json()["error"] == "invalid_client", replayed.text
    # At the same moment on both instances: exactly one of two uses passes.
    fresh = client_assertion(idp_pair, key, "jwt-app")
    results = at_once(lambda: token(idp_pair.a, fresh), lambda: token(idp_pair.b, fresh))
    assert sorted(r.status_code == 200 for r in results) == [False, True], results
    assert [r.json().get("error") for r in results if r.status_code != 200] == [
        "invalid_client"]


def test_two_first_connections_at_once_leave_one_password(idp_pair: IdpPair) -> None:
    new_customer(idp_pair, "300201", "--temporary-password", "482913")
    [(version,)] = sql(idp_pair, "SELECT credential_version FROM customer "
                                 "WHERE identifier = %s", "300201")
    chosen = {"a": "Premiere-Connexion-A-2026!", "b": "Premiere-Connexion-B-2026!"}
    forms = {}
    browsers = {}
    for instance in idp_pair.both:  # two browsers, one per instance, both at the form
        browser = Browser(idp_pair)
        page = browser.authorize(instance)
        page = browser.follow(instance, browser.login(instance, page, "300201", "482913"))
        assert page.status_code == 200 and 'name="confirm"' in page.text, page.text[:300]
        browsers[instance.name], forms[instance.name] = browser, page

    def choose(instance: Any) -> requests.Response:
        password = chosen[instance.name]
        return browsers[instance.name].submit(instance, forms[instance.name],
                                              {"password": password, "confirm": password})

    results = at_once(lambda: choose(idp_pair.a), lambda: choose(idp_pair.b))
    assert all(isinstance(r, requests.Response) for r in results), results
    outcome = {}
    for instance, resp in zip(idp_pair.both, results, strict=True):
        final = browsers[instance.name].follow(instance, resp)
        reached_client = final.status_code in (302, 303) and "code=" in final.headers.get(
            "Location", "")
        outcome[instance.name] = reached_client
        assert final.status_code < 500, final.status_code
    assert sorted(outcome.values()) == [False, True], outcome  # exactly one winner
    winner = next(name for name, won in outcome.items() if won)

    [(new_version, temporary, has_password)] = sql(
        idp_pair, "SELECT credential_version, temporary_code_hash IS NULL, "
                  "password_hash IS NOT NULL FROM customer WHERE identifier = %s", "300201")
    assert (new_version, temporary, has_password) == (version + 1, True, True)
    # The winner's password is the one kept; the loser's never worked.
    loser = "b" if winner == "a" else "a"
    assert Browser(idp_pair).sign_in(idp_pair.b, "300201", chosen[winner])["access_token"]
    late = Browser(idp_pair)
    page = late.authorize(idp_pair.a)
    assert late.login(idp_pair.a, page, "300201", chosen[loser]).status_code == 401


def test_two_refreshes_of_one_token_at_once_leave_one_winner(idp_pair: IdpPair) -> None:
    tokens = Browser(idp_pair).sign_in(idp_pair.a, IDENTIFIER, PASSWORD)
    rt = tokens["refresh_token"]
    results = at_once(lambda: refresh(idp_pair, idp_pair.a, rt),
                      lambda: refresh(idp_pair, idp_pair.b, rt))
    statuses = sorted(r.status_code for r in results)
    assert statuses == [200, 400], [(r.status_code, r.text) for r in results]
    # One rotation recorded, one child issued, and the reuse revoked the family
    # (RFC 9700 §4.14.2): no half-rotated row.
    import hashlib

    digest = hashlib.sha256(rt.encode()).hexdigest()
    [(family, rotated)] = sql(idp_pair, "SELECT family_id, rotated_at IS NOT NULL FROM token "
                                        "WHERE refresh_hash = %s", digest)
    assert rotated
    rows = sql(idp_pair, "SELECT rotated_at IS NOT NULL, revoked_at IS NOT NULL FROM token "
                         "WHERE family_id = %s ORDER BY id", family)
    assert len(rows) == 2, rows
    assert all(revoked for _rotated, revoked in rows), rows


def test_import_while_customers_sign_in_loses_nothing(idp_pair: IdpPair,
                                                      tmp_path: Path) -> None:
    rows = 3000
    csv = tmp_path / "customers.csv"
    lines = ["identifier,email,given_name,family_name,temporary_password"]
    lines += [f"imp{i:05d},imp{i:05d}@example.test,Prénom{i},Nom{i},{100000 + i}"
              for i in range(rows)]
    lines.append(f"{IDENTIFIER},ops@example.test,Changé,Changé,123456")  # active: kept
    csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    before = sql(idp_pair, "SELECT count(*) FROM token")[0][0]

    proc = subprocess.Popen([str(BIN / "idp"), "customers", "import", "--realm", REALM,
                             "--json", str(csv)], env=idp_pair.a.env, cwd=ROOT, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    signed_in: list[str] = []
    failures: list[str] = []

    def keep_signing_in(instance: Any) -> None:
        while proc.poll() is None:
            try:
                Browser(idp_pair).sign_in(instance, IDENTIFIER, PASSWORD)
                signed_in.append(instance.name)
            except AssertionError as exc:
                failures.append(str(exc)[:300])

    workers = [threading.Thread(target=keep_signing_in, args=(i,)) for i in idp_pair.both]
    for w in workers:
        w.start()
    out, err = proc.communicate(timeout=120)
    for w in workers:
        w.join(30)
    assert proc.returncode == 0, err
    summary = json.loads(out)
    assert (summary["created"], summary["skipped_active"]) == (rows, 1), summary
    assert not failures, failures
    assert {"a", "b"} <= set(signed_in), signed_in  # both instances served meanwhile
    assert sql(idp_pair, "SELECT count(*) FROM customer WHERE identifier LIKE 'imp%%'")[0][0] \
        == rows
    # Every sign-in's token is there, and the active customer kept their password.
    assert sql(idp_pair, "SELECT count(*) FROM token")[0][0] - before == len(signed_in)
    assert Browser(idp_pair).sign_in(idp_pair.b, IDENTIFIER, PASSWORD)["access_token"]
