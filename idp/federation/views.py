"""Social sign-in views (blueprint ``broker``): start, callback, linking pages, Mon compte.

Thin: the adapters speak to the providers, :mod:`idp.federation.linking` holds the rules,
:mod:`idp.flow.machine` runs the sign-in. What survives the round trip to the provider
(``state``, nonce, PKCE verifier) is kept in the signed session cookie under ``broker``:
it is only ever useful to this browser, which is the one the provider sends back, and it is
single use (popped before the callback is checked, so a replayed callback is ``bad_state``).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Flask,
    abort,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from .. import audit
from ..core.models import Customer, IdentityProvider, SsoSession
from ..extensions import db
from ..flow import machine
from ..flow.forms import LoginForm
from ..flow.password import password_step
from ..flow.steps import credential_limit
from ..realms import realm_blueprint
from ..sessions import current_sso
from . import PROVIDERS, FederationError, get_adapter
from .linking import (
    LastWayIn,
    LinkRefused,
    PendingLink,
    check_linkable,
    find_identity,
    has_password,
    identities_of,
    link,
    refuse,
    unlink,
)

bp = realm_blueprint("broker", __name__)

#: Brand names on buttons and pages, in the seed's order.
BRANDS: dict[str, str] = {"facebook": "Facebook", "linkedin": "LinkedIn", "google": "Google",
                          "x": "Twitter / X"}
#: HTTP status of each failure page.
FAILURE_STATUS = {"cancelled": 200, "bad_state": 400, "provider_error": 502, "timeout": 504,
                  "invalid_response": 502}
SESSION_KEY = "broker"
_hooked = False
NOTICE_KEY = "broker_notice"


def init_app(app: Flask) -> None:
    global _hooked
    app.register_blueprint(bp)
    if not _hooked:  # the machine's hook list is process-wide; apps are created per test
        machine.on_complete(link_on_complete)
        _hooked = True
    app.jinja_env.globals.setdefault("social_brands", BRANDS)
    try:
        from ..account import views as account_views
    except ImportError:  # pragma: no cover - the account feature is always there today
        return
    add_section = getattr(account_views, "add_section", None)
    if add_section is not None and account_section not in getattr(account_views, "SECTIONS", []):
        add_section(account_section)


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
    entry = {"alias": row.alias, "client_id": row.client_id,
             "client_secret": row.client_secret, "enabled": row.enabled, **(row.settings or {})}
    return get_adapter(row.alias, entry, timeout=float(current_app.config.get(
        "FEDERATION_TIMEOUT", 10.0)))


def callback_url(alias: str) -> str:
    base = current_app.config["PUBLIC_URL"].rstrip("/")
    return f"{base}/realms/{g.realm.slug}/broker/{alias}/endpoint"


def brand(alias: str) -> str:
    return BRANDS.get(alias, alias)


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
    pending = PendingLink.from_dict(machine.remembered("link"))
    if pending is None or pending.provider != alias or pending.realm_id != g.realm.id:
        return None
    if pending.expired():
        machine.forget("link")
        return None
    return pending


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
        return _failed(alias, exc)

    if kept.get("purpose") == "account":
        return _account_link_done(alias, profile, kept)

    identity = find_identity(g.realm.id, alias, profile.subject)
    if identity is not None:
        customer = db.session.get(Customer, identity.customer_id)
        if customer is None or not customer.enabled or customer.locked_permanently:
            audit.record("login_failed", realm_id=g.realm.id,
                         customer_id=customer.id if customer else None, reason="disabled",
                         idp=alias)
            db.session.commit()
            return _refused(alias, "disabled", 403)
        if profile.email and identity.email != profile.email:
            identity.email = profile.email
        db.session.commit()
        return machine.authenticated(customer, ["fed"], idp=alias)

    # Unknown identity: never create a customer, never link on an email match alone.
    machine.remember("link", PendingLink.from_profile(g.realm.id, profile).as_dict())
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
            machine.forget("link")
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
        machine.forget("link")
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
    if machine.remembered("link") is not None:
        machine.forget("link")
    return redirect(url_for("flow.login"))


def link_on_complete(customer: Customer, data: dict[str, Any], sso: SsoSession) -> None:
    """Machine hook: once the customer is fully signed in, link the carried identity."""
    pending = PendingLink.from_dict(data.get("link"))
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
        session[NOTICE_KEY] = {"kind": "refused", "reason": exc.reason,
                               "provider": pending.provider}
        return
    # The customer proved both the identifier and the social account in this sign-in.
    if "fed" not in (sso.amr or []):
        sso.amr = [*list(sso.amr or []), "fed"]
    sso.idp = pending.provider
    if created:
        session[NOTICE_KEY] = {"kind": "linked", "provider": pending.provider}


# -- Mon compte ----------------------------------------------------------------------------
def _providers_view(customer: Customer) -> list[dict[str, Any]]:
    enabled = {
        r.alias for r in db.session.execute(
            db.select(IdentityProvider).filter_by(realm_id=customer.realm_id, enabled=True)
        ).scalars()
    }
    linked = {r.provider: r for r in identities_of(customer)}
    keep_one = not has_password(customer) and len(linked) <= 1
    out = []
    for alias in PROVIDERS:
        if alias not in enabled and alias not in linked:
            continue
        row = linked.get(alias)
        out.append({"alias": alias, "brand": brand(alias), "linked": row is not None,
                    "email": row.email if row else None,
                    "since": row.created_at if row else None,
                    "can_link": row is None and alias in enabled,
                    "can_unlink": row is not None and not keep_one})
    return out


def account_section(customer: Customer) -> tuple[str, dict[str, Any]] | None:
    """A short "Comptes de réseaux sociaux" section on the Mon compte home page."""
    providers = _providers_view(customer)
    if not providers:
        return None
    return "federation/_account_section.html", {"providers": providers}


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
    notice = session.pop(NOTICE_KEY, None)
    return render_template(
        "federation/account.html", customer=customer, providers=_providers_view(customer),
        notice=_notice_text(notice), notice_kind=(notice or {}).get("kind"),
        has_account_home="account.home" in current_app.view_functions,
    )


@bp.route("/account/social/<alias>/link", methods=["POST"])
def account_link(alias: str) -> Any:
    customer = _account_customer()
    if customer is None:
        return redirect(url_for("flow.login"))
    return _begin(alias, "account", customer.id)


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
    db.session.commit()
    session[NOTICE_KEY] = {"kind": "linked" if created else "already", "provider": alias}
    return redirect(url_for("broker.account"))


@bp.route("/account/social/<alias>/unlink", methods=["POST"])
def account_unlink(alias: str) -> Response:
    customer = _account_customer()
    if customer is None:
        return redirect(url_for("flow.login"))
    try:
        done = unlink(customer, alias)
    except LastWayIn:
        db.session.commit()
        session[NOTICE_KEY] = {"kind": "last", "provider": alias}
        return redirect(url_for("broker.account"))
    db.session.commit()
    if done:
        session[NOTICE_KEY] = {"kind": "unlinked", "provider": alias}
    return redirect(url_for("broker.account"))
