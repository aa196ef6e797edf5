"""The URIs of a client's metadata, parsed and compared exactly (never by prefix).

Two kinds:

* URIs the browser is sent to (``redirect_uris``, ``post_logout_redirect_uris``) and
  pages shown to the customer (``logo_uri``, ``client_uri``, ``policy_uri``, ``tos_uri``):
  https, or http on a loopback host only (RFC 8252 §7.3: ``127.0.0.1``, ``[::1]``,
  ``localhost``, the exact host, not ``localhost.evil.example``); absolute, no fragment,
  no userinfo (``http://127.0.0.1@evil.example/`` goes to evil.example).
* URIs the idp itself calls (``backchannel_logout_uri``, ``jwks_uri``): https to a public
  address. Registration refuses IP literals outside the global ranges and local names up
  front; :mod:`idp.core.outbound` checks the resolved addresses again at call time.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

#: The loopback hosts of RFC 8252 §7.3, compared exactly (lower-case, no trailing dot).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
#: Name suffixes that never denote a public host (RFC 6761, RFC 6762, common intranets).
LOCAL_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".lan", ".home.arpa",
                  ".intranet", ".corp")
MAX_LENGTH = 2000
_HOST_PORT = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[^\[\]:]*)(:[0-9]*)?$")
_HOST_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,62})(\.[a-z0-9_]([a-z0-9_-]{0,62}))*\.?$")
_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_DNS_NAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*$")


class UriError(ValueError):
    """A URI refused; ``field`` names the metadata it came from."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def _parts(uri: object, field: str) -> tuple[str, str, str]:
    """(scheme, host, uri) of an absolute URI without fragment or userinfo."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_LENGTH:
        raise UriError(field, "each value must be a URI string")
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        raise UriError(field, f"{uri!r} contains spaces or control characters")
    parts = urlsplit(uri)
    if "#" in uri:
        raise UriError(field, f"{uri!r} must not have a fragment")
    if "@" in parts.netloc:
        raise UriError(field, f"{uri!r} must not carry credentials (userinfo)")
    host = (parts.hostname or "").lower()
    if not _HOST_PORT.match(parts.netloc):  # e.g. "[::1].evil.example": not one host
        raise UriError(field, f"{uri!r} has an invalid host")
    if not parts.scheme or not host:
        raise UriError(field, f"{uri!r} must be an absolute URI")
    if not (_ip_literal(host) or _HOST_NAME.match(host)):
        raise UriError(field, f"{uri!r} has an invalid host")
    try:
        parts.port  # noqa: B018  (raises on a bad port)
    except ValueError:
        raise UriError(field, f"{uri!r} has an invalid port") from None
    return parts.scheme.lower(), host, uri


def _ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def is_loopback_host(host: str) -> bool:
    """Exactly one of the loopback hosts (``localhost.evil.example`` is not)."""
    return host.lower().strip("[]") in LOOPBACK_HOSTS


def browser_uri(uri: object, field: str = "redirect_uris") -> str:
    """A redirect, post-logout or page URI: https, or http on a loopback host."""
    scheme, host, value = _parts(uri, field)
    if scheme == "https" or (scheme == "http" and is_loopback_host(host)):
        return value
    raise UriError(field, f"{value!r} must use https (http only on 127.0.0.1, [::1] or "
                   "localhost)")


def https_uri(uri: object, field: str) -> str:
    """A page the customer may open (``logo_uri``, ``policy_uri``…): https only."""
    scheme, _host, value = _parts(uri, field)
    if scheme != "https":
        raise UriError(field, f"{value!r} must be an https URL")
    return value


def local_name(host: str) -> bool:
    """A name that cannot be a public host: loopback names, local suffixes, a single label,
    or a numeric last label (``127.1``, ``0x7f.1``: an address in disguise)."""
    name = host.lower().rstrip(".")
    if not name or name == "localhost" or name.endswith(LOCAL_SUFFIXES):
        return True
    labels = name.split(".")
    if len(labels) < 2:
        return True
    last = labels[-1]
    return last.isdigit() or last.startswith("0x") or not last.isalnum()


def public_address(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global unicast address (not loopback, private, link-local, ULA, multicast,
    unspecified or reserved); an IPv4-mapped IPv6 address is judged as its IPv4."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def outbound_uri(uri: object, field: str, *, loopback_allowed: bool = False) -> str:
    """A URI the idp will call: https to a public host. ``loopback_allowed`` (development:
    ``IDP_OUTBOUND_LOOPBACK``) also accepts http or https on an exact loopback host."""
    scheme, host, value = _parts(uri, field)
    if loopback_allowed and is_loopback_host(host) and scheme in ("http", "https"):
        return value
    if scheme != "https":
        raise UriError(field, f"{value!r} must be an https URL")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        if local_name(host):
            raise UriError(field, f"{value!r} must not name a local host") from None
        return value
    if not public_address(address):
        raise UriError(field, f"{value!r} must not name a private, loopback, link-local or "
                       "reserved address")
    return value


def logo_origin(uri: object) -> str | None:
    """``https://host[:port]`` of a ``logo_uri`` fit for a CSP ``img-src`` source, or None.
    The host is rebuilt from its parsed, checked parts (a DNS name or an IP literal):
    nothing the app typed reaches the header verbatim (``x.example;frame-ancestors *``
    is refused, not pasted)."""
    try:
        https_uri(uri, "logo_uri")
    except UriError:
        return None
    parts = urlsplit(str(uri))
    host = (parts.hostname or "").lower()
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if not _DNS_NAME.match(host):
            return None
        shown = host
    else:
        shown = f"[{address}]" if address.version == 6 else str(address)
    port = parts.port
    return f"https://{shown}" + (f":{port}" if port and port != 443 else "")


#: Development and demo only (``IDP_OUTBOUND_LOOPBACK``, refused in production): the URIs
#: the idp calls may also name an exact loopback host. One process-wide policy, read by
#: the validator here and by :mod:`idp.core.outbound` at call time.
_loopback_allowed = False


def configure(*, loopback_allowed: bool) -> None:
    """Set by the app factory from ``AppSettings.outbound_loopback``."""
    global _loopback_allowed
    _loopback_allowed = bool(loopback_allowed)


def loopback_allowed() -> bool:
    return _loopback_allowed
