"""Passkeys (WebAuthn / FIDO2): registration, sign-in, and the customer's list of them.

Flask-free on purpose: the sign-in pages, Mon compte and the tests call the same code,
and the web layer stays thin. The web layer passes what this module cannot know: the
relying party (RP ID and origin derived from the realm's public URL), the clock, and the
challenge it kept in its server-side sign-in state (never in the cookie session: a
cookie can be replayed, so a challenge kept there would not be single-use).

The flow, for a view:

1. ``options, challenge = registration_options(customer, rp)`` (or
   ``authentication_options(rp, realm_id)``); store ``challenge`` in the server-side
   state, send ``options`` to ``passkeys.js`` as JSON.
2. The browser posts the credential JSON back; the view calls
   ``verify_registration(...)`` / ``verify_authentication(...)`` with the stored
   challenge. The challenge is consumed *before* anything is checked, so a failed or
   replayed answer burns it: the view must save the state afterwards, success or not.
3. The functions add and flush rows; the caller commits (as everywhere in the idp).

Errors are ``PasskeyError`` with a stable ``code`` (see ``PasskeyError``) for the view to
translate and to audit; ``detail`` is for logs only.

Library: ``webauthn`` (py_webauthn) does the cryptographic checks (client data, RP ID
hash, flags, signature). This module adds the policy: single-use short-lived challenges,
per-realm credentials, required user verification, sign-count regression, backup flags,
and never removing the customer's last way in.
"""

from __future__ import annotations

import base64
import importlib
import ipaddress
import json
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import SimpleNamespace
from typing import Any, Literal
from urllib.parse import urlsplit

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import ways_in
from .db import db
from .models import Customer, utcnow


def _webauthn() -> SimpleNamespace:
    """py_webauthn, imported on the first passkey ceremony rather than with the app.

    Why: it brings pyasn1, pyOpenSSL and cbor2, about 6 MiB in every server worker, most
    of which only answer token grants (issue 21: a worker under 128 MiB). One namespace
    of what this module uses, built once.
    """
    global _LIB
    if _LIB is None:
        lib = importlib.import_module("webauthn")
        helpers = importlib.import_module("webauthn.helpers")
        structs = importlib.import_module("webauthn.helpers.structs")
        _LIB = SimpleNamespace(
            lib=lib, helpers=helpers, structs=structs,
            error=importlib.import_module("webauthn.helpers.exceptions").WebAuthnException)
    return _LIB


_LIB: SimpleNamespace | None = None


def bytes_to_base64url(value: bytes) -> str:
    """Base64url without padding (WebAuthn's encoding of ids and challenges)."""
    return base64.urlsafe_b64encode(value).rstrip(b"=").decode("ascii")


def base64url_to_bytes(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))

__all__ = [
    "CHALLENGE_LIFETIME",
    "MAX_PASSKEYS",
    "PASSKEY_ACR",
    "ChallengePurpose",
    "Passkey",
    "PasskeyChallenge",
    "PasskeyError",
    "PasskeySignIn",
    "RelyingParty",
    "authentication_options",
    "default_name",
    "device_name",
    "has_other_way_in",
    "list_passkeys",
    "mark_offered",
    "passkeys_available",
    "registration_options",
    "remove_all",
    "remove_passkey",
    "rename_passkey",
    "sign_in_amr",
    "verify_authentication",
    "verify_registration",
    "was_offered",
]

# Five minutes: long enough to find the phone and unlock it, short enough that a leaked
# options page is worthless soon after. The browser is told the same (``timeout``).
CHALLENGE_LIFETIME = timedelta(minutes=5)

# A customer needs a few (phone, computer, a security key); hundreds would only be abuse.
MAX_PASSKEYS = 20

NAME_MAX = 64

