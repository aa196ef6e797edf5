"""OpenID Connect machinery shared by the Google and LinkedIn adapters.

* discovery documents are cached per URL in the one cache (:mod:`idp.core.cache`);
  adapters are cheap, short-lived objects built per request from the realm settings;
* id_tokens are checked by the project's one JWT verifier
  (:class:`shared.token_verification.JWKSVerifier`, the one relying parties use too), fed
  with the provider's JWKS through the adapter's HTTP client; an unknown ``kid`` triggers
  one rate-limited refetch (key rotation). The providers' leniencies (LinkedIn: no nonce,
  bogus ``zip`` header, keys without ``use``) are the verifier's options.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Collection, Mapping
from typing import Any, ClassVar

from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey

from idp.core import cache
from idp.core.providers.base import (
    FederationError,
    NormalisedProfile,
    ProviderAdapter,
    check_endpoint_url,
    clean_str,
    make_profile,
)
from shared import pkce
from shared.token_verification import JWKSVerifier, TokenError

DISCOVERY_TTL = 3600.0
JWKS_TTL = 3600.0
#: Minimum seconds between two JWKS refetches caused by an unknown ``kid``.
JWKS_MIN_REFRESH = 10.0
#: Clock skew tolerated on ``exp``/``iat`` (seconds).
LEEWAY = 120


def _import_signing_keys(jwks: Any) -> dict[str, RSAKey]:
    """RSA signature keys of a JWKS by ``kid``; keys for encryption or of other types skipped.

    LinkedIn's keys carry no ``use`` at all, which is fine (absent means "any").
    """
    keys: dict[str, RSAKey] = {}
    if not isinstance(jwks, Mapping) or not isinstance(jwks.get("keys"), list):
        raise FederationError("invalid_response", "JWKS: no 'keys' array")
    for index, entry in enumerate(jwks["keys"]):
        if not isinstance(entry, Mapping) or entry.get("kty") != "RSA":
            continue
        if entry.get("use", "sig") != "sig":
            continue
        try:
            key = RSAKey.import_key(dict(entry))
        except (JoseError, ValueError, TypeError):
            continue
        keys[str(entry.get("kid", f"#{index}"))] = key
    return keys


class OIDCAdapter(ProviderAdapter):
    """Authorization code flow of an OpenID Provider, with id_token validation.

    Class attributes describe a provider's dialect; subclasses only set them and map claims.
    """

    default_discovery_url: ClassVar[str]
    default_scope: ClassVar[str] = "openid email profile"
    #: Send and check a ``nonce`` (LinkedIn accepts one but never echoes it).
    send_nonce: ClassVar[bool] = True
    #: Use PKCE S256 (LinkedIn web apps must *not*: ``code_verifier`` → ``invalid_client``).
    use_pkce: ClassVar[bool] = True
    #: ``client_secret_post`` or ``client_secret_basic``.
    client_auth: ClassVar[str] = "client_secret_post"
    #: Reject unknown JOSE header members (LinkedIn sends a bogus ``zip``).
    strict_jose_headers: ClassVar[bool] = True

    def __init__(self, settings: Mapping[str, Any], timeout: float = 10.0) -> None:
        super().__init__(settings, timeout)
        _ = self.scope  # refuse a bad scope override at construction, not at sign-in
        for name in ("discovery_url", "authorization_url", "token_url", "userinfo_url",
                     "jwks_url"):
            self.setting_url(name)  # same for a non-https endpoint override

    # -- metadata -------------------------------------------------------------------------
    def metadata(self) -> dict[str, Any]:
        """Endpoints: explicit realm overrides win, the rest comes from (cached) discovery."""
        overrides = {
            "issuer": clean_str(self.settings.get("issuer")),
            "authorization_endpoint": self.setting_url("authorization_url"),
            "token_endpoint": self.setting_url("token_url"),
            "userinfo_endpoint": self.setting_url("userinfo_url"),
            "jwks_uri": self.setting_url("jwks_url"),
        }
        required = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")
        if all(overrides[k] for k in required):
            return overrides
        discovered = self.discovery()
        meta = {k: v or discovered.get(k) for k, v in overrides.items()}
        for key in required:
            if not clean_str(meta.get(key)):
                raise FederationError("invalid_response", f"{self.alias} discovery: no {key}")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint"):
            if meta.get(key) and not overrides[key]:
                try:
                    check_endpoint_url(str(meta[key]), key)
                except ValueError as exc:
                    raise FederationError("invalid_response",
                                          f"{self.alias} discovery: {exc}") from exc
        return meta

    def discovery(self) -> dict[str, Any]:
        url = self.setting_url("discovery_url", self.default_discovery_url)
        assert url is not None

        def load() -> dict[str, Any]:
            resp = self.http("GET", url, "discovery", headers={"Accept": "application/json"})
            if resp.status_code != 200:
                raise FederationError("provider_error", f"{self.alias} discovery: HTTP "
                                      f"{resp.status_code}")
            return self.json_body(resp, "discovery")

        return dict(cache.cached("federation_discovery", url, load, ttl=DISCOVERY_TTL))

    def accepted_issuers(self, issuer: str) -> Collection[str]:
        return {issuer}

    # -- keys ----------------------------------------------------------------------------
    def fetch_jwks(self, jwks_uri: str) -> KeySet:
        resp = self.http("GET", jwks_uri, "JWKS", headers={"Accept": "application/json"})
        if resp.status_code != 200:
            raise FederationError("provider_error", f"{self.alias} JWKS: HTTP {resp.status_code}")
        return KeySet(list(_import_signing_keys(self.json_body(resp, "JWKS")).values()))

    def verifier(self, meta: Mapping[str, Any]) -> JWKSVerifier:
        """One verifier per provider key set and client, kept in the cache (its keys too)."""
        jwks_uri, issuer = str(meta["jwks_uri"]), str(meta["issuer"])

        def build() -> JWKSVerifier:
            return JWKSVerifier(
                issuer, jwks_uri, algorithms=("RS256",), leeway=LEEWAY,
                min_refetch_interval=JWKS_MIN_REFRESH, cache_ttl=JWKS_TTL,
                key_source=lambda: self.fetch_jwks(jwks_uri),
                extra_issuers=tuple(self.accepted_issuers(issuer)),
                strict_headers=self.strict_jose_headers)

        key = (self.alias, jwks_uri, issuer, self.client_id, self.strict_jose_headers)
        return cache.cached("federation_verifier", key, build, ttl=JWKS_TTL)

    # -- id_token ---------------------------------------------------------------------------
    def validate_id_token(self, id_token: str, meta: Mapping[str, Any], *,
                          nonce: str | None, access_token: str | None) -> dict[str, Any]:
        """Signature (RS256 via JWKS), ``iss``, ``aud``/``azp``, ``exp``/``iat``, nonce, at_hash."""
        what = f"{self.alias} id_token"
        verifier = self.verifier(meta)
        verifier.min_refetch_interval = JWKS_MIN_REFRESH  # tests lower it to see rotation
        try:
            # ``nonce`` None: the provider does not echo one (LinkedIn); checked below
            # with a constant-time compare otherwise.
            claims = verifier.verify_id_token(id_token, client_id=self.client_id, nonce=None)
        except TokenError as exc:
            raise FederationError("invalid_response", f"{what}: {exc.description}") from exc
        except (JoseError, ValueError) as exc:
            raise FederationError("invalid_response", f"{what}: {type(exc).__name__}") from exc
        if nonce is not None:
            got = claims.get("nonce")
            if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
                raise FederationError("invalid_response", f"{what}: nonce mismatch")
        if "at_hash" in claims and access_token is not None:
            expected = pkce.half_hash(access_token)
            if not hmac.compare_digest(str(claims["at_hash"]).encode(), expected.encode()):
                raise FederationError("invalid_response", f"{what}: at_hash mismatch")
        if not clean_str(claims.get("sub")):
            raise FederationError("invalid_response", f"{what}: no sub")
        return claims

    # -- the flow ---------------------------------------------------------------------------
    def check_callback_error(self, args: Mapping[str, str]) -> None:
        """Also RFC 9207: an ``iss`` in the callback must be our provider's (mix-up defence)."""
        super().check_callback_error(args)
        iss = args.get("iss")
        if iss is not None and iss not in self.accepted_issuers(str(self.metadata()["issuer"])):
            raise FederationError("invalid_response", f"{self.alias}: callback iss is another "
                                  "provider's")

    def authorization_endpoint(self) -> str:
        return str(self.metadata()["authorization_endpoint"])

    @property
    def scope(self) -> str:
        """The realm's ``scope`` override (must keep ``openid``), else the provider default."""
        scope = clean_str(self.settings.get("scope"))
        if scope is None:
            return self.default_scope
        words = scope.replace(",", " ").split()
        if "openid" not in words:
            raise ValueError(f"{self.alias} scope must include openid")
        return " ".join(words)

    def authorization_params(self, kept: dict[str, Any]) -> dict[str, str]:
        params = {"scope": self.scope}
        if self.send_nonce:
            kept["nonce"] = secrets.token_urlsafe(32)
            params["nonce"] = kept["nonce"]
        if self.use_pkce:
            kept["code_verifier"], challenge = pkce.new_pair()
            params.update(code_challenge=challenge, code_challenge_method="S256")
        return params

    def finish(self, redirect_uri: str, code: str, kept: Mapping[str, Any]) -> NormalisedProfile:
        meta = self.metadata()
        data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if self.use_pkce:
            verifier = kept.get("code_verifier")
            if not isinstance(verifier, str):
                raise FederationError("bad_state", f"{self.alias}: no PKCE verifier kept")
            data["code_verifier"] = verifier
        auth = None
        if self.client_auth == "client_secret_basic":
            auth = (self.client_id, self._client_secret)
        else:
            data.update(client_id=self.client_id, client_secret=self._client_secret)
        tokens = self.token_request(str(meta["token_endpoint"]), data, auth=auth)

        id_token = clean_str(tokens.get("id_token"))
        if id_token is None:
            raise FederationError("invalid_response", f"{self.alias}: no id_token in the "
                                  "token response")
        nonce = kept.get("nonce") if self.send_nonce else None
        if self.send_nonce and not isinstance(nonce, str):
            raise FederationError("bad_state", f"{self.alias}: no nonce kept")
        claims = self.validate_id_token(id_token, meta, nonce=nonce,
                                        access_token=str(tokens["access_token"]))
        if not clean_str(claims.get("email")) and meta.get("userinfo_endpoint"):
            claims = self.merge_userinfo(claims, str(meta["userinfo_endpoint"]),
                                         str(tokens["access_token"]))
        return self.to_profile(claims)

    def merge_userinfo(self, claims: dict[str, Any], url: str,
                       access_token: str) -> dict[str, Any]:
        """Fill what a minimal id_token lacks from userinfo, for the *same* ``sub`` only."""
        info = self.api_get(url, access_token, "userinfo")
        if info.get("sub") != claims.get("sub"):
            raise FederationError("invalid_response", f"{self.alias} userinfo: sub differs "
                                  "from the id_token")
        return {**info, **{k: v for k, v in claims.items() if v is not None}}

    def to_profile(self, claims: Mapping[str, Any]) -> NormalisedProfile:
        """Standard OIDC claims (Core §5.1) to the profile; override for odd providers."""
        return make_profile(
            self.alias, claims.get("sub"),
            email=claims.get("email"), email_verified=claims.get("email_verified", False),
            given_name=claims.get("given_name"), family_name=claims.get("family_name"),
            name=claims.get("name"), picture=claims.get("picture"),
        )
