"""Every HTTP call the idp makes to an address a client chose (back-channel logout,
``jwks_uri``): one helper that cannot be turned against the idp's own network.

At call time the host name is resolved and the call refused when any address is not
public (loopback, private, link-local, ULA, multicast, unspecified, reserved); the
connection then goes to the address that was checked (no second lookup a rebinding DNS
could answer differently), TLS still verified against the name. Redirects are never
followed (a 3xx is a failure), the timeout is short and the body read is capped.

``configure(loopback_allowed=True)`` (``IDP_OUTBOUND_LOOPBACK``, development and demo
only, refused in production) also lets calls reach an exact loopback host, as the demo
portal's back-channel logout does. Tests replace :data:`resolver` to make a name resolve
to a chosen address without touching ``/etc/hosts``.
"""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode, urlsplit

import urllib3
from requests.certs import where as ca_bundle

from .clients.uris import (  # noqa: F401  (configure: set by the app factory)
    UriError,
    configure,
    is_loopback_host,
    loopback_allowed,
    outbound_uri,
    public_address,
)

TIMEOUT_SECONDS = 5.0
MAX_BODY_BYTES = 256 * 1024


class OutboundRefused(Exception):
    """The call was not made (or its answer not used): the message says why (for logs)."""


def _system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


#: ``(host, port) -> [address, ...]``; tests swap it for a fixed table.
resolver: Callable[[str, int], list[str]] = _system_resolver
@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _checked_address(host: str, port: int) -> str:
    """The first resolved address once every address is acceptable."""
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise OutboundRefused(f"{host} does not resolve: {type(exc).__name__}") from None
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve")
    loopback = loopback_allowed() and is_loopback_host(host)
    for text in addresses:
        address = ipaddress.ip_address(text.split("%", 1)[0])
        if not (public_address(address) or (loopback and address.is_loopback)):
            raise OutboundRefused(f"{host} resolves to a non-public address")
    return addresses[0]


def request(method: str, uri: str, *, body: bytes | None = None,
            headers: dict[str, str] | None = None, timeout: float = TIMEOUT_SECONDS,
            max_bytes: int = MAX_BODY_BYTES) -> Answer:
    """One call to ``uri`` under the rules above; :class:`OutboundRefused` when refused
    or when the network fails."""
    try:
        outbound_uri(uri, "uri", loopback_allowed=loopback_allowed())
    except UriError as exc:
        raise OutboundRefused(str(exc)) from None
    parts = urlsplit(uri)
    host = (parts.hostname or "").lower()
    https = parts.scheme.lower() == "https"
    port = parts.port or (443 if https else 80)
    address = _checked_address(host, port)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    pool: urllib3.HTTPConnectionPool
    kw: dict[str, Any] = {"timeout": urllib3.Timeout(connect=timeout, read=timeout),
                          "retries": False, "maxsize": 1}
    if https:
        pool = urllib3.HTTPSConnectionPool(address, port, server_hostname=host,
                                           assert_hostname=host, cert_reqs="CERT_REQUIRED",
                                           ca_certs=ca_bundle(), **kw)
    else:
        pool = urllib3.HTTPConnectionPool(address, port, **kw)
    host_header = parts.netloc.rsplit("@", 1)[-1]
    try:
        with pool:
            resp = pool.urlopen(method, target, body=body,
                                headers={"Host": host_header, **(headers or {})},
                                redirect=False, preload_content=False)
            data = resp.read(max_bytes + 1, decode_content=True)
            resp.release_conn()
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise OutboundRefused(f"{host}: {type(exc).__name__}") from None
    if len(data) > max_bytes:
        raise OutboundRefused(f"{host}: answer larger than {max_bytes} bytes")
    if 300 <= resp.status < 400:
        raise OutboundRefused(f"{host}: answered a redirect ({resp.status}), not followed")
    return Answer(resp.status, data)


def post_form(uri: str, fields: dict[str, str], timeout: float = TIMEOUT_SECONDS) -> Answer:
    return request("POST", uri, body=urlencode(fields).encode(), timeout=timeout,
                   headers={"Content-Type": "application/x-www-form-urlencoded"})


def get_json(uri: str, timeout: float = TIMEOUT_SECONDS,
             max_bytes: int = MAX_BODY_BYTES) -> Any:
    """GET ``uri`` and parse its JSON (2xx only)."""
    answer = request("GET", uri, headers={"Accept": "application/json"}, timeout=timeout,
                     max_bytes=max_bytes)
    if not answer.ok:
        raise OutboundRefused(f"{urlsplit(uri).hostname}: answered {answer.status}")
    try:
        return json.loads(answer.body)
    except ValueError:
        raise OutboundRefused(f"{urlsplit(uri).hostname}: not JSON") from None