# ``acr`` of a passkey sign-in. "1" (the idp's only value until now) is one factor, the
# password. A passkey with user verification is two factors in one gesture: something
# held (the private key) and something known or been (the PIN or biometric that unlocks
# it); "2" says so. Discovery must then list ``acr_values_supported: ["1", "2"]``.
PASSKEY_ACR = "2"

ChallengePurpose = Literal["registration", "authentication"]


class PasskeyError(Exception):
    """A passkey operation refused. ``code`` is stable (views translate it, audit logs it):

    - ``challenge_missing``, ``challenge_used``, ``challenge_expired``,
      ``challenge_mismatch`` (wrong purpose, realm or customer): start again;
    - ``invalid_response``: the browser's answer does not verify (origin, RP ID,
      challenge, signature, user verification, malformed JSON); ``detail`` says which;
    - ``unknown_credential``: no such passkey in this realm (removed here, still on the
      phone);
    - ``counter_regression``: valid signature but a sign count not above the stored one:
      possibly a cloned authenticator;
    - ``backup_eligibility_changed``: the credential's backup eligibility differs from
      registration, which the spec says cannot happen to a genuine credential;
    - ``customer_disabled``: the account may not sign in (:func:`ways_in.may_sign_in`);
    - ``recovery_pending``: the agency issued a new temporary code, which alone signs in
      until the première connexion is done again;
    - ``already_registered``, ``too_many``: registration refused;
    - ``not_found``, ``invalid_name``, ``last_way_in``: Mon compte operations refused;
    - ``unavailable``: the public URL cannot carry passkeys (an IP address host).
    """

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(f"{code}: {detail}" if detail else code)
        self.code = code
        self.detail = detail


# --------------------------------------------------------------------------- model


class Passkey(db.Model):
    """A customer's WebAuthn credential, in one realm.

    ``credential_id`` is unique per realm, not globally: two realms are two relying
    parties as far as this idp is concerned (their customers are separate), and a lookup
    always says which realm it is in. ``sign_count`` is a 32-bit unsigned counter, hence
    BigInteger. ``backup_eligible`` is fixed at creation; ``backup_state`` follows the
    latest assertion (a passkey that became synced).
    """

    __tablename__ = "passkey"
    __table_args__ = (UniqueConstraint("realm_id", "credential_id", name="uq_passkey_realm_cred"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), index=True
    )
    credential_id: Mapped[bytes] = mapped_column(LargeBinary)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    backup_eligible: Mapped[bool] = mapped_column(Boolean, default=False)
    backup_state: Mapped[bool] = mapped_column(Boolean, default=False)
    aaguid: Mapped[str] = mapped_column(String(36), default="00000000-0000-0000-0000-000000000000")
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    customer: Mapped[Customer] = relationship(lazy="joined")

    @property
    def credential_id_b64(self) -> str:
        """The id as the browser spells it (base64url), e.g. for ``signalUnknownCredential``."""
        return bytes_to_base64url(self.credential_id)

    @property
    def device(self) -> str | None:
        """Which product made it, when its AAGUID is a well-known one."""
        return device_name(self.aaguid)


# --------------------------------------------------------------------------- relying party


