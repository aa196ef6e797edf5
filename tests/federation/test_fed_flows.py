"""Full begin → authorize (auto-allow) → complete against the fakes as real processes."""

from __future__ import annotations

import time
from urllib.parse import parse_qsl, urlsplit

import pytest

from idp.core.providers import FederationError, NormalisedProfile, get_adapter

from .conftest import (
    ALIASES,
    authorize,
    closed_port_url,
    redirect_uri,
    settings_for,
)

ALICE = {"email": "alice.martin@example.com", "given_name": "Alice", "family_name": "Martin",
         "name": "Alice Martin"}


def sign_in(alias: str, fakes: dict[str, str], user: str = "alice", **switches: str):
    adapter = get_adapter(alias, settings_for(alias, fakes))
    url, kept = adapter.begin(redirect_uri(alias))
    args = authorize(url, user=user, **switches)
    return adapter, args, kept


@pytest.mark.parametrize("alias", ALIASES)
def test_full_flow_gives_normalised_profile(alias: str, fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in(alias, fakes)
    assert args["state"] == kept["state"]
    profile = adapter.complete(redirect_uri(alias), args, kept)
    assert isinstance(profile, NormalisedProfile)
    assert profile.provider == alias
    assert profile.subject and isinstance(profile.subject, str)
    assert profile.email == ALICE["email"]
    assert profile.name == ALICE["name"]
    if alias == "facebook":
        assert profile.email_verified is False  # Facebook never vouches for an email
    else:
        assert profile.email_verified is True
    if alias == "x":
        assert profile.given_name is None and profile.family_name is None
    else:
        assert (profile.given_name, profile.family_name) == ("Alice", "Martin")
    if alias in {"google", "linkedin", "x"}:
        assert profile.picture == "https://pictures.example.com/alice.png"


@pytest.mark.parametrize("alias", ALIASES)
def test_subject_is_stable_and_distinct_per_user(alias: str, fakes: dict[str, str]) -> None:
    subjects = []
    for user in ("alice", "alice", "bruno"):
        adapter, args, kept = sign_in(alias, fakes, user=user)
        subjects.append(adapter.complete(redirect_uri(alias), args, kept).subject)
    assert subjects[0] == subjects[1]
    assert subjects[0] != subjects[2]


@pytest.mark.parametrize("alias", ALIASES)
def test_authorization_url_carries_what_the_provider_needs(alias: str,
                                                           fakes: dict[str, str]) -> None:
    adapter = get_adapter(alias, settings_for(alias, fakes))
    url, kept = adapter.begin(redirect_uri(alias))
    query = dict(parse_qsl(urlsplit(url).query))
    assert query["client_id"] == adapter.client_id
    assert query["redirect_uri"] == redirect_uri(alias)
    assert query["state"] == kept["state"] and len(kept["state"]) >= 32
    assert "client_secret" not in url and adapter.settings["client_secret"] not in url
    if alias == "google":
        assert query["nonce"] == kept["nonce"]
        assert query["code_challenge_method"] == "S256"
    if alias == "linkedin":  # no nonce (never echoed), no PKCE (rejected for web apps)
        assert "nonce" not in query and "code_challenge" not in query
    if alias == "x":
        assert query["code_challenge_method"] == "S256" and "code_verifier" in kept
        assert set(query["scope"].split()) >= {"users.read", "tweet.read", "users.email"}
    if alias == "facebook":
        assert urlsplit(url).path == "/v24.0/dialog/oauth"
        assert query["scope"] == "email,public_profile"


# -- cancel ------------------------------------------------------------------------------
@pytest.mark.parametrize("alias", ALIASES)
def test_cancel_at_provider_is_cancelled(alias: str, fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in(alias, fakes, auto="cancel")
    assert "code" not in args
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri(alias), args, kept)
    assert err.value.reason == "cancelled"


def test_cancel_shapes_are_the_real_ones(fakes: dict[str, str]) -> None:
    shapes = {alias: sign_in(alias, fakes, auto="cancel")[1] for alias in ALIASES}
    assert shapes["google"]["error"] == "access_denied"
    assert shapes["x"]["error"] == "access_denied"
    assert shapes["linkedin"]["error"] == "user_cancelled_login"
    fb = shapes["facebook"]
    assert (fb["error"], fb["error_reason"], fb["error_code"]) == (
        "access_denied", "user_denied", "200")


def test_linkedin_refused_authorization_is_cancelled(fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in("linkedin", fakes, auto="cancel_authorize")
    assert args["error"] == "user_cancelled_authorize"
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("linkedin"), args, kept)
    assert err.value.reason == "cancelled"


@pytest.mark.parametrize("alias", ALIASES)
def test_other_provider_error_is_provider_error(alias: str, fakes: dict[str, str]) -> None:
    adapter = get_adapter(alias, settings_for(alias, fakes))
    _, kept = adapter.begin(redirect_uri(alias))
    args = {"state": kept["state"], "error": "server_error", "error_description": "boom"}
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri(alias), args, kept)
    assert err.value.reason == "provider_error"


