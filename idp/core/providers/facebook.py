"""Facebook Login (manual code flow) + Graph ``/me``.

* versioned URLs (``graph_version``, default :data:`DEFAULT_GRAPH_VERSION`); realm overrides
  may contain ``{graph_version}``;
* the token call sends ``client_id``/``client_secret`` as form parameters (Facebook answers
  "Missing client_id parameter." to HTTP Basic);
* ``/me`` is called with ``fields`` and ``appsecret_proof`` (HMAC-SHA256 of the access token
  keyed by the app secret), mandatory when the app has "Require App Secret" on, harmless
  otherwise; the token travels in the ``Authorization`` header;
* errors come nested (``{"error": {"message", "code", "error_subcode", "fbtrace_id"}}``);
* ``email`` may be missing (declined, phone-only account) and is **never** marked verified:
  Facebook gives no such flag, so it must not be trusted for account linking.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, ClassVar

from idp.core.providers.base import (
    FederationError,
    NormalisedProfile,
    ProviderAdapter,
    make_profile,
)

DEFAULT_GRAPH_VERSION = "v24.0"
_VERSION_RE = re.compile(r"^v?(\d+)(?:\.(\d+))?$")


def normalise_graph_version(value: Any) -> str:
    """``"24"``, ``"24.0"``, ``"v24.0"`` → ``"v24.0"``."""
    match = _VERSION_RE.match(str(value).strip())
    if not match:
        raise ValueError(f"facebook graph_version {value!r} is not like 'v24.0'")
    return f"v{match.group(1)}.{match.group(2) or '0'}"


class FacebookAdapter(ProviderAdapter):
    alias: ClassVar[str] = "facebook"
    display_name: ClassVar[str] = "Facebook"
    scope: ClassVar[str] = "email,public_profile"
    fields: ClassVar[str] = "id,name,email,first_name,last_name,picture"

    def __init__(self, settings: Mapping[str, Any], timeout: float = 10.0) -> None:
        super().__init__(settings, timeout)
        self.graph_version = normalise_graph_version(
            settings.get("graph_version") or DEFAULT_GRAPH_VERSION)
        self.authorization_url = self._url(
            "authorization_url", "https://www.facebook.com/{graph_version}/dialog/oauth")
        self.token_url = self._url(
            "token_url", "https://graph.facebook.com/{graph_version}/oauth/access_token")
        self.userinfo_url = self._url("userinfo_url",
                                      "https://graph.facebook.com/{graph_version}/me")

    def _url(self, name: str, default: str) -> str:
        raw = self.settings.get(name) or default
        self.settings[name] = str(raw).replace("{graph_version}", self.graph_version)
        url = self.setting_url(name)
        assert url is not None
        return url

    def authorization_endpoint(self) -> str:
        return self.authorization_url

    def authorization_params(self, kept: dict[str, Any]) -> dict[str, str]:
        scope = self.settings.get("scope")
        return {"scope": ",".join(str(scope).replace(",", " ").split()) if scope
                else self.scope}

    def check_callback_error(self, args: Mapping[str, str]) -> None:
        # Facebook: error=access_denied&error_reason=user_denied&error_code=200; older dialogs
        # send only error_code/error_message.
        if args.get("error_reason") == "user_denied" or (
                not args.get("error") and args.get("error_code") == "200"):
            raise FederationError("cancelled", "facebook: user_denied")
        if not args.get("error") and args.get("error_code"):
            raise FederationError("provider_error", f"facebook: error_code={args['error_code']} "
                                  f"{args.get('error_message', '')}".strip())
        super().check_callback_error(args)

    def appsecret_proof(self, access_token: str) -> str:
        return hmac.new(self._client_secret.encode(), access_token.encode(),
                        hashlib.sha256).hexdigest()

    def finish(self, redirect_uri: str, code: str, kept: Mapping[str, Any]) -> NormalisedProfile:
        tokens = self.token_request(self.token_url, {
            "client_id": self.client_id, "client_secret": self._client_secret,
            "redirect_uri": redirect_uri, "code": code,
        })
        access_token = str(tokens["access_token"])
        me = self.api_get(self.userinfo_url, access_token, "Graph /me", params={
            "fields": self.fields, "appsecret_proof": self.appsecret_proof(access_token)})
        picture = me.get("picture")
        picture_url = None
        if isinstance(picture, Mapping) and isinstance(picture.get("data"), Mapping):
            data = picture["data"]
            if not data.get("is_silhouette"):
                picture_url = data.get("url")
        return make_profile(
            self.alias, me.get("id"), email=me.get("email"), email_verified=False,
            given_name=me.get("first_name"), family_name=me.get("last_name"),
            name=me.get("name"), picture=picture_url,
        )
