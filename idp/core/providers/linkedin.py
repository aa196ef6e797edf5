"""LinkedIn: "Sign In with LinkedIn using OpenID Connect", with its documented quirks.

* credentials go **in the body** (``client_secret_post``): the discovery document omits
  ``token_endpoint_auth_methods_supported``, whose default (Basic) LinkedIn refuses;
* **no PKCE** for web apps (a ``code_verifier`` makes the token call fail) and **no nonce**
  (LinkedIn accepts one but never puts it in the id_token, so we do not pretend to check it;
  ``state`` and the signed, audience-bound, short-lived id_token carry the protection);
* the id_token header has a bogus ``"zip": "RS256"`` member, so unknown header members are
  tolerated (the algorithm is still pinned to RS256); JWKS keys have no ``use``;
* ``email_verified`` is the *string* ``"true"`` in the id_token (a boolean in userinfo);
* the token response's ``scope`` is comma-separated: we do not compare it with the request.
"""

from __future__ import annotations

from typing import ClassVar

from idp.core.providers.oidc_common import OIDCAdapter


class LinkedInAdapter(OIDCAdapter):
    alias: ClassVar[str] = "linkedin"
    display_name: ClassVar[str] = "LinkedIn"
    default_discovery_url: ClassVar[str] = (
        "https://www.linkedin.com/oauth/.well-known/openid-configuration")
    default_scope: ClassVar[str] = "openid profile email"
    send_nonce: ClassVar[bool] = False
    use_pkce: ClassVar[bool] = False
    client_auth: ClassVar[str] = "client_secret_post"
    strict_jose_headers: ClassVar[bool] = False
    cancel_errors: ClassVar[frozenset[str]] = frozenset(
        {"user_cancelled_login", "user_cancelled_authorize", "access_denied"})
