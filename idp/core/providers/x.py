"""X: OAuth 2.0 authorization code with PKCE, then ``/2/users/me``.

* PKCE S256 is **required** by X; the verifier is kept server-side by the caller;
* the token call authenticates with **HTTP Basic** (confidential "Web App" client);
* identity is ``data.*`` of ``/2/users/me``; the stable key is ``data.id`` (a string);
* email: X only returns ``confirmed_email`` when the app has the "Request email" capability,
  the ``users.email`` scope was granted and the field requested.  It is confirmed by X, hence
  ``email_verified=True`` when present; otherwise there is no email at all.  Set
  ``"email_capability": false`` in the realm settings for an app without the capability.
* X has no given/family name split: only ``name`` (display name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from idp.core.providers.base import (
    FederationError,
    NormalisedProfile,
    ProviderAdapter,
    clean_str,
    make_profile,
)
from shared import pkce


class XAdapter(ProviderAdapter):
    alias: ClassVar[str] = "x"
    display_name: ClassVar[str] = "X"

    def __init__(self, settings: Mapping[str, Any], timeout: float = 10.0) -> None:
        super().__init__(settings, timeout)
        self.authorization_url = self.setting_url(
            "authorization_url", "https://x.com/i/oauth2/authorize") or ""
        self.token_url = self.setting_url("token_url", "https://api.x.com/2/oauth2/token") or ""
        self.userinfo_url = self.setting_url("userinfo_url",
                                             "https://api.x.com/2/users/me") or ""
        # `email_capability` is the name the realm importer keeps; `request_email` an alias.
        self.request_email = bool(settings.get("email_capability",
                                               settings.get("request_email", True)))
        scope = clean_str(settings.get("scope"))
        if scope is None:
            words = ["users.read", "tweet.read"] + (["users.email"] if self.request_email else [])
        else:
            words = scope.replace(",", " ").split()
            if not {"users.read", "tweet.read"} <= set(words):
                raise ValueError("x scope must include users.read and tweet.read (/2/users/me)")
            self.request_email = self.request_email and "users.email" in words
        self.scope = " ".join(words)

    def authorization_endpoint(self) -> str:
        return self.authorization_url

    def authorization_params(self, kept: dict[str, Any]) -> dict[str, str]:
        kept["code_verifier"], challenge = pkce.new_pair()
        return {"scope": self.scope, "code_challenge": challenge,
                "code_challenge_method": "S256"}

    def finish(self, redirect_uri: str, code: str, kept: Mapping[str, Any]) -> NormalisedProfile:
        verifier = kept.get("code_verifier")
        if not isinstance(verifier, str):
            raise FederationError("bad_state", "x: no PKCE verifier kept")
        tokens = self.token_request(self.token_url, {
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }, auth=(self.client_id, self._client_secret))
        fields = ["profile_image_url"] + (["confirmed_email"] if self.request_email else [])
        body = self.api_get(self.userinfo_url, str(tokens["access_token"]), "/2/users/me",
                            params={"user.fields": ",".join(fields)})
        data = body.get("data")
        if not isinstance(data, Mapping):
            raise FederationError("invalid_response", "x /2/users/me: no data object")
        email = data.get("confirmed_email")
        return make_profile(
            self.alias, data.get("id"), email=email, email_verified=bool(email),
            name=data.get("name") or data.get("username"),
            picture=data.get("profile_image_url"),
        )
