"""What the sign-in pages and Mon compte share about passkeys (web side of
:mod:`idp.core.passkeys`): the relying party of this realm, the challenge slot in the
server-side sign-in state, the replay guard, and the customer-facing wording.

Shared here, one layer down, because the flow (``idp.flow.passkeys``) and Mon compte
(``idp.account.passkeys``) must stay independent of each other.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import g, jsonify, request
from flask_babel import gettext as _
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from ..core import audit, interaction
from ..core import passkeys as pk
from ..core.db import db
from ..core.interaction import Interaction
from ..core.models import Customer, UsedAssertion, utcnow
from .context import app_settings

#: Set to "1" by ``passkeys.js`` when the browser can create a passkey (WebAuthn and a
#: platform or phone authenticator). Only a hint for *offering* one after a sign-in: the
#: server never trusts it for anything else, and a browser without JavaScript never gets
#: an offer it could not take up.
CAPABLE_COOKIE = "passkey_capable"

# Prefix of the replay-guard keys in ``used_assertion`` (the client-assertion ``jti``
# keys start with an issuer URL, so the two never collide).
_BURN_PREFIX = "passkey:"


def enabled() -> bool:
    """Whether passkeys are offered here: a public URL that can carry them (not an IP
    address host), in a customers' realm (a realm requiring a TOTP code, the staff's,
    keeps its own second factor and gets no passkey offer or button)."""
    if "realm" in g and g.realm.settings.otp_required:
        return False
    return pk.passkeys_available(app_settings().public_url)


def relying_party() -> pk.RelyingParty:
    """The realm's relying party: RP ID and origin from the public URL, the realm's name.

    One host serves every realm, so the RP ID is the host; credentials are still kept
    apart per realm by :mod:`idp.core.passkeys`.
    """
    return pk.RelyingParty.from_public_url(app_settings().public_url, g.realm.display_name)


def browser_capable() -> bool:
    """The browser said (through ``passkeys.js``) that it could create a passkey."""
    return request.cookies.get(CAPABLE_COOKIE) == "1"


def keep_challenge(ix: Interaction, challenge: pk.PasskeyChallenge) -> None:
    """Put a new challenge in the sign-in state (replacing any earlier one); caller commits."""
    ix.passkey_challenge = challenge.to_dict()
    interaction.save(ix)


def take_challenge(ix: Interaction | None) -> pk.PasskeyChallenge | None:
    """The challenge in flight, removed from the state at once (saved; caller commits).

    Removed whether the answer then verifies or not: one answer per challenge. The
    database guard :func:`burn` covers two requests reading the same state concurrently.
    """
    if ix is None or not ix.passkey_challenge:
        return None
    try:
        challenge = pk.PasskeyChallenge.from_dict(ix.passkey_challenge)
    except (pk.PasskeyError, KeyError, ValueError, TypeError):
        challenge = None
    ix.passkey_challenge = None
    interaction.save(ix)
    if challenge is not None and not burn(challenge):
        challenge.used = True  # consume() then refuses it as challenge_used
    return challenge


def burn(challenge: pk.PasskeyChallenge) -> bool:
    """Record the challenge as answered, across every worker and instance.

    ``False`` when another request got there first. Committed at once (as for client
    assertions) so a later failure of this request cannot free it again.
    """
    key = _BURN_PREFIX + hashlib.sha256(challenge.challenge).hexdigest()
    # Housekeeping on the way: expired guards are worthless (their challenge is refused
    # as expired anyway), and nothing else deletes ours.
    db.session.execute(
        delete(UsedAssertion)
        .where(UsedAssertion.expires_at < utcnow(), UsedAssertion.key.startswith(_BURN_PREFIX))
        .execution_options(synchronize_session=False))
    try:
        with db.session.begin_nested():
            db.session.add(UsedAssertion(key=key, expires_at=challenge.expires_at))
            db.session.flush()
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return False
    return True


def register(customer: Customer, ix: Interaction | None, where: str
             ) -> pk.Passkey | tuple[Response, int]:
    """Verify a registration answer against the challenge in flight and audit it (commits):
    the passkey, or the refusal to send back to ``passkeys.js``. ``where`` (offer,
    account) goes into the audit event."""
    payload = request.get_json(silent=True)
    challenge = take_challenge(ix)
    try:
        passkey = pk.verify_registration(customer, relying_party(), challenge,
                                         payload if payload is not None else "")
    except pk.PasskeyError as err:
        db.session.rollback()
        return refused(err, "registration", customer, credential_id=credential_id_of(payload))
    audit.record("passkey_registered", realm_id=customer.realm_id, customer_id=customer.id,
                 passkey_id=passkey.id, name=passkey.name, device=passkey.device,
                 backup_eligible=passkey.backup_eligible, where=where)
    db.session.commit()
    return passkey


def message(code: str) -> str:
    """What the customer reads for a refusal ``code`` of :class:`PasskeyError`."""
    if code == "unknown_credential":
        return _("Cette clé d'accès n'est plus enregistrée pour votre compte. Connectez-vous "
                 "avec votre mot de passe.")
    if code == "customer_disabled":
        return _("Ce compte ne peut pas se connecter pour le moment. Veuillez contacter votre "
                 "agence.")
    if code == "last_way_in":
        return _("Vous ne pouvez pas supprimer votre seul moyen de connexion.")
    if code == "invalid_name":
        return _("Le nom doit faire de 1 à 64 caractères.")
    if code == "too_many":
        return _("Vous avez atteint le nombre maximal de clés d'accès (%(num)d).",
                 num=pk.MAX_PASSKEYS)
    if code == "already_registered":
        return _("Cet appareil a déjà une clé d'accès pour votre compte.")
    if code == "not_found":
        return _("Cette clé d'accès n'existe plus.")
    if code == "unavailable":
        return _("Les clés d'accès ne sont pas disponibles sur ce site.")
    if code == "sign_in_incomplete":
        return _("Terminez d'abord votre connexion avant de créer une clé d'accès.")
    if code == "recovery_pending":
        return _("Votre agence vous a envoyé un nouveau code provisoire : connectez-vous avec "
                 "ce code.")
    if code == "no_sign_in":
        return _("Votre session a expiré. Veuillez vous reconnecter.")
    return _("La clé d'accès n'a pas pu être vérifiée. Veuillez réessayer.")


def refused(err: pk.PasskeyError, purpose: str, customer: Customer | None = None,
            **detail: Any) -> tuple[Response, int]:
    """Audit a refusal (``passkey_refused``, with the code and the detail for the log) and
    answer ``passkeys.js`` with a 400 it can show. Commits."""
    realm_id = customer.realm_id if customer is not None else g.realm.id
    audit.record("passkey_refused", realm_id=realm_id,
                 customer_id=customer.id if customer is not None else None,
                 purpose=purpose, code=err.code, reason=err.detail[:200], **detail)
    db.session.commit()
    body: dict[str, Any] = {"error": err.code, "message": message(err.code)}
    if err.code == "unknown_credential" and detail.get("credential_id"):
        # passkeys.js then tells the phone to forget it (signalUnknownCredential).
        body.update(credential_id=detail["credential_id"], rp_id=relying_party().id)
    return jsonify(body), 400


def credential_id_of(payload: Any) -> str | None:
    """The ``rawId`` a browser posted, for the audit log and ``signalUnknownCredential``."""
    if isinstance(payload, dict) and isinstance(payload.get("rawId"), str):
        return payload["rawId"][:512]
    return None
