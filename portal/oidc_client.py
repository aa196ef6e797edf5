"""The portal as an OpenID Connect relying party, written against the standard only.

Why plain ``requests`` rather than a framework integration: every step (PKCE, ``state``,
``nonce``, the RFC 9207 ``iss`` check, id_token validation through ``shared``'s verifier)
stays visible in about a hundred lines, and the idp is known through its discovery document
alone, as any agency app would know it.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

from shared import pkce
from shared.token_verification import JWKSVerifier, KeySourceError, fetch_json

SCOPES = "openid profile email customer offline_access"
# Discovery field (not standardised; named like op_policy_uri, a page for people) where an
# OP may publish its account-management page, the target of "Mon compte".
ACCOUNT_DISCOVERY_KEY = "account_management_uri"


class ProviderUnavailable(Exception):
    """The idp could not be reached or answered garbage: show "service indisponible"."""


class OIDCError(Exception):
    """The idp answered with an OAuth error (``error``/``error_description``)."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(f"{error}: {description}" if description else error)
        self.error = error
        self.description = description


@dataclass
class PendingAuth:
    """What the browser session must remember between the redirect and the callback."""

    state: str
    nonce: str
    code_verifier: str
    next_url: str
    silent: bool = False  # a prompt=none renewal of a signed-in session

    @classmethod
    def new(cls, next_url: str, *, silent: bool = False) -> PendingAuth:
        """Fresh random ``state``, ``nonce`` and PKCE verifier (RFC 7636: 43+ chars)."""
        return cls(
            state=secrets.token_urlsafe(24),
            nonce=secrets.token_urlsafe(24),
            code_verifier=secrets.token_urlsafe(48),
            next_url=next_url,
            silent=silent,
        )

    @property
    def code_challenge(self) -> str:
        """S256 challenge of the verifier."""
        return pkce.s256(self.code_verifier)


