"""Which mail a customer gets, to which address, with which values: queued in the outbox.

The link in an action mail is the idp's public URL ``{issuer}/action/{secret}``; the
templates (``templates/mail/<name>.txt|html``) are rendered at delivery, in ``locale``.
"""

from __future__ import annotations

from typing import Any

from . import links, outbox
from .models import Customer, OutboxMail
from .realms import RealmInfo
from .settings import AppSettings

SUBJECTS = {
    links.VERIFY_EMAIL: "Mon espace client - Vérification de votre adresse de messagerie",
    links.CHANGE_EMAIL: "Mon espace client - Vérification de votre adresse de messagerie",
    links.RESET_PASSWORD: "Mon espace client - Réinitialisation de votre mot de passe",
    "password_changed": "Mon espace client - Votre mot de passe a été modifié",
    "email_changed": "Mon espace client - Votre adresse de messagerie a été modifiée",
    "account_linked": "Mon espace client - Un compte de réseau social a été associé",
    "ways_in_removed": "Mon espace client - Votre agence a sécurisé votre compte",
    # Privacy features (docs/privacy.md)
    "new_device": "Mon espace client - Nouvelle connexion à votre espace client",
    "email_code": "Mon espace client - Votre code de connexion",
    "deletion_requested": "Mon espace client - Demande de suppression de votre compte",
    "deletion_refused": "Mon espace client - Votre demande de suppression a été refusée",
}


def mask_email(email: str) -> str:
    """``m***@example.test``: enough for the owner to recognise it, little for others."""
    local, _sep, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def _values(realm: RealmInfo, customer: Customer, **extra: Any) -> dict[str, Any]:
    return {
        "realm": {"slug": realm.slug, "display_name": realm.display_name},
        "customer": {"identifier": customer.identifier, "given_name": customer.given_name,
                     "family_name": customer.family_name},
        **extra,
    }


def notify(realm: RealmInfo, customer: Customer, to: str, template: str,
           locale: str | None = None, **extra: Any) -> OutboxMail:
    """A notice without a link (password changed, email changed)."""
    return outbox.enqueue(realm_id=realm.id, customer_id=customer.id, to=to,
                          template=template, locale=locale or customer.locale or "fr",
                          context=_values(realm, customer, **extra))


def action(cfg: AppSettings, realm: RealmInfo, customer: Customer, kind: str, to: str,
           locale: str | None = None, **extra: Any) -> OutboxMail:
    """Issue a link of ``kind`` (superseding earlier ones) and queue the mail carrying it."""
    raw = links.issue(customer, kind, to, realm.settings)
    url = f"{cfg.issuer(realm.slug)}/action/{raw}"
    return outbox.enqueue(
        realm_id=realm.id, customer_id=customer.id, to=to, template=kind,
        locale=locale or customer.locale or "fr",
        context=_values(realm, customer, link=url,
                        minutes=links.lifetime_minutes(realm.settings), **extra))
