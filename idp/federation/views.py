"""Social sign-in views (blueprint ``broker``): start, callback, linking pages, Mon compte.

Thin: the adapters (:mod:`idp.core.providers`) speak to the providers,
:mod:`idp.core.linking` holds the rules, :mod:`idp.flow.machine` runs the sign-in. What
survives the round trip to the provider (``state``, nonce, PKCE verifier) is kept in the
signed session cookie under ``broker``: only useful to this browser, single use (popped
before the callback is checked, so a replayed callback is ``bad_state``). An identity to
link lives in the server-side sign-in state and dies with it.
"""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField
from wtforms.validators import DataRequired, Length

from shared import metrics

from ..core import audit, credentials, crypto, interaction, sessions, ways_in
from ..core.db import db
from ..core.interaction import Interaction
from ..core.linking import (
    LastWayIn,
    LinkRefused,
    PendingLink,
    can_unlink,
    check_linkable,
    find_identity,
    has_password,
    identities_of,
    link,
    refuse,
    unlink,
)
from ..core.mails import notify
from ..core.models import Customer, IdentityProvider, SsoSession
from ..core.providers import PROVIDERS, FederationError, display_name, get_adapter
from ..flow import machine
from ..flow.password import password_step
from ..web import limits, notices, texts
from ..web.context import app_settings, realm_blueprint
from ..web.forms import LoginForm
from ..web.limits import credential_limit
from ..web.session import current_interaction, current_sso

bp = realm_blueprint("broker", __name__)

#: HTTP status of each failure page.
FAILURE_STATUS = {"cancelled": 200, "bad_state": 400, "provider_error": 502, "timeout": 504,
                  "invalid_response": 502}
SESSION_KEY = "broker"


# -- helpers -------------------------------------------------------------------------------
def provider_row(alias: str) -> IdentityProvider:
    """The realm's enabled provider ``alias``, or a 404 page."""
    if alias not in PROVIDERS:
        abort(404)
    row = db.session.execute(
        db.select(IdentityProvider).filter_by(realm_id=g.realm.id, alias=alias)
    ).scalar_one_or_none()
    if row is None or not row.enabled:
        abort(404)
    return row


def adapter_for(row: IdentityProvider) -> Any:
    # The secret is stored encrypted (idp.core.crypto): opened only to talk to the provider.
    entry = {"alias": row.alias, "client_id": row.client_id,
             "client_secret": crypto.decrypt(row.client_secret), "enabled": row.enabled,
             **(row.settings or {})}
    return get_adapter(row.alias, entry, timeout=app_settings().federation_timeout)


def callback_url(alias: str) -> str:
    return f"{app_settings().issuer(g.realm.slug)}/broker/{alias}/endpoint"


def brand(alias: str) -> str:
    return display_name(alias)


def _begin(alias: str, purpose: str, customer_id: int | None = None) -> Any:
    row = provider_row(alias)
    try:  # Google/LinkedIn fetch discovery here: the provider may already be down
        url, kept = adapter_for(row).begin(callback_url(alias))
    except FederationError as exc:
        return _failed(alias, exc)
    kept = {**kept, "purpose": purpose, "realm": g.realm.slug}
    if customer_id is not None:
        kept["customer"] = customer_id
    session[SESSION_KEY] = kept
    return redirect(url)


def _failure(alias: str, reason: str, status: int | None = None) -> tuple[str, int]:
    return render_template(
        "federation/failure.html", reason=reason, provider=brand(alias),
        has_client=machine.has_client_request(),
    ), status or FAILURE_STATUS.get(reason, 400)


def _failed(alias: str, exc: FederationError) -> tuple[str, int]:
    audit.record("federation_failure", realm_id=g.realm.id, provider=alias,
                 reason=exc.reason, detail=exc.detail[:500])
    db.session.commit()
    return _failure(alias, exc.reason)


def _refused(alias: str, reason: str, status: int = 409) -> tuple[str, int]:
    return render_template(
        "federation/refused.html", reason=reason, provider=brand(alias),
        has_client=machine.has_client_request(),
    ), status


def _pending_link(alias: str) -> PendingLink | None:
    ix = current_interaction()
    pending = PendingLink.from_dict(ix.link) if ix is not None else None
    if pending is None or pending.provider != alias or pending.realm_id != g.realm.id:
        return None
    if pending.expired():
        _forget_link()
        return None
    return pending


