"""Sign-in with social providers: one small adapter per provider, one normalised profile.

The views call::

    adapter = get_adapter(alias, realm_provider_settings)
    url, kept = adapter.begin(redirect_uri)          # keep `kept` in the sign-in session
    ...
    profile = adapter.complete(redirect_uri, request.args, kept)   # or FederationError

Linking the profile to a customer is *not* done here (see docs/federation.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from idp.federation.base import (
    REASONS,
    FederationError,
    NormalisedProfile,
    ProviderAdapter,
)
from idp.federation.facebook import FacebookAdapter
from idp.federation.google import GoogleAdapter
from idp.federation.linkedin import LinkedInAdapter
from idp.federation.x import XAdapter

#: Alias → adapter class, in the order the sign-in page shows the buttons.
PROVIDERS: dict[str, type[ProviderAdapter]] = {
    "facebook": FacebookAdapter,
    "linkedin": LinkedInAdapter,
    "google": GoogleAdapter,
    "x": XAdapter,
}


def get_adapter(alias: str, settings: Mapping[str, Any], timeout: float = 10.0) -> ProviderAdapter:
    """The adapter for ``alias`` configured with one realm ``identity_providers`` entry.

    Raises ``KeyError`` for an unknown alias and ``ValueError`` for unusable settings (both are
    configuration errors, to be caught at realm import, not at sign-in).
    """
    try:
        cls = PROVIDERS[alias]
    except KeyError:
        raise KeyError(f"unknown identity provider alias {alias!r}") from None
    return cls(settings, timeout=timeout)


__all__ = [
    "PROVIDERS",
    "REASONS",
    "FacebookAdapter",
    "FederationError",
    "GoogleAdapter",
    "LinkedInAdapter",
    "NormalisedProfile",
    "ProviderAdapter",
    "XAdapter",
    "get_adapter",
]
