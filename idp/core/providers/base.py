"""What every social provider adapter shares: the normalised profile, errors, HTTP, state.

The views (written elsewhere) only ever see :class:`NormalisedProfile` and
:class:`FederationError`; every provider-specific oddity stays in its own module.  The adapter
is deliberately stateless between ``begin`` and ``complete``: what must survive the round trip
(``state``, ``nonce``, PKCE ``code_verifier``) is returned by ``begin`` for the caller to keep
server-side (the sign-in session), and handed back to ``complete``.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode, urlsplit

import requests

log = logging.getLogger("idp.federation")

#: The only reasons a :class:`FederationError` may carry; the views map each to a French page.
REASONS = frozenset({"cancelled", "bad_state", "provider_error", "timeout", "invalid_response"})

#: How long a ``begin`` stays redeemable; a callback older than this is refused as ``bad_state``.
STATE_MAX_AGE = 15 * 60


@dataclass(frozen=True)
class NormalisedProfile:
    """One provider's answer reduced to what linking and display need.

    ``subject`` is the provider's *stable* user key (Google/LinkedIn ``sub``, Facebook app-scoped
    ``id``, X ``data.id``): link on ``(provider, subject)``, never on the email, which can change
    or be recycled.  ``email_verified`` is a real ``bool`` and is ``False`` whenever ``email`` is
    ``None`` or the provider does not vouch for it (Facebook never does).
    """

    provider: str
    subject: str
    email: str | None
    email_verified: bool
    given_name: str | None
    family_name: str | None
    name: str | None
    picture: str | None


class FederationError(Exception):
    """A sign-in with a provider did not produce a profile.

    ``reason`` is one of :data:`REASONS` (what the views switch on); ``detail`` is a technical,
    English explanation for logs and audit events.  It never contains tokens or secrets.
    """

    def __init__(self, reason: str, detail: str = "") -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown federation error reason {reason!r}")
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


def as_bool(value: Any) -> bool:
    """Providers disagree on types: LinkedIn's id_token says ``"true"``, its userinfo ``true``."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return False


