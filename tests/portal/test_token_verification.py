"""``shared.token_verification.JWKSVerifier`` against the fake provider's real JWKS endpoint."""

from __future__ import annotations

import base64
import json
import time

import pytest

from shared.token_verification import (
    InsufficientScope,
    JWKSVerifier,
    KeySourceError,
    TokenError,
)

from .fake_op import CLIENT_ID


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def verifier(op, clock):
    return JWKSVerifier(op.issuer, min_refetch_interval=10, clock=clock)


def test_discovers_jwks_uri_and_caches_keys(verifier, op):
    before = op.jwks_requests
    for _ in range(5):
        verifier.verify_access_token(op.access_token(), audience=CLIENT_ID)
    assert op.jwks_requests == before + 1
    assert verifier.jwks_uri.endswith("/protocol/openid-connect/certs")


def test_unknown_kid_refetches_once_then_waits_the_minimum_interval(verifier, op, clock):
    verifier.verify_access_token(op.access_token(), audience=CLIENT_ID)
    op.rotate_keys()
    clock.now += 11
    verifier.verify_access_token(op.access_token(), audience=CLIENT_ID)  # refetch: found
    assert verifier.fetch_count == 2
    for _ in range(3):  # forged kids right after: no refetch storm
        with pytest.raises(TokenError, match="unknown signing key"):
            verifier.verify_access_token(op.access_token(kid="forged"), audience=CLIENT_ID)
    assert verifier.fetch_count == 2
    clock.now += 11
    with pytest.raises(TokenError):
        verifier.verify_access_token(op.access_token(kid="forged"), audience=CLIENT_ID)
    assert verifier.fetch_count == 3


def test_cache_expires_so_withdrawn_keys_stop_working(op, clock):
    verifier = JWKSVerifier(op.issuer, cache_ttl=60, clock=clock)
    old_token = op.access_token()
    verifier.verify_access_token(old_token, audience=CLIENT_ID)
    op.rotate_keys(keep_old=False)
    clock.now += 61
    with pytest.raises(TokenError, match="unknown signing key"):
        verifier.verify_access_token(old_token, audience=CLIENT_ID)


def test_es256_keys(verifier, op):
    op.rotate_keys(kind="EC")
    claims = verifier.verify_access_token(op.access_token(), audience=CLIENT_ID)
    assert claims["customer_id"] == "100001"


def _unsigned(header: dict, claims: dict) -> str:
    def enc(d: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()

    return f"{enc(header)}.{enc(claims)}.c2ln"


@pytest.mark.parametrize("alg", ["none", "HS256"])
def test_none_and_symmetric_algorithms_are_refused(verifier, op, alg):
    now = int(time.time())
    token = _unsigned({"alg": alg, "typ": "at+jwt", "kid": "key-1"},
                      {"iss": op.issuer, "aud": CLIENT_ID, "exp": now + 60, "iat": now,
                       "sub": "x", "scope": "customer"})
    with pytest.raises(TokenError, match="unsupported signing algorithm"):
        verifier.verify_access_token(token, audience=CLIENT_ID)


def test_required_scope(verifier, op):
    with pytest.raises(InsufficientScope):
        verifier.verify_access_token(op.access_token(scope="openid"), audience=CLIENT_ID,
                                     required_scopes=("customer",))


def test_id_token_checks(verifier, op, clock):
    good = op.sign(op.id_token_claims("100002", "n-1", "sid-1"))
    assert verifier.verify_id_token(good, client_id=CLIENT_ID, nonce="n-1")["sub"] == \
        "sub-100002"
    with pytest.raises(TokenError, match="nonce"):
        verifier.verify_id_token(good, client_id=CLIENT_ID, nonce="other")
    with pytest.raises(TokenError, match="audience"):
        verifier.verify_id_token(good, client_id="other", nonce="n-1")
    clock.now += 3600
    with pytest.raises(TokenError, match="expired"):
        verifier.verify_id_token(good, client_id=CLIENT_ID, nonce="n-1")
    with pytest.raises(TokenError, match="authentication too old"):
        clock.now -= 3600 - 200
        verifier.verify_id_token(good, client_id=CLIENT_ID, nonce="n-1", max_age=60)


def test_logout_token_accepts_valid_and_requires_jti(verifier, op):
    claims = verifier.verify_logout_token(op.logout_token(sid="s1"), client_id=CLIENT_ID)
    assert claims["sid"] == "s1"
    with pytest.raises(TokenError, match="jti"):
        verifier.verify_logout_token(op.logout_token(sid="s1", jti=None), client_id=CLIENT_ID)


def test_unreachable_provider_is_a_key_source_error(clock):
    verifier = JWKSVerifier("http://127.0.0.1:9/realms/x", timeout=1, clock=clock)
    with pytest.raises(KeySourceError):
        verifier.key_for("k")
