"""Google: OpenID Connect from discovery; the id_token is the source of the profile.

Validated here: RS256 signature against the JWKS (refetched on an unknown ``kid``: Google
rotates keys), ``iss`` (``https://accounts.google.com`` or the legacy ``accounts.google.com``),
``aud``/``azp``, ``exp``/``iat``, ``nonce``, ``at_hash``.  PKCE S256 is used too: Google supports
it and it costs nothing.  ``email_verified`` is a boolean (very old tokens had ``"true"``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import ClassVar

from idp.core.providers.oidc_common import OIDCAdapter

GOOGLE_ISSUER = "https://accounts.google.com"


class GoogleAdapter(OIDCAdapter):
    alias: ClassVar[str] = "google"
    display_name: ClassVar[str] = "Google"
    default_discovery_url: ClassVar[str] = f"{GOOGLE_ISSUER}/.well-known/openid-configuration"
    default_scope: ClassVar[str] = "openid email profile"
    send_nonce: ClassVar[bool] = True
    use_pkce: ClassVar[bool] = True
    client_auth: ClassVar[str] = "client_secret_post"

    def accepted_issuers(self, issuer: str) -> Collection[str]:
        if issuer == GOOGLE_ISSUER:
            return {GOOGLE_ISSUER, "accounts.google.com"}
        return {issuer}
