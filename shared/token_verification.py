"""Local verification of the JWTs an OpenID Provider issues, against its cached JWKS.

Any Python app of the agency network can copy this module: it needs only ``joserfc`` and
``requests`` and knows the provider through its issuer URL (discovery) alone.

Why local verification: the provider signs id_tokens, RFC 9068 access tokens and back-channel
logout tokens with keys it publishes at ``jwks_uri``. Checking the signature and the claims
in-process costs a fraction of a millisecond, where asking the provider (introspection) costs
an HTTP round-trip per request and makes every resource app depend on the provider being up.

Why a cache with a guarded refetch: keys rotate. A token signed with a key we have never seen
(unknown ``kid``) triggers one JWKS refetch, so rotation works without a restart; a minimum
interval between refetches stops a flood of forged tokens with random ``kid`` values from
turning into a flood of requests to the provider. The cache also expires after ``cache_ttl``
so that a key the provider withdrew (compromised, retired) stops being accepted.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import requests
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import JWSRegistry

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
DEFAULT_ALGORITHMS = ("RS256", "ES256", "PS256")


class TokenError(Exception):
    """A token was rejected; ``description`` is safe to show to the client that sent it."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description


class InsufficientScope(TokenError):
    """A valid access token whose scope lacks what the resource requires (HTTP 403)."""


class KeySourceError(Exception):
    """The JWKS (or the discovery document) could not be fetched: the provider is unreachable."""


def fetch_json(url: str, timeout: float, session: requests.Session | None = None) -> dict:
    """GET a JSON document, turning every transport or format failure into ``KeySourceError``."""
    getter = session or requests
    try:
        response = getter.get(url, timeout=timeout, headers={"Accept": "application/json"})
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise KeySourceError(f"cannot fetch {url}: {exc}") from exc
    if not isinstance(document, dict):
        raise KeySourceError(f"{url} did not return a JSON object")
    return document