def _forget_link() -> None:
    ix = current_interaction()
    if ix is not None and ix.link is not None:
        ix.link = None
        interaction.save(ix)


def _account_customer() -> Customer | None:
    sso = current_sso()
    return sso.customer if sso is not None else None


# -- sign-in -------------------------------------------------------------------------------
@bp.route("/broker/<alias>/login")
def start(alias: str) -> Any:
    """The provider's button: send the browser to the provider."""
    return _begin(alias, "login")


@bp.route("/broker/<alias>/endpoint")
def endpoint(alias: str) -> Any:
    """The callback registered at the provider."""
    kept = session.pop(SESSION_KEY, None) or {}
    row = provider_row(alias)
    try:
        if kept.get("realm") not in (None, g.realm.slug):
            raise FederationError("bad_state", f"{alias}: sign-in started in another realm")
        profile = adapter_for(row).complete(callback_url(alias), request.args, kept)
    except FederationError as exc:
        if kept.get("purpose") != "account":
            metrics.sign_in("failure")
        return _failed(alias, exc)

    if kept.get("purpose") == "account":
        return _account_link_done(alias, profile, kept)
    if kept.get("purpose") == "proof":
        return _proof_done(alias, profile, kept)

    identity = find_identity(g.realm.id, alias, profile.subject)
    if identity is not None:
        customer = db.session.get(Customer, identity.customer_id)
        if customer is None or not ways_in.usable(customer, ways_in.Kind.SOCIAL, g.realm):
            audit.record("login_failed", realm_id=g.realm.id,
                         customer_id=customer.id if customer else None,
                         reason=ways_in.may_sign_in(customer, g.realm) or "recovery_pending",
                         idp=alias)
            db.session.commit()
            metrics.sign_in("locked")
            return _refused(alias, "disabled", 403)
        if profile.email and identity.email != profile.email:
            identity.email = profile.email
        db.session.commit()
        metrics.sign_in("social")
        return machine.authenticated(customer, ["fed"], idp=alias)

    # Unknown identity: never create a customer, never link on an email match alone.
    ix = machine.ensure_interaction()
    ix.link = PendingLink.from_profile(g.realm.id, profile).as_dict()
    interaction.save(ix)
    audit.record("federated_identity_unknown", realm_id=g.realm.id, provider=alias)
    db.session.commit()
    return redirect(url_for("broker.link_page", alias=alias))


@bp.route("/broker/<alias>/link", methods=["GET", "POST"])
@credential_limit
def link_page(alias: str) -> Any:
    """"Associer votre compte X à votre espace client": prove the identifier once."""
    provider_row(alias)
    pending = _pending_link(alias)
    if pending is None:
        return redirect(url_for("flow.login"))

    def veto(customer: Customer) -> Any:
        try:
            check_linkable(customer, alias, pending.subject)
        except LinkRefused as exc:
            _forget_link()
            refuse(customer, g.realm.id, alias, exc.reason)
            db.session.commit()
            return _refused(alias, exc.reason)
        return None

    form = LoginForm()
    response, error = password_step(form, veto)
    if response is not None:
        return response
    if request.method == "GET" and find_identity(g.realm.id, alias, pending.subject):
        # Linked meanwhile (another tab, another customer): say so, link nothing.
        _forget_link()
        refuse(None, g.realm.id, alias, "other_customer")
        db.session.commit()
        return _refused(alias, "other_customer")
    return render_template(
        "federation/link.html", form=form, error=error, alias=alias, provider=brand(alias),
        pending=pending, has_client=machine.has_client_request(),
    ), (401 if error else 200)


@bp.route("/broker/link/cancel", methods=["POST"])
def link_cancel() -> Response:
    """"Ne pas associer": drop the provider's answer, back to the sign-in page."""
    _forget_link()
    db.session.commit()
    return redirect(url_for("flow.login"))


