"""Configuration and normalisation rules that need no provider."""

from __future__ import annotations

import dataclasses
import logging

import pytest

from idp.core.providers import (
    PROVIDERS,
    FederationError,
    NormalisedProfile,
    get_adapter,
)
from idp.core.providers.base import as_bool, make_profile
from idp.core.providers.facebook import normalise_graph_version
from shared.pkce import half_hash as compute_at_hash

from .conftest import authorize, redirect_uri, settings_for


def test_registry_has_the_four_providers_with_brand_names() -> None:
    assert {alias: cls.display_name for alias, cls in PROVIDERS.items()} == {
        "facebook": "Facebook", "linkedin": "LinkedIn", "google": "Google",
        "x": "X"}
    assert all(cls.alias == alias for alias, cls in PROVIDERS.items())


def test_get_adapter_refuses_bad_configuration() -> None:
    with pytest.raises(KeyError):
        get_adapter("myspace", {"client_id": "a", "client_secret": "b"})
    with pytest.raises(ValueError, match="client_secret"):
        get_adapter("google", {"alias": "google", "client_id": "a"})
    with pytest.raises(ValueError):
        get_adapter("x", {"alias": "google", "client_id": "a", "client_secret": "b"})
    with pytest.raises(ValueError, match="https"):
        get_adapter("x", {"alias": "x", "client_id": "a", "client_secret": "b",
                          "token_url": "http://api.example.com/2/oauth2/token"})
    with pytest.raises(ValueError, match="https"):
        get_adapter("google", {"alias": "google", "client_id": "a", "client_secret": "b",
                               "discovery_url": "http://accounts.example.com/.well-known/x"})
    with pytest.raises(ValueError):
        get_adapter("facebook", {"alias": "facebook", "client_id": "a", "client_secret": "b",
                                 "graph_version": "latest"})


def test_production_defaults_are_the_real_urls() -> None:
    creds = {"client_id": "a", "client_secret": "b"}
    x = get_adapter("x", {"alias": "x", **creds})
    assert x.authorization_endpoint() == "https://x.com/i/oauth2/authorize"
    assert x.token_url == "https://api.x.com/2/oauth2/token"
    fb = get_adapter("facebook", {"alias": "facebook", **creds})
    assert fb.authorization_endpoint() == "https://www.facebook.com/v24.0/dialog/oauth"
    assert PROVIDERS["google"].default_discovery_url == (
        "https://accounts.google.com/.well-known/openid-configuration")
    assert PROVIDERS["linkedin"].default_discovery_url == (
        "https://www.linkedin.com/oauth/.well-known/openid-configuration")


def test_secret_never_in_repr() -> None:
    adapter = get_adapter("x", {"alias": "x", "client_id": "a", "client_secret": "s3cr3t!"})
    assert "s3cr3t!" not in repr(adapter)


def test_profile_is_frozen_and_normalised() -> None:
    profile = make_profile("x", 1234, email="  ", email_verified=True, name=None,
                           given_name="Ana", family_name="Lopes")
    assert profile.subject == "1234"
    assert profile.email is None and profile.email_verified is False  # no email, no trust
    assert profile.name == "Ana Lopes"
    with pytest.raises(dataclasses.FrozenInstanceError):
        profile.email = "a@b.c"  # type: ignore[misc]
    assert [f.name for f in dataclasses.fields(NormalisedProfile)] == [
        "provider", "subject", "email", "email_verified", "given_name", "family_name", "name",
        "picture"]
    with pytest.raises(FederationError) as err:
        make_profile("google", "")
    assert err.value.reason == "invalid_response"


def test_as_bool_handles_provider_types() -> None:
    assert [as_bool(v) for v in (True, "true", "TRUE", False, "false", None, 1, "yes")] == [
        True, True, True, False, False, False, False, False]


def test_error_reasons_are_closed() -> None:
    with pytest.raises(ValueError):
        FederationError("oops")
    assert FederationError("timeout", "slow").reason == "timeout"


def test_graph_version_forms() -> None:
    assert {normalise_graph_version(v) for v in ("24", "24.0", "v24.0", " v24 ")} == {"v24.0"}


def test_at_hash_matches_oidc_example() -> None:
    # OpenID Connect Core, Appendix A.3 example
    assert compute_at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y") == (
        "77QmUPtjPfzWtF2AnpK9RQ")


def test_tokens_and_secrets_never_logged(fakes, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    for alias in ("google", "facebook", "x", "linkedin"):
        settings = settings_for(alias, fakes)
        adapter = get_adapter(alias, settings)
        url, kept = adapter.begin(redirect_uri(alias))
        args = authorize(url)
        adapter.complete(redirect_uri(alias), args, kept)
        text = caplog.text
        assert settings["client_secret"] not in text
        assert args["code"] not in text
    assert "sign-in completed" in caplog.text
