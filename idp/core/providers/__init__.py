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
from dataclasses import dataclass
from typing import Any

from idp.core.providers.base import (
    REASONS,
    FederationError,
    NormalisedProfile,
    ProviderAdapter,
)
from idp.core.providers.facebook import FacebookAdapter
from idp.core.providers.google import GoogleAdapter
from idp.core.providers.linkedin import LinkedInAdapter
from idp.core.providers.x import XAdapter


@dataclass(frozen=True)
class ProviderInfo:
    """One social provider as every layer sees it: realm import, buttons, pages, audit."""

    alias: str
    display_name: str
    adapter: type[ProviderAdapter]


#: The one provider registry, in the order the sign-in page shows the buttons.
REGISTRY: tuple[ProviderInfo, ...] = (
    ProviderInfo("facebook", "Facebook", FacebookAdapter),
    ProviderInfo("linkedin", "LinkedIn", LinkedInAdapter),
    ProviderInfo("google", "Google", GoogleAdapter),
    ProviderInfo("x", "X", XAdapter),
)
#: Alias → adapter class.
PROVIDERS: dict[str, type[ProviderAdapter]] = {p.alias: p.adapter for p in REGISTRY}
DISPLAY_NAMES: dict[str, str] = {p.alias: p.display_name for p in REGISTRY}


def display_name(alias: str) -> str:
    return DISPLAY_NAMES.get(alias, alias)


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
    "DISPLAY_NAMES",
    "PROVIDERS",
    "REASONS",
    "REGISTRY",
    "FacebookAdapter",
    "FederationError",
    "GoogleAdapter",
    "LinkedInAdapter",
    "NormalisedProfile",
    "ProviderAdapter",
    "ProviderInfo",
    "XAdapter",
    "display_name",
    "get_adapter",
]