def link_on_complete(customer: Customer, ix: Interaction, sso: SsoSession) -> None:
    """Completion hook: once the customer is fully signed in, link the identity carried
    by *this* sign-in state (a pending link never outlives its sign-in)."""
    pending = PendingLink.from_dict(ix.link)
    if pending is None or pending.realm_id != customer.realm_id:
        return
    if pending.expired():
        refuse(customer, customer.realm_id, pending.provider, "expired")
        return
    try:
        _row, created = link(customer, pending.provider, pending.subject, pending.email,
                             how="sign_in")
    except LinkRefused as exc:
        refuse(customer, customer.realm_id, pending.provider, exc.reason)
        _notice({"kind": "refused", "reason": exc.reason, "provider": pending.provider})
        return
    # The customer proved both the identifier and the social account in this sign-in.
    if "fed" not in (sso.amr or []):
        sso.amr = [*list(sso.amr or []), "fed"]
    sso.idp = pending.provider
    if created:
        _notice({"kind": "linked", "provider": pending.provider})
        _mail_linked(customer, pending.provider)


# -- Mon compte ----------------------------------------------------------------------------
def _providers_view(customer: Customer) -> list[dict[str, Any]]:
    enabled = {
        r.alias for r in db.session.execute(
            db.select(IdentityProvider).filter_by(realm_id=customer.realm_id, enabled=True)
        ).scalars()
    }
    linked = {r.provider: r for r in identities_of(customer)}
    out = []
    for alias in PROVIDERS:
        if alias not in enabled and alias not in linked:
            continue
        row = linked.get(alias)
        out.append({"alias": alias, "brand": brand(alias), "linked": row is not None,
                    "email": row.email if row else None,
                    "since": row.created_at if row else None,
                    "can_link": row is None and alias in enabled,
                    "can_unlink": row is not None and can_unlink(customer, alias)})
    return out


def account_section(customer: Customer) -> tuple[str, dict[str, Any]] | None:
    """A short "Comptes de réseaux sociaux" section on the Mon compte home page."""
    providers = _providers_view(customer)
    if not providers:
        return None
    return "federation/_account_section.html", {"providers": providers}


def _notice(notice: dict[str, Any]) -> None:
    text = _notice_text(notice)
    if text:
        notices.push("error" if notice.get("kind") in ("refused", "last") else "ok", text)


def _mail_linked(customer: Customer, alias: str) -> None:
    """Tell the customer by mail: a linked account is a new way in."""
    if customer.email and customer.email_verified:
        notify(g.realm, customer, customer.email, "account_linked", provider=brand(alias))


def _notice_text(notice: dict[str, Any] | None) -> str | None:
    if not notice:
        return None
    name = brand(str(notice.get("provider")))
    kind = notice.get("kind")
    if kind == "linked":
        return _("Votre compte %(provider)s est maintenant associé à votre espace client.",
                 provider=name)
    if kind == "already":
        return _("Ce compte %(provider)s est déjà associé à votre espace client.", provider=name)
    if kind == "unlinked":
        return _("Votre compte %(provider)s n'est plus associé à votre espace client.",
                 provider=name)
    if kind == "refused":
        if notice.get("reason") == "provider_taken":
            return _("Un autre compte %(provider)s est déjà associé à votre espace client : "
                     "dissociez-le d'abord.", provider=name)
        return _("Ce compte %(provider)s est déjà associé à un autre espace client. Il n'a pas "
                 "été associé au vôtre.", provider=name)
    if kind == "last":
        return _("Vous ne pouvez pas dissocier votre compte %(provider)s : c'est votre seul "
                 "moyen de connexion. Définissez d'abord un mot de passe.", provider=name)
    return None


@bp.route("/account/social")
def account() -> Any:
    customer = _account_customer()
    if customer is None:
        return redirect(url_for("flow.login"))
    return render_template(
        "federation/account.html", customer=customer, providers=_providers_view(customer),
        notice=notices.pop(),
    )


class ReauthForm(FlaskForm):
    """The current password, asked again before a new social account is linked."""

    current_password = PasswordField(
        _l("Mot de passe actuel"),
        validators=[DataRequired(_l("Veuillez saisir votre mot de passe actuel.")),
                    Length(max=1024)],
    )