@dataclass(frozen=True)
class RelyingParty:
    """Who the browser thinks it talks to: RP ID (a host name), exact origin, display name.

    Derived from the realm's public URL so a passkey made on the production host only
    works there, and a phishing host gets nothing the idp would accept.
    """

    id: str
    origin: str
    name: str

    @classmethod
    def from_public_url(cls, public_url: str, name: str, rp_id: str | None = None) -> RelyingParty:
        """From the realm's public URL (``https://host[:port]/…``; the path is ignored).

        ``rp_id`` may name a parent domain of the host (``example.com`` for
        ``login.example.com``) so passkeys survive a host move inside that domain; by
        default it is the host itself. IP addresses cannot be RP IDs (browsers refuse
        them), hence ``unavailable`` for ``http://127.0.0.1:…``: use ``localhost``.
        """
        parts = urlsplit(public_url)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not host:
            raise PasskeyError("unavailable", f"not an http(s) URL: {public_url!r}")
        if _is_ip(host):
            raise PasskeyError("unavailable", "an IP address cannot be a WebAuthn RP ID")
        chosen = (rp_id or host).lower().rstrip(".")
        if chosen != host and not host.endswith("." + chosen):
            raise PasskeyError("unavailable", f"RP ID {chosen!r} is not {host!r} or a parent")
        default_port = {"https": 443, "http": 80}[parts.scheme]
        port = f":{parts.port}" if parts.port and parts.port != default_port else ""
        return cls(id=chosen, origin=f"{parts.scheme}://{host}{port}", name=name)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def passkeys_available(public_url: str) -> bool:
    """Whether the pages may offer passkeys at all on this public URL (not on an IP)."""
    try:
        RelyingParty.from_public_url(public_url, "-")
    except PasskeyError:
        return False
    return True


# --------------------------------------------------------------------------- challenges


