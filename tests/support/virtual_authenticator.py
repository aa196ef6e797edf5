"""Chromium's DevTools virtual authenticator, driven from Playwright through a CDP session.

With it, ``navigator.credentials.create()`` / ``get()`` in a real (headless) Chromium are
answered by a software platform authenticator, with no dialog: browser tests exercise the
real WebAuthn code path of ``passkeys.js`` and of the server.

    auth = VirtualAuthenticator.attach(page)     # before the page calls WebAuthn
    ...                                          # click "Créer une clé d'accès"
    assert auth.credentials()[0]["isResidentCredential"]

Chromium only; one authenticator per page target (the CDP session is the page's).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from playwright.sync_api import CDPSession, Page


@dataclass
class VirtualAuthenticator:
    """A virtual CTAP2 platform authenticator (resident keys, user verification)."""

    page: Page
    cdp: CDPSession
    authenticator_id: str

    @classmethod
    def attach(cls, page: Page, *, user_verified: bool = True, resident_keys: bool = True,
               transport: str = "internal", protocol: str = "ctap2",
               automatic_presence: bool = True) -> VirtualAuthenticator:
        """Enable WebAuthn emulation on ``page`` and plug in one authenticator.

        ``automatic_presence`` answers every request at once, as if the customer touched
        the sensor; ``user_verified`` is what the fingerprint/PIN check answers.
        """
        cdp = page.context.new_cdp_session(page)
        cdp.send("WebAuthn.enable", {"enableUI": False})
        result = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": {
            "protocol": protocol,
            "transport": transport,
            "hasResidentKey": resident_keys,
            "hasUserVerification": True,
            "isUserVerified": user_verified,
            "automaticPresenceSimulation": automatic_presence,
        }})
        return cls(page=page, cdp=cdp, authenticator_id=result["authenticatorId"])

    def _send(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return self.cdp.send(method, {"authenticatorId": self.authenticator_id, **(params or {})})

    def credentials(self) -> list[dict[str, Any]]:
        """The credentials it holds (CDP ``Credential``: credentialId and userHandle are
        standard base64, plus rpId, signCount, isResidentCredential, privateKey)."""
        return list(self._send("WebAuthn.getCredentials")["credentials"])

    def credential_ids(self) -> list[bytes]:
        return [base64.b64decode(c["credentialId"]) for c in self.credentials()]

    def set_user_verified(self, verified: bool) -> None:
        """What the next user verification answers (False: a failed fingerprint)."""
        self._send("WebAuthn.setUserVerified", {"isUserVerified": verified})

    def set_automatic_presence(self, enabled: bool) -> None:
        self._send("WebAuthn.setAutomaticPresenceSimulation", {"enabled": enabled})

    def remove_credential(self, credential_id: bytes) -> None:
        self._send("WebAuthn.removeCredential",
                   {"credentialId": base64.b64encode(credential_id).decode()})

    def clear(self) -> None:
        """Forget every credential (a lost phone)."""
        self._send("WebAuthn.clearCredentials")

    def detach(self) -> None:
        self._send("WebAuthn.removeVirtualAuthenticator")
        self.cdp.send("WebAuthn.disable")
        self.cdp.detach()
