"""A software WebAuthn authenticator (and the browser's part of the ceremony) for tests.

It answers the JSON options the idp sends to ``passkeys.js`` with the JSON the browser
would post back, built byte by byte from the WebAuthn spec: clientDataJSON,
authenticatorData (RP ID hash, flags, sign count, attested credential data with a COSE
EC2 P-256 key) and a CBOR attestation object of format ``none``; assertions are ES256
signatures over ``authenticatorData || SHA-256(clientDataJSON)``.

Every field a test may want to falsify is a keyword argument: the origin the "browser"
reports, the RP ID the "authenticator" hashes, the UV flag, the sign count, the backup
flags. Nothing here trusts the server: a test proves the server refuses what it should.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

# authenticatorData flags (WebAuthn §6.1)
UP = 0x01  # user present
UV = 0x04  # user verified
BE = 0x08  # backup eligible
BS = 0x10  # backed up
AT = 0x40  # attested credential data included


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftCredential:
    """One discoverable credential held by the soft authenticator."""

    credential_id: bytes
    private_key: ec.EllipticCurvePrivateKey
    rp_id: str
    user_handle: bytes
    sign_count: int = 0

    def cose_public_key(self) -> bytes:
        """COSE_Key of the EC2 P-256 public key, alg ES256 (RFC 9053)."""
        numbers = self.private_key.public_key().public_numbers()
        return cbor2.dumps({
            1: 2,  # kty: EC2
            3: -7,  # alg: ES256
            -1: 1,  # crv: P-256
            -2: numbers.x.to_bytes(32, "big"),
            -3: numbers.y.to_bytes(32, "big"),
        })


@dataclass
class SoftAuthenticator:
    """A platform-like authenticator: resident keys, user verification, a counter.

    ``counter_step=0`` imitates synced passkeys, which always report a sign count of 0.
    ``backup_eligible``/``backed_up`` set the BE/BS flags of everything it answers.
    """

    aaguid: bytes = bytes(16)
    backup_eligible: bool = False
    backed_up: bool = False
    counter_step: int = 1
    transports: list[str] = field(default_factory=lambda: ["internal"])
    credentials: dict[bytes, SoftCredential] = field(default_factory=dict)

    # -- the pieces, public so a test can build an odd one by hand

    def flags(self, user_verified: bool, attested: bool) -> int:
        value = UP
        if user_verified:
            value |= UV
        if self.backup_eligible:
            value |= BE
        if self.backed_up:
            value |= BS
        if attested:
            value |= AT
        return value

    def authenticator_data(self, rp_id: str, flags: int, sign_count: int,
                           credential: SoftCredential | None = None) -> bytes:
        data = hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
        data += struct.pack(">I", sign_count)
        if credential is not None:
            data += self.aaguid + struct.pack(">H", len(credential.credential_id))
            data += credential.credential_id + credential.cose_public_key()
        return data

    @staticmethod
    def client_data(kind: str, challenge_b64: str, origin: str) -> bytes:
        return json.dumps({
            "type": kind, "challenge": challenge_b64, "origin": origin, "crossOrigin": False,
        }, separators=(",", ":")).encode()

    # -- the ceremonies

    def create(self, options: dict[str, Any], origin: str, *, rp_id: str | None = None,
               user_verified: bool = True, credential_id: bytes | None = None,
               ignore_exclusions: bool = False) -> dict[str, Any]:
        """Answer ``navigator.credentials.create(options)`` as the browser would post it.

        ``rp_id`` overrides the RP ID hashed into authenticatorData (a wrong-RP test);
        ``origin`` is what the browser writes into clientDataJSON; ``credential_id`` and
        ``ignore_exclusions`` imitate a client that re-registers a known credential.
        """
        credential = SoftCredential(
            credential_id=credential_id or os.urandom(32),
            private_key=ec.generate_private_key(ec.SECP256R1()),
            rp_id=rp_id or options["rp"]["id"],
            user_handle=unb64url(options["user"]["id"]),
        )
        excluded = {unb64url(c["id"]) for c in options.get("excludeCredentials") or []}
        if not ignore_exclusions and excluded & set(self.credentials):
            raise AssertionError("InvalidStateError: authenticator already registered")
        self.credentials[credential.credential_id] = credential
        auth_data = self.authenticator_data(
            credential.rp_id, self.flags(user_verified, attested=True), credential.sign_count,
            credential)
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self.client_data("webauthn.create", options["challenge"], origin)
        cid = b64url(credential.credential_id)
        return {
            "id": cid, "rawId": cid, "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": list(self.transports),
            },
        }

    def get(self, options: dict[str, Any], origin: str, *, credential_id: bytes | None = None,
            rp_id: str | None = None, user_verified: bool = True,
            sign_count: int | None = None, user_handle: bytes | None = None) -> dict[str, Any]:
        """Answer ``navigator.credentials.get(options)`` with a discoverable credential.

        Picks the only (or the named) credential for the options' RP ID. ``sign_count``
        forces the counter reported (a cloned-authenticator test); otherwise it grows by
        ``counter_step``.
        """
        wanted_rp = options["rpId"]
        if credential_id is None:
            matches = [c for c in self.credentials.values() if c.rp_id == wanted_rp]
            if len(matches) != 1:
                raise AssertionError(f"{len(matches)} credentials for {wanted_rp}")
            credential = matches[0]
        else:
            credential = self.credentials[credential_id]
        if sign_count is None:
            credential.sign_count += self.counter_step
            sign_count = credential.sign_count
        auth_data = self.authenticator_data(
            rp_id or credential.rp_id, self.flags(user_verified, attested=False), sign_count)
        client_data = self.client_data("webauthn.get", options["challenge"], origin)
        signature = credential.private_key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        cid = b64url(credential.credential_id)
        return {
            "id": cid, "rawId": cid, "type": "public-key",
            "authenticatorAttachment": "platform", "clientExtensionResults": {},
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(signature),
                "userHandle": b64url(user_handle if user_handle is not None
                                     else credential.user_handle),
            },
        }
