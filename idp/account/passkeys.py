"""Mon compte: the customer's passkeys (name, created, last used, device), rename, remove
(never the last way in: :func:`ways_in.may_remove`), and add one — the offer made after
sign-in, available again here after a fresh proof (:mod:`idp.account.proof`): whoever
holds a session cookie must not add a way in without knowing a credential.

Registration needs a server-side challenge slot like the sign-in: the browser's sign-in
state (:class:`~idp.core.interaction.Interaction`), started here when there is none. The
challenge names the customer of the SSO session, so it cannot be answered for anyone else.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from ..core import audit, ways_in
from ..core import passkeys as pk
from ..core.db import db
from ..core.models import Customer, SsoSession
from ..web import notices
from ..web import passkeys as web_pk
from ..web.context import realm_blueprint
from ..web.limits import credential_limit
from ..web.session import current_interaction, current_sso, start_interaction
from .proof import fresh_proof_required, needs_proof
from .views import register_section

bp = realm_blueprint("account_passkeys", __name__, "/account/passkeys")


def init_app(app: Flask) -> None:
    """Register the views and the Mon compte section (called from ``create_app``)."""
    app.register_blueprint(bp)
    register_section(app, account_section)


def account_section(customer: Customer) -> tuple[str, dict[str, Any]] | None:
    """The "Clés d'accès" section: the list, and the button to add one (revealed by
    ``passkeys.js`` only where the browser supports WebAuthn)."""
    if not web_pk.enabled():
        return None
    rows = pk.list_passkeys(customer)
    removable = {p.id: ways_in.may_remove(customer, ways_in.Kind.PASSKEY, p.id) for p in rows}
    return "passkeys/_account_section.html", {"passkeys": rows, "removable": removable,
                                              "needs_proof": needs_proof(current_sso())}


def _signed_in() -> SsoSession | None:
    return current_sso()


def _to_account(kind: str, text: str) -> Response:
    notices.push(kind, text)
    return redirect(url_for("account.home"))


@bp.route("/options", methods=["POST"])
@credential_limit
@fresh_proof_required
def options() -> Any:
    sso = _signed_in()
    if sso is None:
        return web_pk.refused(pk.PasskeyError("no_sign_in"), "registration")
    customer = sso.customer
    try:
        opts, challenge = pk.registration_options(customer, web_pk.relying_party())
    except pk.PasskeyError as err:
        return web_pk.refused(err, "registration", customer)
    ix = current_interaction() or start_interaction(None)
    web_pk.keep_challenge(ix, challenge)
    db.session.commit()
    return jsonify(opts)


@bp.route("/verify", methods=["POST"])
@credential_limit
@fresh_proof_required
def verify() -> Any:
    sso = _signed_in()
    if sso is None:
        return web_pk.refused(pk.PasskeyError("no_sign_in"), "registration")
    passkey = web_pk.register(sso.customer, current_interaction(), "account")
    if not isinstance(passkey, pk.Passkey):
        return passkey
    notices.push("ok", _("Clé d'accès créée : %(name)s. Vous pourrez vous connecter sans mot "
                         "de passe avec cet appareil.", name=passkey.name))
    return jsonify(redirect=url_for("account.home"))


@bp.route("/<int:passkey_id>/rename", methods=["POST"])
def rename(passkey_id: int) -> Response:
    sso = _signed_in()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    try:
        passkey = pk.rename_passkey(sso.customer, passkey_id, request.form.get("name", ""))
    except pk.PasskeyError as err:
        db.session.rollback()
        return _to_account("error", web_pk.message(err.code))
    audit.record("passkey_renamed", realm_id=sso.realm_id, customer_id=sso.customer_id,
                 passkey_id=passkey.id, name=passkey.name)
    db.session.commit()
    return _to_account("ok", _("La clé d'accès a été renommée."))


@bp.route("/<int:passkey_id>/remove", methods=["POST"])
def remove(passkey_id: int) -> Response:
    sso = _signed_in()
    if sso is None:
        return redirect(url_for("flow.login", next="account"))
    customer = sso.customer
    try:
        pk.remove_passkey(customer, passkey_id)
    except pk.PasskeyError as err:
        db.session.rollback()
        audit.record("passkey_remove_refused", realm_id=customer.realm_id,
                     customer_id=customer.id, passkey_id=passkey_id, code=err.code)
        db.session.commit()
        return _to_account("error", web_pk.message(err.code))
    audit.record("passkey_removed", realm_id=customer.realm_id, customer_id=customer.id,
                 passkey_id=passkey_id)
    db.session.commit()
    return _to_account("ok", _("La clé d'accès a été supprimée. Pensez à la supprimer aussi "
                               "de votre appareil."))
