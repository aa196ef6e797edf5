"""Console: find a customer, see their file, act on their behalf (thin: every action is
one call to :mod:`idp.core.operations`, which checks the permission and writes the audit)."""

from __future__ import annotations

from typing import Any

from flask import redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from ..core import customers as service
from ..core import operations as ops
from ..core.db import db
from ..core.mails import mask_email
from ..core.staff import Action
from ..web import notices
from ..web.context import app_settings
from ..web.mail import deliver_soon
from .blueprint import ActionForm, bp, principal, target
from .forms import EmailForm


def status_label(code: str) -> str:
    labels = {"migration_pending": _("Première connexion à faire"),
              "email_to_verify": _("Email à vérifier"), "active": _("Actif"),
              "locked": _("Verrouillé"), "disabled": _("Désactivé")}
    return labels.get(code, code)


@bp.route("/realms/<slug>/customers")
def customers(slug: str) -> Any:
    realm = target(slug, Action.CUSTOMERS_READ)
    query = request.args.get("q", "")
    try:
        page_no = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page_no = 1
    page = ops.search_customers(principal(), realm, query, page_no)
    return render_template("admin/customers.html", realm=realm, query=query, page=page,
                           status_label=status_label, statuses=_statuses(page.items))


def _statuses(rows: list[Any]) -> dict[int, str]:
    return {c.id: service.status(c) for c in rows}


@bp.route("/realms/<slug>/customers/<identifier>")
def customer(slug: str, identifier: str) -> Any:
    realm = target(slug, Action.CUSTOMERS_READ)
    try:
        file = ops.customer_file(principal(), realm, identifier)
    except ops.AdminError:
        return render_template("error.html", status=404, message=None), 404
    return render_template("admin/customer.html", realm=realm, file=file,
                           status_label=status_label, form=ActionForm(),
                           email_form=EmailForm(), notice=notices.pop())


def _back(slug: str, identifier: str) -> Any:
    return redirect(url_for("admin.customer", slug=slug, identifier=identifier))


@bp.route("/realms/<slug>/customers/<identifier>/<action>", methods=["POST"])
def customer_action(slug: str, identifier: str, action: str) -> Any:
    realm = target(slug, Action.CUSTOMERS_WRITE)
    form = EmailForm() if action == "email" else ActionForm()
    if not form.validate_on_submit():
        notices.push("error", _("La page a expiré ou le formulaire est incomplet. "
                                "Veuillez réessayer."))
        return _back(slug, identifier)
    cfg, who = app_settings(), principal()
    try:
        if action == "code":
            code = ops.issue_temporary_code(who, cfg, realm, identifier)
            db.session.commit()
            # Shown once, in this answer only (read it out on the phone).
            return render_template("admin/code_shown.html", realm=realm,
                                   identifier=identifier, code=code)
        message = _run(action, cfg, realm, identifier)
    except ops.AdminError as exc:
        db.session.rollback()
        notices.push("error", _error_text(exc))
        return _back(slug, identifier)
    db.session.commit()
    notices.push("ok", message)
    return _back(slug, identifier)


def _run(action: str, cfg: Any, realm: Any, identifier: str) -> str:
    who = principal()
    if action == "resend":
        row_id = ops.resend_verification(who, cfg, realm, identifier, str(get_locale() or "fr"))
        db.session.commit()
        deliver_soon(row_id)
        return _("Le courriel de vérification a été renvoyé.")
    if action == "unlock":
        ops.unlock(who, realm, identifier)
        return _("Le compte est déverrouillé.")
    if action in ("disable", "enable"):
        ops.set_enabled(who, cfg, realm, identifier, action == "enable")
        return _("Le compte est réactivé.") if action == "enable" else _(
            "Le compte est désactivé et ses sessions sont fermées.")
    if action == "end-sessions":
        count = ops.end_sessions(who, cfg, realm, identifier)
        return _("%(num)d session(s) fermée(s).", num=count)
    if action == "unlink":
        provider = request.form.get("provider", "")
        ops.unlink(who, realm, identifier, provider)
        return _("Le compte %(provider)s n'est plus associé.", provider=provider)
    if action == "email":
        email = request.form.get("email", "")
        row_id = ops.set_email(who, cfg, realm, identifier, email)
        db.session.commit()
        deliver_soon(row_id)
        return _("Adresse enregistrée ; un courriel de vérification est parti à %(email)s.",
                 email=mask_email(email.strip()))
    raise ops.AdminError("unknown_action", action)


def _error_text(exc: ops.AdminError) -> str:
    texts = {
        "no_email": _("Ce client n'a pas d'adresse email."),
        "already_verified": _("L'adresse email est déjà vérifiée."),
        "invalid_email": _("Cette adresse email n'est pas valide."),
        "last_way_in": _("Impossible : le client n'aurait plus aucun moyen de se connecter."),
        "not_linked": _("Ce compte n'est pas associé."),
        "not_found": _("Client introuvable."),
    }
    return texts.get(exc.code, _("Action impossible."))