@bp.route("/account/social/<alias>/link", methods=["POST"])
@credential_limit
def account_link(alias: str) -> Any:
    """Link another social account from Mon compte: a linked account is a new way in, so
    whoever holds the session (a shared computer, a stolen cookie) must prove the current
    password first; the customer is mailed once it is linked."""
    sso = current_sso()
    customer = sso.customer if sso is not None else None
    if sso is None or customer is None:
        return redirect(url_for("flow.login"))
    provider_row(alias)
    form = ReauthForm()
    if not has_password(customer):
        # No password to ask: the session's fresh proof (a passkey or a social sign-in
        # within five minutes, Mon compte's confirm page otherwise).
        if sessions.has_fresh_proof(sso):
            return _begin(alias, "account", customer.id)
        return redirect(url_for("account_proof.confirm", realm=g.realm.slug,
                                next=url_for("broker.account", realm=g.realm.slug)))
    if not form.validate_on_submit():
        return _reauth_page(form, alias, None, 400 if form.current_password.data else 200)
    if limits.failures_exhausted():
        return _reauth_page(form, alias, texts.too_many_failures(), 429)
    ok = credentials.verify_current(app_settings(), customer, form.current_password.data,
                                    g.realm.settings.brute_force)
    if not ok:
        audit.record("federated_link_reauth_failed", realm_id=g.realm.id,
                     customer_id=customer.id, provider=alias)
        db.session.commit()
        limits.count_failure(g.realm.id)
        return _reauth_page(form, alias, _("Mot de passe incorrect."), 401)
    db.session.commit()
    return _begin(alias, "account", customer.id)


def _reauth_page(form: ReauthForm, alias: str, error: str | None,
                 status: int) -> tuple[str, int]:
    form.current_password.data = ""
    return render_template("federation/link_confirm.html", form=form, alias=alias,
                           provider=brand(alias), error=error), status


def _account_link_done(alias: str, profile: Any, kept: dict[str, Any]) -> Any:
    customer = _account_customer()
    if customer is None or customer.id != kept.get("customer"):
        audit.record("federation_failure", realm_id=g.realm.id, provider=alias,
                     reason="bad_state", detail="account link without the same signed-in "
                     "customer")
        db.session.commit()
        return _failure(alias, "bad_state")
    try:
        _row, created = link(customer, alias, profile.subject, profile.email, how="account")
    except LinkRefused as exc:
        refuse(customer, g.realm.id, alias, exc.reason)
        db.session.commit()
        return _refused(alias, exc.reason)
    if created:
        _mail_linked(customer, alias)
    db.session.commit()
    _notice({"kind": "linked" if created else "already", "provider": alias})
    return redirect(url_for("broker.account"))


@bp.route("/account/confirm/<alias>")
def proof(alias: str) -> Any:
    """Mon compte's confirm page: prove the session again with a linked social account."""
    sso = current_sso()
    if sso is None:
        return redirect(url_for("flow.login"))
    provider_row(alias)
    return _begin(alias, "proof", sso.customer_id)


def _proof_done(alias: str, profile: Any, kept: dict[str, Any]) -> Any:
    """The provider answered for the confirm page: it proves the session only if this
    identity is linked to the very customer signed in."""
    sso = current_sso()
    identity = find_identity(g.realm.id, alias, profile.subject)
    if (sso is None or sso.customer_id != kept.get("customer") or identity is None
            or identity.customer_id != sso.customer_id
            or not ways_in.usable(sso.customer, ways_in.Kind.SOCIAL, g.realm)):
        audit.record("proof_failed", realm_id=g.realm.id,
                     customer_id=sso.customer_id if sso else None, how="social",
                     provider=alias)
        db.session.commit()
        return _failure(alias, "bad_state")
    sessions.proved(sso)
    audit.record("proof_renewed", realm_id=g.realm.id, customer_id=sso.customer_id,
                 how="social", provider=alias)
    db.session.commit()
    return redirect(url_for("account_proof.done"))


@bp.route("/account/social/<alias>/unlink", methods=["POST"])
def account_unlink(alias: str) -> Response:
    customer = _account_customer()
    if customer is None:
        return redirect(url_for("flow.login"))
    try:
        done = unlink(customer, alias)
    except LastWayIn:
        db.session.commit()
        _notice({"kind": "last", "provider": alias})
        return redirect(url_for("broker.account"))
    db.session.commit()
    if done:
        _notice({"kind": "unlinked", "provider": alias})
    return redirect(url_for("broker.account"))
