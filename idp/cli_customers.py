"""``idp customers ...``: customer administration commands."""

from __future__ import annotations

import click

from . import audit
from .credentials import hash_password
from .extensions import db
from .flow import actions
from .models import Customer, Realm
from flask.cli import AppGroup


def realm_by_slug(slug: str) -> Realm:
    realm = db.session.execute(db.select(Realm).filter_by(slug=slug)).scalar_one_or_none()
    if realm is None:
        raise click.ClickException(f"unknown realm: {slug}")
    return realm


customers = AppGroup("customers", help="Customers of a realm.")


@customers.command("create")
@click.option("--realm", required=True)
@click.option("--identifier", required=True)
@click.option("--email", default=None)
@click.option("--email-verified", is_flag=True)
@click.option("--password", default=None)
@click.option("--temporary-password", default=None, help="6-digit code: owes the première connexion.")
@click.option("--given-name", default=None)
@click.option("--family-name", default=None)
def create(realm: str, identifier: str, email: str | None, email_verified: bool,
           password: str | None, temporary_password: str | None, given_name: str | None,
           family_name: str | None) -> None:
    """Create one customer. With --password and --email-verified they are active."""
    r = realm_by_slug(realm)
    if password and temporary_password:
        raise click.ClickException("give --password or --temporary-password, not both")
    if temporary_password and not (len(temporary_password) == 6 and temporary_password.isdigit()):
        raise click.ClickException("--temporary-password must be 6 digits")
    exists = db.session.execute(
        db.select(Customer.id).filter_by(realm_id=r.id, identifier=identifier)).first()
    if exists:
        raise click.ClickException(f"customer {identifier} already exists")
    customer = Customer(realm_id=r.id, identifier=identifier, given_name=given_name,
                        family_name=family_name, required_actions=[])
    customer.set_email(email, verified=bool(email and email_verified))
    pending: list[str] = []
    if password:
        customer.password_hash = hash_password(password)
    elif temporary_password:
        customer.temporary_code_hash = hash_password(temporary_password)
        pending.append(actions.UPDATE_PASSWORD.name)
    if not customer.email:
        pending.append(actions.SET_EMAIL.name)
    if not customer.email_verified:
        pending.append(actions.VERIFY_EMAIL.name)
    customer.required_actions = pending
    db.session.add(customer)
    db.session.flush()
    audit.record("admin_customer_created", realm_id=r.id, customer_id=customer.id)
    db.session.commit()
    click.echo(f"customer {identifier} created" + (
        f" (pending: {', '.join(pending)})" if pending else " (active)"))