@dataclass
class PasskeyChallenge:
    """A challenge the server handed out, kept in the server-side sign-in state.

    Single use: ``consume()`` marks it used and refuses a second time, an expired one, or
    one made for something else (purpose, realm, customer). The verify functions call it
    first, so the caller must save the state after verifying, whatever the outcome. The
    state store must save it atomically (a row lock or compare-and-set): two concurrent
    requests carrying the same state must not both see it unused.

    ``to_dict``/``from_dict`` give a JSON-safe form for state stored as JSON.
    """

    challenge: bytes
    purpose: ChallengePurpose
    customer_id: int | None
    expires_at: datetime  # naive UTC, like every datetime of the models
    realm_id: int
    used: bool = False

    @classmethod
    def new(
        cls,
        purpose: ChallengePurpose,
        realm_id: int,
        customer_id: int | None = None,
        now: datetime | None = None,
        lifetime: timedelta = CHALLENGE_LIFETIME,
    ) -> PasskeyChallenge:
        """32 random bytes (the spec asks for at least 16), valid for ``lifetime``."""
        return cls(
            challenge=secrets.token_bytes(32),
            purpose=purpose,
            customer_id=customer_id,
            expires_at=(now or utcnow()) + lifetime,
            realm_id=realm_id,
        )

    def consume(
        self,
        purpose: ChallengePurpose,
        realm_id: int,
        customer_id: int | None = None,
        now: datetime | None = None,
    ) -> bytes:
        """Use it up and return the challenge bytes, or raise ``PasskeyError``.

        Marked used before any other check so that even a refused attempt burns it.
        """
        already = self.used
        self.used = True
        if already:
            raise PasskeyError("challenge_used")
        if (now or utcnow()) >= self.expires_at:
            raise PasskeyError("challenge_expired")
        if self.purpose != purpose or self.realm_id != realm_id:
            raise PasskeyError("challenge_mismatch", "purpose or realm")
        if purpose == "registration" and self.customer_id != customer_id:
            raise PasskeyError("challenge_mismatch", "customer")
        return self.challenge

    def to_dict(self) -> dict[str, Any]:
        return {
            "challenge": bytes_to_base64url(self.challenge),
            "purpose": self.purpose,
            "customer_id": self.customer_id,
            "expires_at": self.expires_at.isoformat(),
            "realm_id": self.realm_id,
            "used": self.used,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PasskeyChallenge:
        purpose = data["purpose"]
        if purpose not in ("registration", "authentication"):
            raise PasskeyError("challenge_mismatch", f"unknown purpose {purpose!r}")
        return cls(
            challenge=base64url_to_bytes(data["challenge"]),
            purpose=purpose,
            customer_id=data.get("customer_id"),
            expires_at=datetime.fromisoformat(data["expires_at"]),
            realm_id=int(data["realm_id"]),
            used=bool(data.get("used")),
        )


def _take(
    challenge: PasskeyChallenge | None,
    purpose: ChallengePurpose,
    realm_id: int,
    customer_id: int | None,
    now: datetime | None,
) -> bytes:
    if challenge is None:
        raise PasskeyError("challenge_missing")
    return challenge.consume(purpose, realm_id, customer_id, now)


# --------------------------------------------------------------------------- names

# A few well-known authenticators, by AAGUID (what the authenticator says it is). Many
# browsers zero the AAGUID under attestation "none" for security keys, and some password
# managers use none: then the name is the generic one, which the customer can change.
KNOWN_AAGUIDS: dict[str, str] = {
    "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
    "dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain",
    "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
    "adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
    "08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
    "9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
    "6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
    "53414d53-554e-4700-0000-000000000000": "Samsung Pass",
    "bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
    "d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
    "531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
}

_DEFAULT_NAMES = {"fr": "Clé d'accès", "en": "Passkey"}


def device_name(aaguid: str | None) -> str | None:
    """The product behind an AAGUID, when it is one we know; None otherwise."""
    return KNOWN_AAGUIDS.get((aaguid or "").lower())


def default_name(locale: str | None) -> str:
    """The generic name, French unless the customer reads English."""
    lang = (locale or "fr").split("-")[0].split("_")[0].lower()
    return _DEFAULT_NAMES.get(lang, _DEFAULT_NAMES["fr"])


def _clean_name(name: str) -> str:
    """One line of printable text, at most ``NAME_MAX`` characters; else ``invalid_name``."""
    text = "".join(ch for ch in unicodedata.normalize("NFC", name or "")
                   if unicodedata.category(ch)[0] != "C")
    text = " ".join(text.split())
    if not text or len(text) > NAME_MAX:
        raise PasskeyError("invalid_name", f"1 to {NAME_MAX} characters")
    return text


# --------------------------------------------------------------------------- registration


def _user_handle(customer: Customer) -> bytes:
    """The WebAuthn user.id: the customer's ``sub`` (random, no personal data, stable).

    Stable per customer so a phone replaces its own passkey for the account rather than
    piling up several, and an assertion's userHandle names its owner.
    """
    return customer.sub.encode("ascii")


def list_passkeys(customer: Customer) -> list[Passkey]:
    """The customer's passkeys in their realm, newest first (for Mon compte)."""
    return list(
        db.session.execute(
            db.select(Passkey)
            .filter_by(customer_id=customer.id, realm_id=customer.realm_id)
            .order_by(Passkey.created_at.desc(), Passkey.id.desc())
        ).scalars()
    )


def registration_options(
    customer: Customer,
    rp: RelyingParty,
    now: datetime | None = None,
    lifetime: timedelta = CHALLENGE_LIFETIME,
) -> tuple[dict[str, Any], PasskeyChallenge]:
    """Options for ``navigator.credentials.create()`` and the challenge to keep.

    Discoverable credential and user verification required (the passkey alone signs in),
    attestation ``none`` (we trust the customer's device, not its make), the customer's
    existing passkeys excluded so one authenticator is not registered twice.
    """
    challenge = PasskeyChallenge.new("registration", customer.realm_id, customer.id, now,
                                     lifetime)
    existing = list_passkeys(customer)
    w = _webauthn()
    options = w.lib.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=_user_handle(customer),
        user_name=customer.identifier,
        user_display_name=customer.display_name,
        challenge=challenge.challenge,
        timeout=int(lifetime.total_seconds() * 1000),
        attestation=w.structs.AttestationConveyancePreference.NONE,
        authenticator_selection=w.structs.AuthenticatorSelectionCriteria(
            resident_key=w.structs.ResidentKeyRequirement.REQUIRED,
            user_verification=w.structs.UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            w.structs.PublicKeyCredentialDescriptor(id=p.credential_id,
                                                    transports=_transports(p))
            for p in existing
        ],
        hints=[w.structs.PublicKeyCredentialHint.CLIENT_DEVICE],
    )
    return json.loads(w.lib.options_to_json(options)), challenge


