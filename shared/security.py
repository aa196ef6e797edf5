"""HTTP security headers applied to every response of both apps; forwarded headers trusted
only from configured proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import Any

from flask import Flask, Response
from werkzeug.middleware.proxy_fix import ProxyFix

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self' {form_action}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)


def init_security_headers(app: Flask, form_action: str = "") -> None:
    """Register an after_request hook setting CSP, framing, sniffing and referrer headers.

    ``form_action`` widens the CSP ``form-action`` directive, since the idp's form_post
    response and its logout pages post to client apps.
    """

    # Built once, on the first response (the config is final by then), then only copied:
    # this hook runs on every response, token grants included.
    fixed: list[tuple[str, str]] = []

    def _build() -> list[tuple[str, str]]:
        extra = app.config.get("CSP_FORM_ACTION", form_action)
        pairs = [("Content-Security-Policy", CSP.format(form_action=extra)),
                 ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
                 ("Referrer-Policy", "no-referrer")]
        if app.config.get("PUBLIC_URL", "").startswith("https://"):
            pairs.append(("Strict-Transport-Security", "max-age=31536000; includeSubDomains"))
        return pairs

    @app.after_request
    def _headers(response: Response) -> Response:
        if not fixed:
            fixed.extend(_build())
        headers = response.headers
        # One pass over the response's headers (werkzeug's ``in`` is a linear scan each).
        present = {key.lower() for key, _value in headers.items()}
        for name, value in fixed:
            if name.lower() not in present:
                headers.add(name, value)
        return response


class TrustedProxyFix:
    """Werkzeug's ``ProxyFix``, applied only to requests whose direct peer is a trusted
    proxy (``trusted``: addresses or CIDRs).

    Why: with plain ``ProxyFix`` any client that reaches the app directly (a published
    port, a misrouted balancer) picks its own ``X-Forwarded-For`` and so its address for
    the rate limits, the lockout audit and the logs. Here a peer outside ``trusted`` is
    taken at its socket address and its forwarded headers are ignored.
    """

    def __init__(self, app: Any, trusted: Iterable[str], **proxy_fix: int) -> None:
        self.app = app
        self.networks = parse_networks(trusted)
        if not self.networks:
            raise ValueError("no trusted proxy address given")
        self.fixed = ProxyFix(app, **proxy_fix)

    def trusts(self, peer: str | None) -> bool:
        try:
            address = ipaddress.ip_address((peer or "").split("%")[0])
        except ValueError:
            return False
        return any(address in net for net in self.networks)

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if self.trusts(environ.get("REMOTE_ADDR")):
            return self.fixed(environ, start_response)
        return self.app(environ, start_response)


def parse_networks(spec: str | Iterable[str] | None) -> list[IPNetwork]:
    """``"10.0.0.2, 10.1.0.0/16"`` (or a list) as networks; a bad entry raises ValueError."""
    if spec is None:
        return []
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    return [ipaddress.ip_network(item.strip(), strict=False) for item in items if item.strip()]
