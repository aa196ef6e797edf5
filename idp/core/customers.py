"""Customer administration: what the CLI, the staff console and the admin API do.

Each function takes the realm and the app settings it needs, writes the audit event and
leaves the commit to the caller (a console action is one transaction).
"""

from __future__ import annotations

from dataclasses import dataclass

from . import actions, audit, credentials, emails, interaction, links, logout, mails, ways_in
from .db import db
from .models import Customer
from .realms import RealmInfo
from .settings import AppSettings


class CustomerError(ValueError):
    """A request the data refuses; ``code`` is stable (API error type), message English."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def find(realm: RealmInfo, identifier: str) -> Customer | None:
    return db.session.execute(
        db.select(Customer).filter_by(realm_id=realm.id, identifier=identifier)
    ).scalar_one_or_none()


def get(realm: RealmInfo, identifier: str) -> Customer:
    customer = find(realm, identifier)
    if customer is None:
        raise CustomerError("not_found", f"unknown customer: {identifier}")
    return customer


@dataclass(frozen=True)
class NewCustomer:
    identifier: str
    email: str | None = None
    email_verified: bool = False
    password: str | None = None
    temporary_code: str | None = None
    given_name: str | None = None
    family_name: str | None = None


def create(cfg: AppSettings, realm: RealmInfo, new: NewCustomer) -> Customer:
    """One customer; with a password and a verified email they are active at once."""
    identifier = (new.identifier or "").strip()
    if not identifier or len(identifier) > 64:
        raise CustomerError("invalid_identifier", "identifier must be 1 to 64 characters")
    if new.password and new.temporary_code:
        raise CustomerError("invalid_credentials", "give a password or a temporary code, "
                            "not both")
    if new.temporary_code is not None and not (
            len(new.temporary_code) == 6 and new.temporary_code.isdigit()):
        raise CustomerError("invalid_code", "the temporary code must be 6 digits")
    email = None
    if new.email:
        checked = emails.check(new.email)
        if checked.normalized is None:
            raise CustomerError("invalid_email",
                                f"invalid email: {checked.detail or checked.reason}")
        email = checked.normalized
    if find(realm, identifier) is not None:
        raise CustomerError("exists", f"customer {identifier} already exists")
    customer = Customer(realm_id=realm.id, identifier=identifier, given_name=new.given_name,
                        family_name=new.family_name, required_actions=[],
                        credential_version=0)
    customer.set_email(email, verified=bool(email and new.email_verified))
    pending: list[str] = []
    if new.password:
        credentials.set_initial_password(cfg, customer, new.password)
    elif new.temporary_code:
        credentials.set_initial_temporary_code(cfg, customer, new.temporary_code)
        pending.append(actions.UPDATE_PASSWORD)
    if not customer.email:
        pending.append(actions.SET_EMAIL)
    if not customer.email_verified:
        pending.append(actions.VERIFY_EMAIL)
    customer.required_actions = pending
    db.session.add(customer)
    db.session.flush()
    audit.record("admin_customer_created", realm_id=realm.id, customer_id=customer.id)
    return customer


def _recovery_mail(realm: RealmInfo, customer: Customer, why: str,
                   removed: list[ways_in.Item], sessions_ended: int) -> None:
    """Tell the customer what the agency's recovery ended (to a verified address only:
    an unverified one may not be theirs)."""
    if not (customer.email and customer.email_verified):
        return
    mails.notify(realm, customer, customer.email, "ways_in_removed", why=why,
                 removed=[{"kind": str(i.kind), "name": i.name or i.label} for i in removed],
                 sessions=sessions_ended)


def issue_temporary_code(cfg: AppSettings, realm: RealmInfo, customer: Customer,
                         code: str | None = None) -> str:
    """A new temporary code (a new letter, or read out on the phone): returns it, once.

    The agency's recovery: the code replaces the password, and every other way in the
    previous holder of the account may have added goes (passkeys, social links:
    :func:`ways_in.recover_items`), with every session, refresh token and sign-in in
    progress. The customer's mail lists what was removed."""
    if code is not None and not (len(code) == 6 and code.isdigit()):
        raise CustomerError("invalid_code", "the temporary code must be 6 digits")
    code = code or credentials.new_temporary_code()
    credentials.set_temporary_code(cfg, customer, code)
    actions.owe(customer, actions.UPDATE_PASSWORD)
    removed = ways_in.recover_items(customer, keep=(ways_in.Kind.TEMPORARY_CODE,))
    links.supersede(customer.id)
    audit.record("admin_temporary_password_set", realm_id=realm.id, customer_id=customer.id,
                 removed=[i.label for i in removed])
    db.session.commit()
    ended = logout.end_all_sessions(customer.id, "admin_temporary_password",
                                    cfg.issuer(realm.slug))
    _recovery_mail(realm, customer, "temporary_code", removed, ended)
    db.session.commit()
    return code


