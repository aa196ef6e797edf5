"""Passkeys in the sign-in flow: sign in with one, and the one-time offer to create one.

- **Sign-in** (button or the identifier field's autofill): ``passkeys.js`` asks for
  options, the challenge goes into the server-side sign-in state (single use, five
  minutes), the answer is verified and the customer handed to the state machine like a
  password would be, with the passkey's ``amr`` and ``acr`` "2": required actions still
  apply, the SSO session says how the customer signed in.
- **Offer**: a completion step of the machine. Once nothing is owed (after a sign-in, or
  at the end of the première connexion), a customer whose browser can hold a passkey and
  who has none is shown, once, "Se connecter sans mot de passe avec ce téléphone". Shown
  once means once per customer: ``Customer.passkey_offered_at`` remembers it (state on
  the customer: the audit trail is purged). Declining changes nothing; Mon compte
  offers it again (after a fresh proof).
- **Only from a completed sign-in**: the offer's endpoints refuse while anything is owed
  (a required action of the première connexion, the staff realm's second factor): a
  temporary code alone must never add a way in that outlives it.

JSON endpoints answer ``passkeys.js`` (CSRF token in the ``X-CSRFToken`` header).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g, jsonify, render_template, request, url_for
from werkzeug.wrappers import Response

from ..core import audit
from ..core import passkeys as pk
from ..core.db import db
from ..core.interaction import Interaction
from ..core.models import Customer
from ..web import passkeys as web_pk
from ..web.context import realm_blueprint
from ..web.limits import credential_limit
from ..web.session import current_interaction
from . import machine

bp = realm_blueprint("passkeys", __name__, "/passkeys")

OFFERED = "passkey_offered"  # the audit event (the state is the customer's column)


def init_app(app: Flask) -> None:
    """Register the views and the offer step (called from ``create_app``)."""
    app.register_blueprint(bp)
    machine.register_step(app, offer_step)


# --- the offer, a completion step ------------------------------------------------------------

def offer_step(customer: Customer, ix: Interaction | None) -> str | None:
    """The offer page when it is due: passkeys possible here, a capable browser, not a
    passkey sign-in, no passkey yet, never offered before. Otherwise nothing."""
    if not web_pk.enabled() or not web_pk.browser_capable():
        return None
    if ix is not None and ("hwk" in ix.amr or "swk" in ix.amr):
        return None
    if pk.was_offered(customer) or pk.list_passkeys(customer):
        return None
    return "passkeys.offer"


def _pending() -> Customer | None:
    """The customer of the sign-in in progress, proven and re-checked by the machine."""
    return machine.pending_customer()


def _may_register(customer: Customer | None, ix: Interaction | None) -> bool:
    """A passkey is registered only from a completed sign-in: a proven customer who owes
    nothing (no required action, no second factor), where passkeys are offered at all."""
    return (customer is not None and ix is not None and web_pk.enabled()
            and machine.owes_nothing(customer, ix))


@bp.route("/offer", methods=["GET"])
def offer() -> Any:
    customer = _pending()
    if customer is None or not web_pk.enabled() or not machine.owes_nothing(
            customer, current_interaction()):
        return machine.next_step()
    if pk.mark_offered(customer):
        audit.record(OFFERED, realm_id=customer.realm_id, customer_id=customer.id)
    db.session.commit()
    return render_template("passkeys/offer.html", customer=customer,
                           has_client=machine.has_client_request())


@bp.route("/offer", methods=["POST"])
def decline() -> Response:
    """"Plus tard": nothing changes on the account; the sign-in carries on."""
    customer = _pending()
    if customer is not None:
        audit.record("passkey_offer_declined", realm_id=customer.realm_id,
                     customer_id=customer.id)
        db.session.commit()
    return machine.next_step()


@bp.route("/offer/options", methods=["POST"])
@credential_limit
def offer_options() -> Any:
    customer = _pending()
    ix = current_interaction()
    if not _may_register(customer, ix):
        code = "sign_in_incomplete" if customer is not None else "no_sign_in"
        return web_pk.refused(pk.PasskeyError(code), "registration", customer)
    assert customer is not None and ix is not None
    try:
        options, challenge = pk.registration_options(customer, web_pk.relying_party())
    except pk.PasskeyError as err:
        return web_pk.refused(err, "registration", customer)
    web_pk.keep_challenge(ix, challenge)
    db.session.commit()
    return jsonify(options)


@bp.route("/offer/verify", methods=["POST"])
@credential_limit
def offer_verify() -> Any:
    customer = _pending()
    ix = current_interaction()
    if not _may_register(customer, ix):
        code = "sign_in_incomplete" if customer is not None else "no_sign_in"
        return web_pk.refused(pk.PasskeyError(code), "registration", customer)
    assert customer is not None and ix is not None
    outcome = web_pk.register(customer, ix, "offer")
    if not isinstance(outcome, pk.Passkey):
        return outcome
    return _redirect_json(machine.next_step())


# --- sign-in ---------------------------------------------------------------------------------

@bp.route("/signin/options", methods=["POST"])
@credential_limit
def signin_options() -> Any:
    """Options for the button and for the autofill; the challenge goes into this
    browser's sign-in state (a new one if there is none: sign-in to Mon compte)."""
    try:
        rp = web_pk.relying_party()
    except pk.PasskeyError as err:
        return web_pk.refused(err, "authentication")
    ix = machine.ensure_interaction()
    options, challenge = pk.authentication_options(rp, g.realm.id)
    web_pk.keep_challenge(ix, challenge)
    db.session.commit()
    return jsonify(options)


@bp.route("/signin/verify", methods=["POST"])
@credential_limit
def signin_verify() -> Any:
    """Verify the assertion, then hand the customer to the machine, as a password does."""
    payload = request.get_json(silent=True)
    ix = current_interaction()
    challenge = web_pk.take_challenge(ix)
    try:
        result = pk.verify_authentication(g.realm.id, web_pk.relying_party(), challenge,
                                          payload if payload is not None else "")
    except pk.PasskeyError as err:
        db.session.rollback()
        return web_pk.refused(err, "authentication", credential_id=web_pk.credential_id_of(payload))
    audit.record("passkey_used", realm_id=result.customer.realm_id,
                 customer_id=result.customer.id, passkey_id=result.passkey.id,
                 amr=result.amr, backup_state=result.passkey.backup_state)
    db.session.commit()
    return _redirect_json(machine.authenticated(result.customer, result.amr, acr=result.acr))


def _redirect_json(response: Response) -> Response:
    """``passkeys.js`` follows ``{"redirect": url}``: the machine's next page, as JSON."""
    target = response.headers.get("Location") or url_for("flow.login", realm=g.realm.slug)
    return jsonify(redirect=target)
