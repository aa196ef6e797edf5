"""Typed settings: the app's (one object, defaults and meaning in one place) and each
realm's (a schema checked at ``idp realms import``: an unknown or mistyped key is refused).

Both are plain frozen dataclasses so the core can take them as arguments and tests can
build them directly.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from typing import Any, get_type_hints

from argon2 import PasswordHasher


class SettingsError(ValueError):
    """A setting is unknown or has the wrong type; the message names it."""


def _doc(text: str, **kwargs: Any) -> Any:
    return field(metadata={"doc": text}, **kwargs)


@dataclass(frozen=True)
class AppSettings:
    """The idp's process settings, read from ``IDP_*`` environment variables.

    The one source of truth: every key of the idp's own is a field here, with its default
    and meaning, and the code reads it from this object (``app_settings()``), never from
    ``app.config``. Flask's and its extensions' keys (:data:`FLASK_KEYS`) keep their names
    and their own documentation.
    """

    public_url: str = _doc("Issuer base: {PUBLIC_URL}/realms/{realm}.",
                           default="http://127.0.0.1:5100")
    secret_key: str = _doc("Signs cookies; keys the client-secret and temporary-code hashes.",
                           default="")
    temporary_code_key: str = _doc(
        "Pepper of temporary codes (default: derived from SECRET_KEY). Rotating it voids "
        "unused codes.", default="")
    argon2_time_cost: int = _doc("argon2id iterations (OWASP minimum: 2).", default=2)
    argon2_memory_cost: int = _doc("argon2id memory in KiB (OWASP minimum: 19456).",
                                   default=19456)
    argon2_parallelism: int = _doc("argon2id lanes (OWASP minimum: 1).", default=1)
    federation_timeout: float = _doc("Seconds before a social provider call gives up.",
                                     default=10.0)
    mail_default_sender: str = _doc(
        "From: of every mail unless the realm sets mail_sender.",
        default="Mon espace client <no-reply@monespaceclient.example>")
    login_rate_limit: str = _doc("Per-address budget of credential-form requests.",
                                 default="60/minute;600/hour")
    failure_rate_limit: str = _doc(
        "Per-address budget of FAILED credential attempts (IPv6 keyed on the /64).",
        default="10/minute;50/hour")
    production: bool = _doc("Refuse unsafe settings (random secret, http public URL).",
                            default=False)
    proxy_fix: bool = _doc("Trust X-Forwarded-* from one proxy in front (only behind one).",
                           default=False)
    trusted_proxies: str = _doc(
        "Comma-separated addresses/CIDRs whose X-Forwarded-* are trusted (needed with "
        "PROXY_FIX).", default="")
    data_key: str = _doc(
        "Fernet key(s) sealing signing keys and social client secrets at rest, current "
        "first (docs/security.md); unset: derived from SECRET_KEY, refused in production.",
        default="")
    cache_signal: bool = _doc(
        "Announce cache invalidations to every instance (PostgreSQL LISTEN/NOTIFY).",
        default=True)
    cache_signal_url: str = _doc(
        "A direct database URL for LISTEN when the main one goes through PgBouncer.",
        default="")
    spray_rate_limit: str = _doc(
        "Realm-wide failed sign-ins before password spraying is reported in the audit.",
        default="200/minute")
    csp_form_action: str = _doc(
        "CSP form-action: '*', since after a form post the idp redirects to client apps.",
        default="*")
    mail_timeout: float = _doc("Seconds before a stalled SMTP server is given up.",
                               default=10.0)
    mail_deliver_inline: bool = _doc(
        "Send mails inside the request (tests); default: after the response, off the "
        "request thread, so timing tells nothing.", default=False)
    metrics_token: str = _doc("Bearer token of /metrics; unset: /metrics answers 404.",
                              default="")
    log_json: bool = _doc("Log one JSON object per line (else plain text).", default=True)
    staff_realm: str = _doc(
        "Slug of the realm of agency staff (console, admin API): password + TOTP.",
        default="agency-staff")
    max_content_length: int = _doc(
        "Largest request body accepted, in bytes (413 beyond; JSON on protocol and API "
        "endpoints).", default=1024 * 1024)
    outbound_loopback: bool = _doc(
        "Development and demo only (refused in production): back-channel logout and "
        "jwks_uri may also reach an exact loopback host (127.0.0.1, [::1], localhost).",
        default=False)

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> AppSettings:
        """Build from a Flask config (upper-case keys), converting env strings."""
        values: dict[str, Any] = {}
        hints = get_type_hints(cls)
        for f in fields(cls):
            key = f.name.upper()
            if key in config and config[key] is not None:
                values[f.name] = _coerce(key, config[key], hints[f.name])
        return cls(**values)

    def as_config(self) -> dict[str, Any]:
        """The typed values under their config names, so the code shared with the portal
        and the Flask extensions (Flask-Mail's MAIL_DEFAULT_SENDER) read the same."""
        return {f.name.upper(): getattr(self, f.name) for f in fields(self)}

    @staticmethod
    def documentation() -> list[tuple[str, str, str]]:
        """(IDP_NAME, default, meaning) rows, for the README and ``idp settings``."""
        return [(f"IDP_{f.name.upper()}", repr(f.default), f.metadata.get("doc", ""))
                for f in fields(AppSettings)]

    def issuer(self, slug: str) -> str:
        return f"{self.public_url.rstrip('/')}/realms/{slug}"

    @cached_property
    def hasher(self) -> PasswordHasher:
        return PasswordHasher(time_cost=self.argon2_time_cost,
                              memory_cost=self.argon2_memory_cost,
                              parallelism=self.argon2_parallelism)

    @cached_property
    def code_key(self) -> bytes:
        """The key (pepper) of temporary codes; never stored in the database."""
        key = self.temporary_code_key or self.secret_key
        return hmac.new(str(key).encode(), b"idp-temporary-code", hashlib.sha256).digest()

    @cached_property
    def client_secret_key(self) -> bytes:
        return self.secret_key.encode()


#: The other config keys the idp sets or reads: Flask's and its extensions', documented by
#: them (Flask "Configuration Handling", Flask-SQLAlchemy, Flask-Mail, Flask-Limiter,
#: Flask-WTF, Flask-Babel, Authlib). Every key the idp reads is one of these or an AppSettings
#: field (tests/idp/test_settings_keys.py).
FLASK_KEYS: frozenset[str] = frozenset({
    "SECRET_KEY", "TESTING", "SERVER_NAME", "PREFERRED_URL_SCHEME", "MAX_CONTENT_LENGTH",
    "SESSION_COOKIE_NAME", "SESSION_COOKIE_HTTPONLY", "SESSION_COOKIE_SAMESITE",
    "SESSION_COOKIE_SECURE",
    "SQLALCHEMY_DATABASE_URI", "SQLALCHEMY_ENGINE_OPTIONS",
    "MAIL_SERVER", "MAIL_PORT", "MAIL_USE_TLS", "MAIL_USE_SSL", "MAIL_USERNAME",
    "MAIL_PASSWORD", "MAIL_DEFAULT_SENDER", "MAIL_SUPPRESS_SEND",
    "RATELIMIT_ENABLED", "RATELIMIT_STORAGE_URI", "RATELIMIT_STORAGE_OPTIONS",
    "RATELIMIT_HEADERS_ENABLED", "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED",
    "RATELIMIT_SWALLOW_ERRORS", "RATELIMIT_KEY_PREFIX",
    "WTF_CSRF_ENABLED", "WTF_CSRF_TIME_LIMIT", "BABEL_DEFAULT_LOCALE",
    "OAUTH2_REFRESH_TOKEN_GENERATOR",  # Authlib's AuthorizationServer
})


def _coerce(key: str, value: Any, kind: Any) -> Any:
    """An env string (or a Python value from a settings file) as the field's type."""
    try:
        if kind is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off", ""):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError):
        raise SettingsError(f"{key}: expected {getattr(kind, '__name__', kind)}, "
                            f"got {value!r}") from None


# --- realm settings ------------------------------------------------------------------------

@dataclass(frozen=True)
class PasswordPolicy:
    min_length: int = 8
    uppercase: int = 1
    digits: int = 1
    special: int = 1
    not_identifier: bool = True
    not_email: bool = True


@dataclass(frozen=True)
class BruteForce:
    """Keycloak's model: growing waits after ``failure_factor`` failures; a temporary code
    locks for good after ``temporary_code_max_failures``."""

    failure_factor: int = 5
    wait_increment_seconds: int = 60
    max_wait_seconds: int = 900
    failure_reset_seconds: int = 12 * 3600
    temporary_code_max_failures: int = 10


@dataclass(frozen=True)
class RealmSettings:
    """Per-realm settings (the ``settings`` object of a realm JSON file), all optional."""

    action_token_lifetime: int = 300
    resend_cooldown: int = 30
    access_token_lifetime: int = 300
    id_token_lifetime: int = 3600
    refresh_token_lifetime: int = 30 * 24 * 3600
    code_lifetime: int = 60
    sso_session_idle: int = 30 * 60
    sso_session_max: int = 10 * 3600
    interaction_lifetime: int = 15 * 60
    password_policy: PasswordPolicy = field(default_factory=PasswordPolicy)
    brute_force: BruteForce = field(default_factory=BruteForce)
    mail_sender: str | None = None
    agency_contact: str = ""
    #: Every sign-in also proves a TOTP code (the staff realm); amr gains otp and mfa.
    otp_required: bool = False
    #: Branding of the sign-in pages: a logo (same-origin path or data:image URI, the CSP
    #: allows nothing else) and the header/button colour (#rrggbb).
    logo_url: str = ""
    brand_color: str = ""
    #: Audit events older than this are deleted by ``idp audit purge`` (0: kept forever).
    audit_retention_days: int = 400
    #: "Recevoir un code par email" on the sign-in page (never in the staff realm).
    email_code_sign_in: bool = True
    #: Days between a customer's deletion request and the erasure (cancel meanwhile).
    deletion_grace_days: int = 30
    #: Mail the customer when their account signs in from a browser not seen before.
    new_device_mail: bool = True

    def __post_init__(self) -> None:
        if self.brand_color and not _COLOR.match(self.brand_color):
            raise SettingsError(f"brand_color: expected #rrggbb, got {self.brand_color!r}")
        if self.brand_color and _contrast_with_white(self.brand_color) < 4.5:
            # White text sits on this colour (header, buttons): WCAG 2.1 AA needs 4.5:1.
            raise SettingsError(f"brand_color: {self.brand_color} is too light for white "
                                "text (contrast under 4.5:1)")
        if self.logo_url and not (_LOGO.match(self.logo_url) and len(self.logo_url) <= 200_000):
            raise SettingsError("logo_url: expected a path on this server (/static/…) or a "
                                "data:image/png|jpeg|gif|webp|svg+xml;base64 URI under 200 kB")

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None, where: str = "settings") -> RealmSettings:
        """Validate a settings mapping; raise SettingsError naming the bad key."""
        return _parse_dataclass(cls, data or {}, where)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}$")