def _transports(passkey: Passkey) -> list[Any] | None:
    transport = _webauthn().structs.AuthenticatorTransport
    known = {t.value for t in transport}
    values = [transport(t) for t in passkey.transports or [] if t in known]
    return values or None


def verify_registration(
    customer: Customer,
    rp: RelyingParty,
    challenge: PasskeyChallenge | None,
    credential: str | dict[str, Any],
    name: str | None = None,
    now: datetime | None = None,
) -> Passkey:
    """Check the browser's answer to ``registration_options`` and store the passkey.

    ``credential`` is the JSON the browser posted (``passkeys.js`` sends the
    ``PublicKeyCredential`` in its standard JSON form). ``name`` defaults to the device
    name from the AAGUID, else the generic name in the customer's language. Adds and
    flushes the row; the caller commits.
    """
    expected = _take(challenge, "registration", customer.realm_id, customer.id, now)
    w = _webauthn()
    try:
        parsed = w.helpers.parse_registration_credential_json(credential)
        verified = w.lib.verify_registration_response(
            credential=parsed,
            expected_challenge=expected,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            require_user_presence=True,
            require_user_verification=True,
        )
    except w.error as exc:
        raise PasskeyError("invalid_response", str(exc)) from exc
    except (ValueError, TypeError, KeyError) as exc:  # malformed input the library let by
        raise PasskeyError("invalid_response", f"malformed: {exc}") from exc

    if verified.credential_id != parsed.raw_id:
        # webauthn takes the id from authenticatorData and does not compare it with rawId;
        # a mismatch is a forged or broken client, never a genuine authenticator.
        raise PasskeyError("invalid_response", "rawId differs from the attested credential id")
    if len(list_passkeys(customer)) >= MAX_PASSKEYS:
        raise PasskeyError("too_many", f"at most {MAX_PASSKEYS}")
    taken = db.session.execute(
        db.select(Passkey.id).filter_by(realm_id=customer.realm_id,
                                        credential_id=verified.credential_id)
    ).first()
    if taken is not None:
        raise PasskeyError("already_registered")

    aaguid = str(verified.aaguid).lower()
    passkey = Passkey(
        realm_id=customer.realm_id,
        customer_id=customer.id,
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        transports=[t.value for t in parsed.response.transports or []],
        backup_eligible=(verified.credential_device_type
                         == w.structs.CredentialDeviceType.MULTI_DEVICE),
        backup_state=bool(verified.credential_backed_up),
        aaguid=aaguid,
        name=_clean_name(name) if name else (device_name(aaguid) or default_name(customer.locale)),
        created_at=now or utcnow(),
    )
    db.session.add(passkey)
    db.session.flush()
    return passkey


# --------------------------------------------------------------------------- sign-in


@dataclass
class PasskeySignIn:
    """A verified passkey sign-in: who, with which passkey, and what to put in the
    SSO session (``amr``, ``acr``). The caller hands ``customer`` to the sign-in state
    machine, which still applies required actions."""

    customer: Customer
    passkey: Passkey
    amr: list[str] = field(default_factory=list)
    acr: str = PASSKEY_ACR


def sign_in_amr(passkey: Passkey) -> list[str]:
    """RFC 8176 ``amr`` values for a sign-in with this passkey.

    - ``hwk`` when the key cannot leave the device (not backup-eligible: a security key,
      a device-bound platform key); ``swk`` when it is a synced passkey (backup-eligible:
      iCloud Keychain, Google Password Manager…), whose private key exists outside one
      piece of hardware;
    - ``user``: the user was present and verified by the authenticator (UV is required);
    - ``mfa``: possession of the key plus the PIN/biometric that unlocks it.
    """
    return ["swk" if passkey.backup_eligible else "hwk", "user", "mfa"]


