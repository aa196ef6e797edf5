"""The customer's own steps outside the sign-in form: setting and confirming an email,
the emailed links, the forgotten password. Views call these and only word the outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import actions, audit, credentials, interaction, links, logout, mails, ways_in
from .db import db
from .models import ActionToken, Customer, OutboxMail
from .realms import RealmInfo
from .settings import AppSettings


@dataclass
class MailOutcome:
    """``wait`` seconds left of the cooldown (nothing queued), else the queued ``mail``."""

    wait: int = 0
    mail: OutboxMail | None = None


def set_email(cfg: AppSettings, realm: RealmInfo, ix: interaction.Interaction,
              customer: Customer, email: str) -> MailOutcome:
    """Première connexion: the address to verify; a verification mail is queued."""
    wait = 0 if ix.mail_failed else links.cooldown_left(customer, links.VERIFY_EMAIL,
                                                        realm.settings)
    if wait:
        return MailOutcome(wait=wait)
    if email.lower() != (customer.email_normalized or ""):
        customer.set_email(email, verified=False)
        audit.record("email_set", realm_id=customer.realm_id, customer_id=customer.id)
    actions.finish(customer, actions.SET_EMAIL)
    actions.owe(customer, actions.VERIFY_EMAIL)
    return MailOutcome(mail=send_verification(cfg, realm, ix, customer))


def send_verification(cfg: AppSettings, realm: RealmInfo, ix: interaction.Interaction,
                      customer: Customer) -> OutboxMail:
    row = mails.action(cfg, realm, customer, links.VERIFY_EMAIL, customer.email or "",
                       ix.locale)
    ix.verify_sent_to = customer.email_normalized
    audit.record("verify_email_sent", realm_id=customer.realm_id, customer_id=customer.id,
                 kind=links.VERIFY_EMAIL)
    interaction.save(ix)
    return row


def mail_result(ix: interaction.Interaction, sent: bool) -> None:
    """Remember whether the last mail left (a failure lifts the resend cooldown)."""
    ix.mail_failed = not sent
    interaction.save(ix)


def resend_verification(cfg: AppSettings, realm: RealmInfo, ix: interaction.Interaction,
                        customer: Customer) -> MailOutcome:
    wait = 0 if ix.mail_failed else links.cooldown_left(customer, links.VERIFY_EMAIL,
                                                        realm.settings)
    if wait:
        return MailOutcome(wait=wait)
    return MailOutcome(mail=send_verification(cfg, realm, ix, customer))


def confirm_email(realm: RealmInfo, row: ActionToken, customer: Customer,
                  locale: str | None = None) -> bool:
    """A verify or change-email link confirmed: the address is the customer's, verified.
    ``False`` when a concurrent request used the link first."""
    if not links.consume(row):
        return False
    old = customer.email
    customer.set_email(row.email, verified=True)
    for name in (actions.SET_EMAIL, actions.VERIFY_EMAIL):
        actions.finish(customer, name)
    if row.kind == links.CHANGE_EMAIL:
        links.supersede(customer.id, links.CHANGE_EMAIL)
        audit.record("email_changed", realm_id=customer.realm_id, customer_id=customer.id)
        if old and old.lower() != row.email.lower():
            mails.notify(realm, customer, old, "email_changed", locale,
                         masked=mails.mask_email(row.email))
    else:
        audit.record("email_verified", realm_id=customer.realm_id, customer_id=customer.id)
    return True


def reset_password(cfg: AppSettings, realm: RealmInfo, row: ActionToken, customer: Customer,
                   password: str, locale: str | None = None) -> bool:
    """A reset link used: new password, locks lifted (the mailbox was proven), every
    session, token, sign-in in progress and pending link of the customer ends. The notice
    lists the other ways in (passkeys, linked social accounts) with a link to Mon compte,
    where each is removed in one click, so the customer drops any they do not recognise."""
    if not links.consume(row):
        return False
    credentials.set_password(cfg, customer, password)
    credentials.unlock(customer)
    if (customer.email_normalized or "") == row.email.lower():
        customer.email_verified = True
        actions.finish(customer, actions.VERIFY_EMAIL)
    actions.finish(customer, actions.UPDATE_PASSWORD)
    links.supersede(customer.id)
    audit.record("password_reset", realm_id=customer.realm_id, customer_id=customer.id)
    items = [i for i in ways_in.items_for(customer, first_factor_only=True)
             if i.removable_by_customer]
    mails.notify(realm, customer, row.email, "password_changed", locale,
                 linked=[i.key for i in items if i.kind == ways_in.Kind.SOCIAL],
                 others=[{"kind": str(i.kind), "name": i.name or i.label} for i in items],
                 manage_url=f"{cfg.issuer(realm.slug)}/account/ways-in")
    db.session.commit()
    logout.end_all_sessions(customer.id, "password_reset", cfg.issuer(realm.slug))
    return True


def request_reset(cfg: AppSettings, realm: RealmInfo, login: str,
                  locale: str | None = None) -> list[OutboxMail]:
    """Forgotten password: a reset mail to each matching customer's *verified* address.
    Mails are queued, never sent in the request: the answer and its timing are the same
    whether the account exists or not."""
    queued: list[OutboxMail] = []
    for customer in credentials.find_customers(realm, login):
        reason = None
        if not customer.email or not customer.email_verified:
            reason = "no_verified_email"
        elif not customer.enabled:
            reason = "disabled"
        elif links.cooldown_left(customer, links.RESET_PASSWORD, realm.settings):
            reason = "cooldown"
        if reason:
            audit.record("reset_refused", realm_id=customer.realm_id, customer_id=customer.id,
                         reason=reason)
            continue
        queued.append(mails.action(cfg, realm, customer, links.RESET_PASSWORD,
                                   customer.email or "", locale))
        audit.record("reset_sent", realm_id=customer.realm_id, customer_id=customer.id,
                     kind=links.RESET_PASSWORD)
    return queued


def request_email_change(cfg: AppSettings, realm: RealmInfo, customer: Customer,
                         email: str, locale: str | None = None) -> MailOutcome:
    wait = links.cooldown_left(customer, links.CHANGE_EMAIL, realm.settings)
    if wait:
        return MailOutcome(wait=wait)
    row = mails.action(cfg, realm, customer, links.CHANGE_EMAIL, email, locale)
    audit.record("email_change_requested", realm_id=customer.realm_id, customer_id=customer.id)
    return MailOutcome(mail=row)


def renew_link(cfg: AppSettings, realm: RealmInfo, found: links.Lookup,
               locale: str | None = None) -> MailOutcome | None:
    """A fresh link for a dead one — only verify and reset links, always to the customer's
    *current* address. ``None`` when this link cannot be renewed."""
    customer, row = found.customer, found.token
    if customer is None or row is None or row.kind not in links.RENEWABLE:
        return None
    if not customer.email or (row.kind == links.VERIFY_EMAIL and customer.email_verified):
        return None
    if row.kind == links.RESET_PASSWORD and not customer.email_verified:
        return None
    wait = links.cooldown_left(customer, row.kind, realm.settings)
    if wait:
        return MailOutcome(wait=wait)
    mail = mails.action(cfg, realm, customer, row.kind, customer.email, locale)
    audit.record("action_link_renewed", realm_id=customer.realm_id, customer_id=customer.id,
                 kind=row.kind)
    return MailOutcome(mail=mail)