_LOGO = re.compile(r"^(/[A-Za-z0-9._~-][A-Za-z0-9._~/-]*"
                   r"|data:image/(png|jpeg|gif|webp|svg\+xml);base64,[A-Za-z0-9+/=]+)$")


def _contrast_with_white(color: str) -> float:
    """WCAG 2.1 contrast ratio of ``#rrggbb`` against white."""
    def channel(hex2: str) -> float:
        c = int(hex2, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i:i + 2]) for i in (1, 3, 5))
    return 1.05 / (0.2126 * r + 0.7152 * g + 0.0722 * b + 0.05)


def _parse_dataclass(cls: Any, data: Mapping[str, Any], where: str) -> Any:
    if not isinstance(data, Mapping):
        raise SettingsError(f"{where}: expected an object")
    hints = get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise SettingsError(f"{where}: unknown setting {unknown[0]!r} "
                            f"(known: {', '.join(sorted(known))})")
    values: dict[str, Any] = {}
    for name, value in data.items():
        kind = hints[name]
        path = f"{where}.{name}"
        if dataclasses.is_dataclass(kind):
            values[name] = _parse_dataclass(kind, value, path)
        elif kind is bool:
            if not isinstance(value, bool):
                raise SettingsError(f"{path}: expected true or false, got {value!r}")
            values[name] = value
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise SettingsError(f"{path}: expected a non-negative integer, got {value!r}")
            values[name] = value
        else:  # str or str | None
            if value is not None and not isinstance(value, str):
                raise SettingsError(f"{path}: expected a string, got {value!r}")
            if value is None and kind is str:
                raise SettingsError(f"{path}: expected a string, got null")
            values[name] = value
    return cls(**values)