def unlock(realm: RealmInfo, customer: Customer) -> None:
    credentials.unlock(customer)
    audit.record("admin_customer_unlocked", realm_id=realm.id, customer_id=customer.id)


def set_enabled(cfg: AppSettings, realm: RealmInfo, customer: Customer, enabled: bool) -> None:
    """Disable or enable again. Disabling is the agency's recovery too: every session,
    token and sign-in in progress ends, and the ways in the previous holder may have
    added (passkeys, social links) go; the password stays for the day it is enabled
    again (or a new temporary code replaces it). The customer's mail says so."""
    if customer.enabled == enabled:
        return  # nothing changes: no second mail, no second audit event
    customer.enabled = enabled
    removed: list[ways_in.Item] = []
    if not enabled:
        removed = ways_in.recover_items(customer, keep=(
            ways_in.Kind.PASSWORD, ways_in.Kind.LEGACY_PASSWORD, ways_in.Kind.TEMPORARY_CODE))
    audit.record("admin_customer_enabled" if enabled else "admin_customer_disabled",
                 realm_id=realm.id, customer_id=customer.id,
                 **({} if enabled else {"removed": [i.label for i in removed]}))
    db.session.commit()
    if not enabled:
        ended = logout.end_all_sessions(customer.id, "admin_disabled", cfg.issuer(realm.slug))
        _recovery_mail(realm, customer, "disabled", removed, ended)
        db.session.commit()


def end_sessions(cfg: AppSettings, realm: RealmInfo, customer: Customer) -> int:
    audit.record("admin_sessions_ended", realm_id=realm.id, customer_id=customer.id)
    db.session.commit()
    return logout.end_all_sessions(customer.id, "admin", cfg.issuer(realm.slug))


def resend_verification(cfg: AppSettings, realm: RealmInfo, customer: Customer,
                        locale: str | None = None) -> int:
    """Queue a new verification mail to the customer's address; returns the outbox id."""
    if not customer.email:
        raise CustomerError("no_email", "the customer has no email address")
    if customer.email_verified:
        raise CustomerError("already_verified", "the email address is already verified")
    row = mails.action(cfg, realm, customer, links.VERIFY_EMAIL, customer.email, locale)
    audit.record("admin_verification_resent", realm_id=realm.id, customer_id=customer.id)
    return row.id


def set_email(cfg: AppSettings, realm: RealmInfo, customer: Customer, email: str) -> int:
    """Set the address on the customer's behalf; the customer still verifies it."""
    checked = emails.check(email)
    if checked.normalized is None:
        raise CustomerError("invalid_email", f"invalid email: {checked.detail or checked.reason}")
    customer.set_email(checked.normalized, verified=False)
    actions.finish(customer, actions.SET_EMAIL)
    actions.owe(customer, actions.VERIFY_EMAIL)
    links.supersede(customer.id, links.VERIFY_EMAIL, links.RESET_PASSWORD, links.CHANGE_EMAIL)
    interaction.end_for_customer(customer.id)
    audit.record("admin_email_set", realm_id=realm.id, customer_id=customer.id)
    row = mails.action(cfg, realm, customer, links.VERIFY_EMAIL, checked.normalized)
    return row.id


def status(customer: Customer) -> str:
    """migration_pending / email_to_verify / active / locked / disabled (console wording)."""
    if not customer.enabled:
        return "disabled"
    if credentials.is_locked(customer):
        return "locked"
    pending = set(customer.required_actions or [])
    if actions.UPDATE_PASSWORD in pending or actions.SET_EMAIL in pending:
        return "migration_pending"
    if actions.VERIFY_EMAIL in pending:
        return "email_to_verify"
    return "active"