def clean_str(value: Any) -> str | None:
    """A non-empty stripped string, or ``None`` (providers send ``""``, ``null`` or nothing)."""
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def make_profile(provider: str, subject: Any, *, email: Any = None, email_verified: Any = False,
                 given_name: Any = None, family_name: Any = None, name: Any = None,
                 picture: Any = None) -> NormalisedProfile:
    """Build a profile, refusing one without a usable subject (it could not be linked safely)."""
    if isinstance(subject, int) and not isinstance(subject, bool):
        subject = str(subject)
    sub = clean_str(subject)
    if sub is None:
        raise FederationError("invalid_response", f"{provider}: no stable user identifier")
    mail = clean_str(email)
    given, family = clean_str(given_name), clean_str(family_name)
    full = clean_str(name) or (" ".join(p for p in (given, family) if p) or None)
    return NormalisedProfile(
        provider=provider, subject=sub, email=mail,
        email_verified=bool(mail) and as_bool(email_verified),
        given_name=given, family_name=family, name=full, picture=clean_str(picture),
    )


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def check_endpoint_url(url: str, what: str) -> str:
    """Endpoints must be https; plain http is allowed on loopback only (the test fakes)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return url
    raise ValueError(f"{what} must be an https URL (http only on loopback): {url!r}")


class ProviderAdapter:
    """Base of the four adapters: settings, ``state`` handling, HTTP with timeouts, errors.

    Subclasses set :attr:`alias`, :attr:`display_name`, :attr:`cancel_errors` and implement
    :meth:`authorization_endpoint`, :meth:`authorization_params` and :meth:`finish`.
    """

    alias: ClassVar[str]
    display_name: ClassVar[str]
    #: ``error`` values of the callback that mean "the user said no" (→ ``cancelled``).
    cancel_errors: ClassVar[frozenset[str]] = frozenset({"access_denied"})

    def __init__(self, settings: Mapping[str, Any], timeout: float = 10.0) -> None:
        alias = settings.get("alias", self.alias)
        if alias != self.alias:
            raise ValueError(f"settings for {alias!r} given to the {self.alias!r} adapter")
        for name in ("client_id", "client_secret"):
            if not clean_str(settings.get(name)):
                raise ValueError(f"identity provider {self.alias!r}: {name} is required")
        self.settings: dict[str, Any] = dict(settings)
        self.client_id: str = str(settings["client_id"])
        self._client_secret: str = str(settings["client_secret"])
        self.timeout = float(timeout)

    def __repr__(self) -> str:  # never show the secret, even in a traceback
        return f"<{type(self).__name__} alias={self.alias!r} client_id={self.client_id!r}>"

    @property
    def enabled(self) -> bool:
        return bool(self.settings.get("enabled", True))

    def setting_url(self, name: str, default: str | None = None) -> str | None:
        """An endpoint override from the realm settings (checked), else ``default``."""
        value = clean_str(self.settings.get(name))
        if value is None:
            return default
        return check_endpoint_url(value, f"{self.alias}.{name}")

    # -- the interface the views call ---------------------------------------------------
    def begin(self, redirect_uri: str) -> tuple[str, dict[str, Any]]:
        """Start a sign-in: the URL to send the browser to, and what to keep server-side.

        The kept dict is JSON-serialisable (it goes into the sign-in session) and holds the
        ``state`` (and nonce / PKCE verifier where the provider uses them).
        """
        kept: dict[str, Any] = {
            "provider": self.alias,
            "state": secrets.token_urlsafe(32),
            "redirect_uri": redirect_uri,
            "issued_at": int(time.time()),
        }
        params = {
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "state": kept["state"],
            **self.authorization_params(kept),
        }
        endpoint = self.authorization_endpoint()
        sep = "&" if "?" in endpoint else "?"
        return f"{endpoint}{sep}{urlencode(params)}", kept

    def complete(self, redirect_uri: str, args: Mapping[str, str],
                 kept: Mapping[str, Any]) -> NormalisedProfile:
        """Finish a sign-in from the callback query ``args`` and what ``begin`` kept.

        Order matters: ``state`` first (a callback we did not start is refused whatever it
        says), then the provider's error / cancel, then the code exchange and identity.
        """
        self.check_state(redirect_uri, args, kept)
        self.check_callback_error(args)
        code = clean_str(args.get("code"))
        if code is None:
            raise FederationError("invalid_response", f"{self.alias}: callback without a code")
        profile = self.finish(redirect_uri, code, kept)
        log.info("federation: %s sign-in completed for subject %s", self.alias, profile.subject)
        return profile

    # -- for subclasses -------------------------------------------------------------------
    def authorization_endpoint(self) -> str:
        raise NotImplementedError

    def authorization_params(self, kept: dict[str, Any]) -> dict[str, str]:
        """Extra authorize parameters (scope, nonce, PKCE...); may add to ``kept``."""
        raise NotImplementedError

    def finish(self, redirect_uri: str, code: str, kept: Mapping[str, Any]) -> NormalisedProfile:
        """Exchange the code and fetch / validate the identity."""
        raise NotImplementedError

    # -- shared steps -------------------------------------------------------------------
    def check_state(self, redirect_uri: str, args: Mapping[str, str],
                    kept: Mapping[str, Any]) -> None:
        expected = kept.get("state") if isinstance(kept, Mapping) else None
        received = args.get("state")
        if not isinstance(expected, str) or not expected:
            raise FederationError("bad_state", f"{self.alias}: no sign-in in progress")
        if not isinstance(received, str) or not received:
            raise FederationError("bad_state", f"{self.alias}: callback without state")
        if not hmac.compare_digest(expected.encode(), received.encode()):
            raise FederationError("bad_state", f"{self.alias}: state mismatch")
        if kept.get("provider") != self.alias:
            raise FederationError("bad_state", f"{self.alias}: sign-in was started with "
                                  f"{kept.get('provider')!r}")
        if kept.get("redirect_uri") != redirect_uri:
            raise FederationError("bad_state", f"{self.alias}: redirect_uri differs from begin")
        issued = kept.get("issued_at")
        if not isinstance(issued, int | float) or time.time() - issued > STATE_MAX_AGE:
            raise FederationError("bad_state", f"{self.alias}: sign-in attempt expired")

    def check_callback_error(self, args: Mapping[str, str]) -> None:
        error = clean_str(args.get("error"))
        if error is None:
            return
        description = clean_str(args.get("error_description")) or ""
        if error in self.cancel_errors:
            raise FederationError("cancelled", f"{self.alias}: {error} {description}".strip())
        raise FederationError("provider_error", f"{self.alias}: {error} {description}".strip())

    def http(self, method: str, url: str, what: str, **kwargs: Any) -> requests.Response:
        """One HTTP call to the provider; network failures become ``FederationError``.

        A closed port and a slow provider look the same to the customer ("the provider did
        not answer"), hence both map to ``timeout``.  Redirects are not followed: no provider
        endpoint legitimately redirects a back-channel call.
        """
        host = urlsplit(url).netloc
        try:
            return requests.request(method, url, timeout=self.timeout, allow_redirects=False,
                                    **kwargs)
        except requests.Timeout as exc:
            raise FederationError("timeout", f"{self.alias} {what}: no answer from {host} "
                                  f"within {self.timeout:g}s") from exc
        except requests.ConnectionError as exc:
            raise FederationError("timeout", f"{self.alias} {what}: cannot reach "
                                  f"{host}") from exc
        except requests.RequestException as exc:
            raise FederationError("provider_error", f"{self.alias} {what}: "
                                  f"{type(exc).__name__}") from exc

    def json_body(self, resp: requests.Response, what: str) -> dict[str, Any]:
        try:
            body = resp.json()
        except ValueError as exc:
            raise FederationError("invalid_response", f"{self.alias} {what}: HTTP "
                                  f"{resp.status_code}, not JSON") from exc
        if not isinstance(body, dict):
            raise FederationError("invalid_response", f"{self.alias} {what}: not a JSON object")
        return body

    @staticmethod
    def lenient_json(resp: requests.Response) -> dict[str, Any]:
        """The body of an error answer, if it is a JSON object (else ``{}``)."""
        try:
            body = resp.json()
        except ValueError:
            return {}
        return body if isinstance(body, dict) else {}

    def describe_error(self, body: Mapping[str, Any]) -> str:
        """Provider error body → short text for logs (RFC 6749, Facebook, LinkedIn, X shapes)."""
        err = body.get("error")
        if isinstance(err, Mapping):  # Facebook: {"error": {"message", "code", ...}}
            parts = [f"{err.get('type', 'error')} code={err.get('code')}"]
            if err.get("error_subcode") is not None:
                parts.append(f"subcode={err.get('error_subcode')}")
            parts.append(str(err.get("message", "")))
            if err.get("fbtrace_id"):
                parts.append(f"(fbtrace_id={err['fbtrace_id']})")
            return " ".join(parts)
        if err:
            return f"{err}: {body.get('error_description', '')}".rstrip(": ")
        if "serviceErrorCode" in body:  # LinkedIn REST
            return f"serviceErrorCode={body['serviceErrorCode']} {body.get('message', '')}"
        if "title" in body or "detail" in body:  # X problem+json
            return f"{body.get('title', '')}: {body.get('detail', '')}"
        return "unexpected error body"

    def token_request(self, url: str, data: Mapping[str, str],
                      auth: tuple[str, str] | None = None,
                      method: str = "POST") -> dict[str, Any]:
        """Exchange a code; refuse anything but a 200 JSON with an ``access_token``."""
        resp = self.http(method, url, "token request", data=data if method == "POST" else None,
                         params=data if method == "GET" else None, auth=auth,
                         headers={"Accept": "application/json"})
        if resp.status_code != 200:
            raise FederationError("provider_error", f"{self.alias} token endpoint: HTTP "
                                  f"{resp.status_code} "
                                  f"{self.describe_error(self.lenient_json(resp))}")
        body = self.json_body(resp, "token endpoint")
        if not clean_str(body.get("access_token")):
            raise FederationError("invalid_response", f"{self.alias} token endpoint: no "
                                  "access_token")
        token_type = str(body.get("token_type", "bearer")).lower()
        if token_type != "bearer":
            raise FederationError("invalid_response", f"{self.alias} token endpoint: "
                                  f"unsupported token_type {token_type!r}")
        return body

    def api_get(self, url: str, access_token: str, what: str,
                params: Mapping[str, str] | None = None) -> dict[str, Any]:
        """A Bearer GET (the token goes in a header, never in a URL that might be logged)."""
        resp = self.http("GET", url, what, params=params,
                         headers={"Authorization": f"Bearer {access_token}",
                                  "Accept": "application/json"})
        if resp.status_code != 200:
            raise FederationError("provider_error", f"{self.alias} {what}: HTTP "
                                  f"{resp.status_code} "
                                  f"{self.describe_error(self.lenient_json(resp))}")
        return self.json_body(resp, what)