class OIDCClient:
    """One confidential (or public) client of one issuer, with cached discovery and JWKS."""

    def __init__(
        self,
        issuer: str,
        client_id: str,
        client_secret: str | None,
        *,
        token_auth_method: str = "client_secret_basic",  # noqa: S107
        scopes: str = SCOPES,
        timeout: float = 5.0,
        discovery_ttl: float = 3600.0,
        jwks_min_refetch_interval: float = 10.0,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret or None
        self.token_auth_method = token_auth_method if self.client_secret else "none"
        self.scopes = scopes
        self.timeout = timeout
        self.discovery_ttl = discovery_ttl
        self.http = requests.Session()
        self._metadata: dict[str, Any] | None = None
        self._metadata_at = 0.0
        self._lock = threading.Lock()
        self.verifier = JWKSVerifier(
            self.issuer, min_refetch_interval=jwks_min_refetch_interval, timeout=timeout,
            http=self.http,
        )

    # -- discovery ----------------------------------------------------------------------
    @property
    def metadata(self) -> dict[str, Any]:
        """The discovery document, cached for ``discovery_ttl`` seconds."""
        with self._lock:
            if self._metadata is None or time.time() - self._metadata_at > self.discovery_ttl:
                url = f"{self.issuer}/.well-known/openid-configuration"
                try:
                    document = fetch_json(url, self.timeout, self.http)
                except KeySourceError as exc:
                    raise ProviderUnavailable(str(exc)) from exc
                if str(document.get("issuer", "")).rstrip("/") != self.issuer:
                    raise ProviderUnavailable("discovery document names another issuer")
                self._metadata, self._metadata_at = document, time.time()
                if document.get("jwks_uri"):
                    self.verifier._jwks_uri = document["jwks_uri"]
            return self._metadata

    def endpoint(self, name: str) -> str:
        """A discovered endpoint URL (``authorization_endpoint``, ``token_endpoint``...)."""
        url = self.metadata.get(name)
        if not url:
            raise ProviderUnavailable(f"the provider publishes no {name}")
        return str(url)

    def account_url(self) -> str | None:
        """The OP's account page from discovery, if it publishes an http(s) one."""
        url = self.metadata.get(ACCOUNT_DISCOVERY_KEY)
        if isinstance(url, str) and url.startswith(("https://", "http://")):
            return url
        return None

    # -- authorization ------------------------------------------------------------------
    def authorization_url(
        self, pending: PendingAuth, redirect_uri: str, *, ui_locales: str | None = None,
        prompt: str | None = None, id_token_hint: str | None = None,
    ) -> str:
        """The URL that sends the browser to the idp's sign-in page.

        ``prompt="none"`` with ``id_token_hint`` is the silent renewal: the OP answers at
        once, with a code for the same user or ``login_required`` (OIDC Core §3.1.2.1).
        """
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": redirect_uri,
            "scope": self.scopes,
            "state": pending.state,
            "nonce": pending.nonce,
            "code_challenge": pending.code_challenge,
            "code_challenge_method": "S256",
        }
        if ui_locales:
            params["ui_locales"] = ui_locales
        if prompt:
            params["prompt"] = prompt
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        endpoint = self.endpoint("authorization_endpoint")
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}"

    def check_authorization_response(self, args: Any, pending: PendingAuth) -> str:
        """Validate the callback's query (state, RFC 9207 iss, error) and return the code."""
        if not secrets.compare_digest(str(args.get("state", "")), pending.state):
            raise OIDCError("invalid_state", "state mismatch")
        iss = args.get("iss")
        if iss is not None and iss.rstrip("/") != self.issuer:
            raise OIDCError("invalid_issuer", "iss mismatch (mix-up attack?)")
        if iss is None and self.metadata.get("authorization_response_iss_parameter_supported"):
            raise OIDCError("invalid_issuer", "iss missing")
        if args.get("error"):
            raise OIDCError(str(args["error"]), str(args.get("error_description", "")))
        code = args.get("code")
        if not code:
            raise OIDCError("invalid_request", "no code")
        return str(code)

    # -- token endpoint -----------------------------------------------------------------
    def _token_request(self, form: dict[str, str]) -> dict[str, Any]:
        auth = None
        if self.token_auth_method == "client_secret_basic":
            auth = (self.client_id, self.client_secret or "")
        else:
            form = {**form, "client_id": self.client_id}
            if self.token_auth_method == "client_secret_post":
                form["client_secret"] = self.client_secret or ""
        try:
            response = self.http.post(
                self.endpoint("token_endpoint"), data=form, auth=auth, timeout=self.timeout,
                headers={"Accept": "application/json"},
            )
        except requests.RequestException as exc:
            raise ProviderUnavailable(str(exc)) from exc
        try:
            body = response.json()
        except ValueError as exc:
            raise ProviderUnavailable(f"token endpoint answered {response.status_code}") from exc
        if not isinstance(body, dict):
            raise ProviderUnavailable("token endpoint answered garbage")
        if response.status_code != 200 or "error" in body:
            raise OIDCError(str(body.get("error", "server_error")),
                            str(body.get("error_description", "")))
        if not body.get("access_token"):
            raise OIDCError("invalid_response", "no access_token")
        return body

    def exchange_code(self, code: str, redirect_uri: str, pending: PendingAuth) -> dict[str, Any]:
        """Trade the code for tokens; validate the id_token; return tokens plus ``claims``."""
        tokens = self._token_request({
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": pending.code_verifier,
        })
        if not tokens.get("id_token"):
            raise OIDCError("invalid_response", "no id_token")
        try:
            tokens["claims"] = self.verifier.verify_id_token(
                tokens["id_token"], client_id=self.client_id, nonce=pending.nonce
            )
        except KeySourceError as exc:
            raise ProviderUnavailable(str(exc)) from exc
        return tokens

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        """Use (and so rotate) a refresh token. The caller must store the new one."""
        tokens = self._token_request(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        if tokens.get("id_token"):
            try:
                tokens["claims"] = self.verifier.verify_id_token(
                    tokens["id_token"], client_id=self.client_id, nonce=None
                )
            except KeySourceError as exc:
                raise ProviderUnavailable(str(exc)) from exc
        return tokens

    def userinfo(self, access_token: str, subject: str) -> dict[str, Any]:
        """Profile claims from the UserInfo endpoint (where the idp puts them when it
        issues an access token). Best effort: an empty dict when unavailable. Claims
        whose ``sub`` differs from the id_token's are discarded (OIDC Core §5.3.2)."""
        endpoint = self.metadata.get("userinfo_endpoint")
        if not endpoint:
            return {}
        try:
            response = self.http.get(
                endpoint, headers={"Authorization": f"Bearer {access_token}"},
                timeout=self.timeout,
            )
            body = response.json() if response.status_code == 200 else {}
        except (requests.RequestException, ValueError):
            return {}
        if not isinstance(body, dict) or body.get("sub") != subject:
            return {}
        return body

    # -- logout -------------------------------------------------------------------------
    def end_session_url(
        self, id_token_hint: str | None, post_logout_redirect_uri: str, state: str
    ) -> str | None:
        """RP-initiated logout URL, or ``None`` if the provider has no end_session_endpoint."""
        endpoint = self.metadata.get("end_session_endpoint")
        if not endpoint:
            return None
        params = {
            "client_id": self.client_id,
            "post_logout_redirect_uri": post_logout_redirect_uri,
            "state": state,
        }
        if id_token_hint:
            params["id_token_hint"] = id_token_hint
        separator = "&" if "?" in endpoint else "?"
        return f"{endpoint}{separator}{urlencode(params)}"