class JWKSVerifier:
    """Verify id_tokens, access tokens and logout tokens of one issuer.

    ``jwks_uri`` may be omitted: it is then read from the issuer's discovery document on first
    use. Instances are thread-safe and meant to live as long as the app (one per issuer).
    """

    def __init__(
        self,
        issuer: str,
        jwks_uri: str | None = None,
        *,
        algorithms: Iterable[str] = DEFAULT_ALGORITHMS,
        leeway: int = 60,
        min_refetch_interval: float = 10.0,
        cache_ttl: float = 3600.0,
        timeout: float = 5.0,
        http: requests.Session | None = None,
        clock: Callable[[], float] = time.time,
        key_source: Callable[[], KeySet] | None = None,
        extra_issuers: Iterable[str] = (),
        strict_headers: bool = True,
        logout_token_max_age: float = 600.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.logout_token_max_age = logout_token_max_age
        self._jwks_uri = jwks_uri
        self.algorithms = tuple(a for a in algorithms if a != "none" and not a.startswith("HS"))
        self.leeway = leeway
        self.min_refetch_interval = min_refetch_interval
        self.cache_ttl = cache_ttl
        self.timeout = timeout
        self.http = http
        self.clock = clock
        # The provider itself verifies its own tokens with its key store, not over HTTP.
        self.key_source = key_source
        # Some providers name themselves in two spellings; some add non-standard JOSE
        # header members (LinkedIn's ``zip``): both are per-issuer leniencies.
        self.extra_issuers = frozenset(i.rstrip("/") for i in extra_issuers)
        self.registry = JWSRegistry(algorithms=list(self.algorithms),
                                    strict_check_header=strict_headers)
        self._keys: KeySet | None = None
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()
        self.fetch_count = 0  # observable in tests and metrics

    # -- keys ---------------------------------------------------------------------------
    @property
    def jwks_uri(self) -> str:
        """The JWKS URL, discovered from the issuer when not given explicitly."""
        if not self._jwks_uri:
            url = f"{self.issuer}/.well-known/openid-configuration"
            document = fetch_json(url, self.timeout, self.http)
            if document.get("issuer", "").rstrip("/") != self.issuer:
                raise KeySourceError("discovery document names another issuer")
            self._jwks_uri = document.get("jwks_uri")
            if not self._jwks_uri:
                raise KeySourceError("discovery document has no jwks_uri")
        return self._jwks_uri

    def _refetch(self) -> KeySet:
        if self.key_source is not None:
            self._keys = self.key_source()
            self._fetched_at = self.clock()
            self.fetch_count += 1
            return self._keys
        document = fetch_json(self.jwks_uri, self.timeout, self.http)
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, KeyError, TypeError) as exc:
            raise KeySourceError(f"invalid JWKS: {exc}") from exc
        self._keys = keys
        self._fetched_at = self.clock()
        self.fetch_count += 1
        return keys

    def key_for(self, kid: str | None) -> Any:
        """Return the verification key for ``kid``, refetching the JWKS once if it is unknown."""
        with self._lock:
            keys = self._keys
            if keys is None:
                keys = self._refetch()
            elif self.clock() - self._fetched_at > self.cache_ttl:
                # Periodic refresh, so keys the provider withdrew stop being trusted.
                # On failure, keep the known keys while the provider is unreachable.
                with contextlib.suppress(KeySourceError):
                    keys = self._refetch()
            key = self._find(keys, kid)
            if key is None and self.clock() - self._fetched_at >= self.min_refetch_interval:
                key = self._find(self._refetch(), kid)
        if key is None:
            raise TokenError("unknown signing key")
        return key

    @staticmethod
    def _find(keys: KeySet, kid: str | None) -> Any:
        if kid is None:
            # Tolerated only when there is no choice to make.
            return keys.keys[0] if len(keys.keys) == 1 else None
        for key in keys.keys:
            if key.kid == kid:
                return key
        return None

    # -- generic decode -----------------------------------------------------------------
    def decode(self, token: str, *, expected_typ: str | None = None) -> tuple[dict, dict]:
        """Check the signature of a compact JWS and return ``(header, claims)``.

        ``expected_typ`` is compared case-insensitively, with or without the ``application/``
        prefix (RFC 7515 §4.1.9), so that an id_token cannot pass for an access token.
        """
        if not isinstance(token, str) or token.count(".") != 2:
            raise TokenError("malformed token")
        try:
            # Parsed once: the same object is then checked (not re-parsed by jwt.decode).
            obj = jws.extract_compact(token.encode("ascii"), registry=self.registry)
            header = obj.headers()
        except (JoseError, ValueError, UnicodeError) as exc:
            raise TokenError("malformed token") from exc
        if header.get("alg") not in self.algorithms:
            raise TokenError("unsupported signing algorithm")
        if expected_typ is not None:
            typ = str(header.get("typ", "")).lower().removeprefix("application/")
            if typ != expected_typ:
                raise TokenError(f"token type must be {expected_typ}")
        key = self.key_for(header.get("kid"))
        try:
            valid = jws.validate_compact(obj, key, algorithms=list(self.algorithms),
                                         registry=self.registry)
        except (JoseError, ValueError) as exc:
            raise TokenError("invalid signature") from exc
        if not valid:
            raise TokenError("invalid signature")
        try:
            claims = json.loads(obj.payload or b"")
        except ValueError as exc:
            raise TokenError("invalid signature") from exc
        if not isinstance(claims, dict):
            raise TokenError("invalid signature")
        return dict(header), claims

    def _check_times(self, claims: dict, *, require_exp: bool = True,
                     max_age: float | None = None) -> None:
        """``exp`` (required unless ``require_exp`` is false, and then still checked when
        present), ``iat`` not in the future and, with ``max_age``, not older than that."""
        now = self.clock()
        exp, iat = claims.get("exp"), claims.get("iat")
        if exp is not None or require_exp:
            if not isinstance(exp, int | float) or isinstance(exp, bool):
                raise TokenError("missing exp" if exp is None else "invalid exp")
            if exp + self.leeway < now:
                raise TokenError("token expired")
        if not isinstance(iat, int | float) or isinstance(iat, bool):
            raise TokenError("missing iat")
        if iat - self.leeway > now:
            raise TokenError("token issued in the future")
        if max_age is not None and iat + max_age + self.leeway < now:
            raise TokenError("token too old")
        nbf = claims.get("nbf")
        if isinstance(nbf, int | float) and nbf - self.leeway > now:
            raise TokenError("token not yet valid")

    def _check_issuer(self, claims: dict) -> None:
        iss = str(claims.get("iss", "")).rstrip("/")
        if iss != self.issuer and iss not in self.extra_issuers:
            raise TokenError("wrong issuer")

    @staticmethod
    def _audiences(claims: dict) -> list[str]:
        aud = claims.get("aud")
        if isinstance(aud, str):
            return [aud]
        if isinstance(aud, list) and all(isinstance(a, str) for a in aud):
            return aud
        return []

    # -- the three token kinds ----------------------------------------------------------
    def verify_id_token(
        self, token: str, *, client_id: str, nonce: str | None, max_age: int | None = None
    ) -> dict:
        """Validate an id_token as OpenID Connect Core §3.1.3.7 asks; return its claims.

        ``nonce`` is the value this client put in the authorization request: it binds the
        token to the browser session that started the sign-in (replay protection).
        """
        _header, claims = self.decode(token)
        self._check_issuer(claims)
        audiences = self._audiences(claims)
        if client_id not in audiences:
            raise TokenError("wrong audience")
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != client_id:
            raise TokenError("wrong authorized party")
        self._check_times(claims)
        if not claims.get("sub"):
            raise TokenError("missing sub")
        if nonce is not None and claims.get("nonce") != nonce:
            raise TokenError("nonce mismatch")
        if max_age is not None:
            auth_time = claims.get("auth_time")
            if not isinstance(auth_time, int | float):
                raise TokenError("missing auth_time")
            if auth_time + max_age + self.leeway < self.clock():
                raise TokenError("authentication too old")
        return claims

    def verify_access_token(
        self, token: str, *, audience: str, required_scopes: Iterable[str] = ()
    ) -> dict:
        """Validate an RFC 9068 JWT access token for the resource ``audience``; return claims.

        The ``typ: at+jwt`` header check matters: without it an id_token (also signed by the
        same keys, with the client as audience) could be replayed as an access token.
        Raises ``InsufficientScope`` when the token is valid but its ``scope`` falls short.
        """
        _header, claims = self.decode(token, expected_typ="at+jwt")
        self._check_issuer(claims)
        if audience not in self._audiences(claims):
            raise TokenError("wrong audience")
        self._check_times(claims)
        if not claims.get("sub"):
            raise TokenError("missing sub")
        granted = set(str(claims.get("scope", "")).split())
        missing = [s for s in required_scopes if s not in granted]
        if missing:
            raise InsufficientScope("scope lacks " + " ".join(missing))
        return claims

    def verify_logout_token(self, token: str, *, client_id: str) -> dict:
        """Validate a back-channel logout token (OpenID Back-Channel Logout 1.0 §2.6).

        A logout token must carry the back-channel event and ``sid`` or ``sub``, and must
        never carry a ``nonce`` (which would let an id_token be used as one). Its ``exp``
        is checked when present and its ``iat`` may be at most ``logout_token_max_age``
        seconds old.
        """
        header, claims = self.decode(token)
        typ = str(header.get("typ", "logout+jwt")).lower().removeprefix("application/")
        if typ != "logout+jwt":
            raise TokenError("token type must be logout+jwt")
        self._check_issuer(claims)
        if client_id not in self._audiences(claims):
            raise TokenError("wrong audience")
        # exp is optional in the spec but checked when present; iat is bounded, so a
        # captured logout token is worth nothing after LOGOUT_TOKEN_MAX_AGE (the replay
        # table of its jti need not outlive that).
        self._check_times(claims, require_exp=False, max_age=self.logout_token_max_age)
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(
            events.get(BACKCHANNEL_LOGOUT_EVENT), dict
        ):
            raise TokenError("missing back-channel logout event")
        if "nonce" in claims:
            raise TokenError("logout token must not contain a nonce")
        if not claims.get("sid") and not claims.get("sub"):
            raise TokenError("logout token needs sid or sub")
        if not claims.get("jti"):
            raise TokenError("missing jti")
        return claims