# -- state -------------------------------------------------------------------------------
@pytest.mark.parametrize("alias", ALIASES)
def test_wrong_state_is_bad_state(alias: str, fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in(alias, fakes)
    forged = {**args, "state": kept["state"][:-1] + ("A" if kept["state"][-1] != "A" else "B")}
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri(alias), forged, kept)
    assert err.value.reason == "bad_state"
    # the code was not spent: the genuine callback still works
    assert adapter.complete(redirect_uri(alias), args, kept).provider == alias


@pytest.mark.parametrize("alias", ALIASES)
def test_missing_state_is_bad_state(alias: str, fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in(alias, fakes)
    without = {k: v for k, v in args.items() if k != "state"}
    for bad_args, bad_kept in ((without, kept), (args, {}), (args, {**kept, "state": ""})):
        with pytest.raises(FederationError) as err:
            adapter.complete(redirect_uri(alias), bad_args, bad_kept)
        assert err.value.reason == "bad_state"


def test_cancel_with_forged_state_is_bad_state_not_cancelled(fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in("google", fakes, auto="cancel")
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("google"), {**args, "state": "forged"}, kept)
    assert err.value.reason == "bad_state"


def test_state_kept_for_another_provider_is_bad_state(fakes: dict[str, str]) -> None:
    _, args, kept = sign_in("google", fakes)
    other = get_adapter("x", settings_for("x", fakes))
    with pytest.raises(FederationError) as err:
        other.complete(redirect_uri("x"), args, kept)
    assert err.value.reason == "bad_state"


def test_other_redirect_uri_is_bad_state(fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in("google", fakes)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("google", realm="other"), args, kept)
    assert err.value.reason == "bad_state"


def test_expired_attempt_is_bad_state(fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in("x", fakes)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("x"), args, {**kept, "issued_at": int(time.time()) - 3600})
    assert err.value.reason == "bad_state"


# -- codes and credentials ---------------------------------------------------------------
@pytest.mark.parametrize("alias", ALIASES)
def test_replayed_code_is_provider_error(alias: str, fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in(alias, fakes)
    adapter.complete(redirect_uri(alias), args, kept)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri(alias), args, kept)
    assert err.value.reason == "provider_error"
    assert "token endpoint" in err.value.detail


@pytest.mark.parametrize("alias", ALIASES)
def test_wrong_client_secret_is_provider_error(alias: str, fakes: dict[str, str]) -> None:
    _adapter, args, kept = sign_in(alias, fakes)
    wrong = get_adapter(alias, settings_for(alias, fakes, client_secret="not-the-secret"))
    with pytest.raises(FederationError) as err:
        wrong.complete(redirect_uri(alias), args, kept)
    assert err.value.reason == "provider_error"
    assert "not-the-secret" not in str(err.value)


@pytest.mark.parametrize("alias", ALIASES)
def test_callback_without_code_is_invalid_response(alias: str, fakes: dict[str, str]) -> None:
    adapter, args, kept = sign_in(alias, fakes)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri(alias), {"state": args["state"]}, kept)
    assert err.value.reason == "invalid_response"


# -- network -----------------------------------------------------------------------------
@pytest.mark.parametrize("alias", ALIASES)
def test_provider_down_is_timeout(alias: str, fakes: dict[str, str]) -> None:
    _adapter, args, kept = sign_in(alias, fakes)
    down = get_adapter(alias, settings_for(alias, fakes, token_url=f"{closed_port_url()}/token"))
    with pytest.raises(FederationError) as err:
        down.complete(redirect_uri(alias), args, kept)
    assert err.value.reason == "timeout"


@pytest.mark.parametrize("alias", ALIASES)
def test_slow_provider_is_timeout(alias: str, fakes: dict[str, str]) -> None:
    _adapter, args, kept = sign_in(alias, fakes)
    slow = get_adapter(alias, settings_for(alias, fakes,
                                           token_url=f"{fakes[alias]}/_fake/slow?seconds=3"),
                       timeout=0.5)
    started = time.monotonic()
    with pytest.raises(FederationError) as err:
        slow.complete(redirect_uri(alias), args, kept)
    assert err.value.reason == "timeout"
    assert time.monotonic() - started < 2.5


def test_discovery_down_is_timeout_at_begin() -> None:
    adapter = get_adapter("google", {
        "alias": "google", "client_id": "c", "client_secret": "s",
        "discovery_url": f"{closed_port_url()}/.well-known/openid-configuration"})
    with pytest.raises(FederationError) as err:
        adapter.begin(redirect_uri("google"))
    assert err.value.reason == "timeout"
