"""Provider-specific behaviour: id_token checks, email rules, quirks mapped correctly."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from idp.core.providers import FederationError, get_adapter, oidc_common

from .conftest import authorize, redirect_uri, settings_for


def sign_in(alias, fakes, user="alice", settings=None, **switches):
    adapter = get_adapter(alias, settings or settings_for(alias, fakes))
    url, kept = adapter.begin(redirect_uri(alias))
    return adapter, authorize(url, user=user, **switches), kept


def claims_of(jwt_value: str) -> tuple[dict, dict]:
    def part(p: str) -> dict:
        return json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))
    head, payload, _ = jwt_value.split(".")
    return part(head), part(payload)


# -- Google ------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["bad_signature", "wrong_nonce", "wrong_aud", "wrong_iss",
                                  "expired", "bad_at_hash"])
def test_google_tampered_id_token_is_invalid_response(mode, fakes) -> None:
    adapter, args, kept = sign_in("google", fakes, fake_id_token=mode)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("google"), args, kept)
    assert err.value.reason == "invalid_response"
    assert "id_token" in err.value.detail


def test_google_nonce_kept_differs_is_invalid_response(fakes) -> None:
    adapter, args, kept = sign_in("google", fakes)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("google"), args, {**kept, "nonce": "another-nonce"})
    assert err.value.reason == "invalid_response"
    assert "nonce" in err.value.detail


def test_google_callback_iss_of_another_provider_is_refused(fakes) -> None:
    adapter, args, kept = sign_in("google", fakes)
    assert args["iss"] == fakes["google"]  # RFC 9207 parameter, as Google sends it
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("google"), {**args, "iss": fakes["linkedin"]}, kept)
    assert err.value.reason == "invalid_response"


def test_google_wrong_pkce_verifier_is_provider_error(fakes) -> None:
    adapter, args, kept = sign_in("google", fakes)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("google"), args, {**kept, "code_verifier": "x" * 64})
    assert err.value.reason == "provider_error"


def test_google_unverified_email_is_not_verified(fakes) -> None:
    adapter, args, kept = sign_in("google", fakes, user="bruno")
    profile = adapter.complete(redirect_uri("google"), args, kept)
    assert profile.email == "bruno.petit@example.com"
    assert profile.email_verified is False


def test_google_user_without_email(fakes) -> None:
    adapter, args, kept = sign_in("google", fakes, user="chloe")
    profile = adapter.complete(redirect_uri("google"), args, kept)
    assert profile.email is None and profile.email_verified is False
    assert profile.given_name == "Chloé"


def test_google_key_rotation_refetches_jwks(fakes, monkeypatch) -> None:
    monkeypatch.setattr(oidc_common, "JWKS_MIN_REFRESH", 0.0)
    adapter, args, kept = sign_in("google", fakes)
    adapter.complete(redirect_uri("google"), args, kept)  # JWKS now cached
    new_kid = requests.post(f"{fakes['google']}/_fake/rotate-keys", timeout=5).json()["kid"]
    adapter, args, kept = sign_in("google", fakes, user="bruno")
    profile = adapter.complete(redirect_uri("google"), args, kept)
    assert profile.email == "bruno.petit@example.com"
    meta = adapter.metadata()
    assert new_kid in [key.kid for key in adapter.verifier(meta)._keys.keys]


def test_google_endpoint_overrides_win_over_discovery(fakes) -> None:
    base = fakes["google"]
    settings = settings_for("google", fakes, discovery_url=None, issuer=base,
                            authorization_url=f"{base}/o/oauth2/v2/auth",
                            token_url=f"{base}/token", jwks_url=f"{base}/oauth2/v3/certs",
                            userinfo_url=f"{base}/v1/userinfo")
    adapter, args, kept = sign_in("google", fakes, settings=settings)
    assert adapter.complete(redirect_uri("google"), args, kept).email_verified is True
    wrong_iss = settings_for("google", fakes, issuer="https://accounts.google.com")
    adapter, args, kept = sign_in("google", fakes, settings=wrong_iss)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("google"), args, kept)
    assert err.value.reason == "invalid_response"


# -- LinkedIn ----------------------------------------------------------------------------
def test_linkedin_email_verified_string_is_mapped_to_bool(fakes) -> None:
    for user, expected in (("alice", True), ("bruno", False)):
        adapter, args, kept = sign_in("linkedin", fakes, user=user)
        profile = adapter.complete(redirect_uri("linkedin"), args, kept)
        assert profile.email_verified is expected


def test_linkedin_fake_sends_the_quirks_the_adapter_copes_with(fakes) -> None:
    """The raw answer really has the string, the zip header, no nonce, a comma scope."""
    adapter = get_adapter("linkedin", settings_for("linkedin", fakes))
    url, _kept = adapter.begin(redirect_uri("linkedin"))
    args = authorize(url + "&nonce=sent-anyway", user="alice")
    base = fakes["linkedin"]
    form = {"grant_type": "authorization_code", "code": args["code"],
            "redirect_uri": redirect_uri("linkedin"), "client_id": adapter.client_id,
            "client_secret": adapter.settings["client_secret"]}
    body = requests.post(f"{base}/oauth/v2/accessToken", data=form, timeout=5).json()
    assert body["scope"] == "email,openid,profile"
    header, claims = claims_of(body["id_token"])
    assert header["zip"] == "RS256"
    assert claims["email_verified"] == "true" and "nonce" not in claims
    jwks = requests.get(f"{base}/oauth/openid/jwks", timeout=5).json()
    assert all("use" not in key for key in jwks["keys"])
    info = requests.get(f"{base}/v2/userinfo", timeout=5,
                        headers={"Authorization": f"Bearer {body['access_token']}"}).json()
    assert info["email_verified"] is True and isinstance(info["locale"], dict)


def test_linkedin_tampered_id_token_is_invalid_response(fakes) -> None:
    adapter, args, kept = sign_in("linkedin", fakes, fake_id_token="bad_signature")
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("linkedin"), args, kept)
    assert err.value.reason == "invalid_response"


def test_linkedin_no_email(fakes) -> None:
    adapter, args, kept = sign_in("linkedin", fakes, user="chloe")
    profile = adapter.complete(redirect_uri("linkedin"), args, kept)
    assert profile.email is None and profile.email_verified is False
    assert profile.name == "Chloé Durand"


# -- Facebook ----------------------------------------------------------------------------
def test_facebook_without_email(fakes) -> None:
    adapter, args, kept = sign_in("facebook", fakes, user="chloe")
    profile = adapter.complete(redirect_uri("facebook"), args, kept)
    assert profile.email is None and profile.email_verified is False
    assert (profile.given_name, profile.family_name) == ("Chloé", "Durand")
    assert profile.picture is None  # silhouette is not a picture


def test_facebook_email_is_never_verified(fakes) -> None:
    adapter, args, kept = sign_in("facebook", fakes, user="alice")
    profile = adapter.complete(redirect_uri("facebook"), args, kept)
    assert profile.email == "alice.martin@example.com" and profile.email_verified is False
    assert profile.subject.isdigit()


def test_facebook_graph_version_is_configurable(fakes) -> None:
    base = fakes["facebook"]
    settings = settings_for("facebook", fakes, graph_version="19",
                            authorization_url=f"{base}/{{graph_version}}/dialog/oauth",
                            token_url=f"{base}/{{graph_version}}/oauth/access_token",
                            userinfo_url=f"{base}/{{graph_version}}/me")
    adapter = get_adapter("facebook", settings)
    url, _ = adapter.begin(redirect_uri("facebook"))
    assert "/v19.0/dialog/oauth" in url
    assert adapter.token_url.endswith("/v19.0/oauth/access_token")
    adapter, args, kept = sign_in("facebook", fakes, settings=settings)
    assert adapter.complete(redirect_uri("facebook"), args, kept).provider == "facebook"
    default = get_adapter("facebook", {"alias": "facebook", "client_id": "1",
                                       "client_secret": "s"})
    assert default.token_url == "https://graph.facebook.com/v24.0/oauth/access_token"


def test_facebook_nested_error_detail_is_readable(fakes) -> None:
    adapter, args, kept = sign_in("facebook", fakes)
    adapter.complete(redirect_uri("facebook"), args, kept)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("facebook"), args, kept)
    assert "subcode=36009" in err.value.detail and "fbtrace_id" in err.value.detail


# -- X -----------------------------------------------------------------------------------
def test_x_without_email_capability_has_no_email(fakes) -> None:
    settings = settings_for("x", fakes, client_id="x-client-noemail",
                            client_secret="x-noemail-secret")
    adapter, args, kept = sign_in("x", fakes, settings=settings)
    profile = adapter.complete(redirect_uri("x"), args, kept)
    assert profile.email is None and profile.email_verified is False
    assert profile.name == "Alice Martin"


def test_x_unconfirmed_email_is_absent(fakes) -> None:
    adapter, args, kept = sign_in("x", fakes, user="bruno")
    profile = adapter.complete(redirect_uri("x"), args, kept)
    assert profile.email is None and profile.email_verified is False


@pytest.mark.parametrize("setting", ["email_capability", "request_email"])
def test_x_without_capability_setting_does_not_ask(setting, fakes) -> None:
    adapter = get_adapter("x", settings_for("x", fakes, **{setting: False}))
    url, kept = adapter.begin(redirect_uri("x"))
    assert "users.email" not in url
    profile = adapter.complete(redirect_uri("x"), authorize(url), kept)
    assert profile.email is None


def test_x_wrong_verifier_is_provider_error(fakes) -> None:
    adapter, args, kept = sign_in("x", fakes)
    with pytest.raises(FederationError) as err:
        adapter.complete(redirect_uri("x"), args, {**kept, "code_verifier": "y" * 64})
    assert err.value.reason == "provider_error"
    assert "code verifier" in err.value.detail


def test_scope_overrides(fakes) -> None:
    x = get_adapter("x", settings_for("x", fakes, scope="users.read tweet.read"))
    url, kept = x.begin(redirect_uri("x"))
    assert "users.email" not in url
    assert x.complete(redirect_uri("x"), authorize(url), kept).email is None
    with pytest.raises(ValueError):
        get_adapter("x", settings_for("x", fakes, scope="users.read"))
    google = get_adapter("google", settings_for("google", fakes, scope="openid email"))
    url, kept = google.begin(redirect_uri("google"))
    profile = google.complete(redirect_uri("google"), authorize(url), kept)
    assert profile.email == "alice.martin@example.com" and profile.given_name is None
    with pytest.raises(ValueError):
        get_adapter("linkedin", settings_for("linkedin", fakes, scope="profile email"))