def authentication_options(
    rp: RelyingParty,
    realm_id: int,
    now: datetime | None = None,
    lifetime: timedelta = CHALLENGE_LIFETIME,
) -> tuple[dict[str, Any], PasskeyChallenge]:
    """Options for ``navigator.credentials.get()`` and the challenge to keep.

    ``allowCredentials`` is empty: the passkey is discoverable, the browser lists the
    realm's passkeys itself (and in the identifier field's autofill under conditional
    mediation), so the page need not know, nor reveal, who is signing in.
    """
    challenge = PasskeyChallenge.new("authentication", realm_id, None, now, lifetime)
    w = _webauthn()
    options = w.lib.generate_authentication_options(
        rp_id=rp.id,
        challenge=challenge.challenge,
        timeout=int(lifetime.total_seconds() * 1000),
        allow_credentials=[],
        user_verification=w.structs.UserVerificationRequirement.REQUIRED,
    )
    return json.loads(w.lib.options_to_json(options)), challenge


def verify_authentication(
    realm_id: int,
    rp: RelyingParty,
    challenge: PasskeyChallenge | None,
    credential: str | dict[str, Any],
    now: datetime | None = None,
) -> PasskeySignIn:
    """Check the browser's assertion; on success update the passkey's counters and flags.

    Checks, in order: the challenge (consumed first), that the credential is a passkey of
    this realm whose userHandle names its owner, that the owner may sign in, then origin,
    RP ID, challenge, user presence and verification and the signature (``webauthn``),
    then the sign count (only after the signature, so a forged answer cannot pass for a
    cloned authenticator). Flushes; the caller commits.
    """
    moment = now or utcnow()
    expected = _take(challenge, "authentication", realm_id, None, moment)
    w = _webauthn()
    try:
        parsed = w.helpers.parse_authentication_credential_json(credential)
    except w.error as exc:
        raise PasskeyError("invalid_response", str(exc)) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise PasskeyError("invalid_response", f"malformed: {exc}") from exc

    passkey = db.session.execute(
        db.select(Passkey).filter_by(realm_id=realm_id, credential_id=parsed.raw_id)
    ).scalar_one_or_none()
    if passkey is None:
        raise PasskeyError("unknown_credential")
    customer = passkey.customer
    # Discoverable flow: the authenticator must say whose passkey it is, and it must agree.
    if parsed.response.user_handle != _user_handle(customer):
        raise PasskeyError("invalid_response", "userHandle does not match the owner")
    if ways_in.may_sign_in(customer, realm_id) is not None:
        raise PasskeyError("customer_disabled")
    if not ways_in.usable(customer, ways_in.Kind.PASSKEY, realm_id):
        # The agency issued a new temporary code: only that code signs in until the
        # première connexion is done again (the recovery also removed the passkeys).
        raise PasskeyError("recovery_pending")

    try:
        verified = w.lib.verify_authentication_response(
            credential=parsed,
            expected_challenge=expected,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=0,  # checked below, after the signature
            require_user_verification=True,
        )
    except w.error as exc:
        raise PasskeyError("invalid_response", str(exc)) from exc
    except (ValueError, TypeError, KeyError) as exc:
        raise PasskeyError("invalid_response", f"malformed: {exc}") from exc

    stored = int(passkey.sign_count or 0)
    if (verified.new_sign_count > 0 or stored > 0) and verified.new_sign_count <= stored:
        raise PasskeyError("counter_regression",
                           f"sign count {verified.new_sign_count} after {stored}")
    eligible = (verified.credential_device_type
                == w.structs.CredentialDeviceType.MULTI_DEVICE)
    if eligible != bool(passkey.backup_eligible):
        raise PasskeyError("backup_eligibility_changed")

    passkey.sign_count = verified.new_sign_count
    passkey.backup_state = bool(verified.credential_backed_up)
    passkey.last_used_at = moment
    db.session.flush()
    return PasskeySignIn(customer=customer, passkey=passkey, amr=sign_in_amr(passkey))


# --------------------------------------------------------------------------- Mon compte


def _own(customer: Customer, passkey_id: int) -> Passkey:
    passkey = db.session.get(Passkey, passkey_id)
    if (passkey is None or passkey.customer_id != customer.id
            or passkey.realm_id != customer.realm_id):
        raise PasskeyError("not_found")
    return passkey


def rename_passkey(customer: Customer, passkey_id: int, name: str) -> Passkey:
    """Give one of the customer's passkeys a name of their choosing (trimmed, 1–64)."""
    passkey = _own(customer, passkey_id)
    passkey.name = _clean_name(name)
    db.session.flush()
    return passkey


def has_other_way_in(customer: Customer, without: Passkey | None = None) -> bool:
    """Whether the customer can still sign in without ``without`` (the one rule,
    :func:`ways_in.may_remove`; kept for the callers that ask about one passkey)."""
    if without is None:
        return bool(ways_in.items_for(customer, first_factor_only=True))
    return ways_in.may_remove(customer, ways_in.Kind.PASSKEY, without.id)


def remove_passkey(customer: Customer, passkey_id: int) -> None:
    """Delete one of the customer's passkeys, unless it is their last way in.

    The browser or phone keeps its copy; ``passkeys.js`` may tell it with
    ``PublicKeyCredential.signalUnknownCredential`` (id: ``Passkey.credential_id_b64``).
    """
    passkey = _own(customer, passkey_id)
    if not ways_in.may_remove(customer, ways_in.Kind.PASSKEY, passkey.id):
        raise PasskeyError("last_way_in")
    db.session.delete(passkey)
    db.session.flush()



def remove_all(customer: Customer) -> list[str]:
    """The agency's recovery: every passkey of the customer goes (whoever held the
    account may have added one). Returns their labels for the mail; flushes."""
    rows = list_passkeys(customer)
    labels = [f"clé d'accès « {p.name} »" for p in rows]
    for p in rows:
        db.session.delete(p)
    db.session.flush()
    return labels


def mark_offered(customer: Customer, now: datetime | None = None) -> bool:
    """Remember that the one-time offer was shown (state on the customer, not read from
    the audit trail, which is purged). ``False`` when it had been shown already."""
    if customer.passkey_offered_at is not None:
        return False
    customer.passkey_offered_at = now or utcnow()
    db.session.flush()
    return True


def was_offered(customer: Customer) -> bool:
    return customer.passkey_offered_at is not None


class _PasskeyWay:
    """Passkeys as a way in: first factor (with user verification, two in one gesture)."""

    kind = ways_in.Kind.PASSKEY
    amr = ("hwk", "swk", "user", "mfa")
    first_factor = True

    def items(self, customer: Customer) -> list[ways_in.Item]:
        return [ways_in.Item(self.kind, str(p.id), f"clé d'accès « {p.name} »", p.created_at,
                             p.last_used_at, removable_by_customer=True, name=p.name)
                for p in list_passkeys(customer)]

    def configured_for(self, customer: Customer) -> bool:
        return bool(db.session.execute(
            db.select(func.count(Passkey.id))
            .filter_by(customer_id=customer.id, realm_id=customer.realm_id)).scalar_one())

    def usable_now(self, customer: Customer, realm: Any) -> bool:
        return (ways_in.may_sign_in(customer, realm) is None
                and not ways_in.recovery_pending(customer) and self.configured_for(customer))

    def on_recovery(self, customer: Customer) -> list[str]:
        return remove_all(customer)

    def remove(self, customer: Customer, key: str) -> None:
        """Mon compte's removal (the rule was checked by :func:`ways_in.remove`)."""
        remove_passkey(customer, int(key))


ways_in.register(_PasskeyWay())
