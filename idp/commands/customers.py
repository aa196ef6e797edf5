"""``idp customers ...``: customer administration commands."""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from typing import Any

import click
from flask.cli import AppGroup

from . import audit
from .core.models import Customer, Realm
from .credentials import hash_password
from .extensions import db
from .flow import actions


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
@click.option("--temporary-password", default=None,
              help="6-digit code: owes the première connexion.")
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


def _customer(realm: Realm, identifier: str) -> Customer:
    row = db.session.execute(
        db.select(Customer).filter_by(realm_id=realm.id, identifier=identifier)
    ).scalar_one_or_none()
    if row is None:
        raise click.ClickException(f"unknown customer: {identifier}")
    return row


@customers.command("import")
@click.option("--realm", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument("file", type=click.File("rb"))
def import_(realm: str, as_json: bool, file: Any) -> None:
    """Import customers from a UTF-8 CSV (DESIGN §3). Exit code 1 if any row failed."""
    from .customer_import import ImportFileError, import_customers

    r = realm_by_slug(realm)
    size = _size(file)
    show_bar = size > 0 and sys.stderr.isatty() and not as_json
    try:
        if show_bar:
            with click.progressbar(length=size, label="import", file=sys.stderr) as bar:
                seen = [0]

                def progress(pos: int) -> None:
                    if pos > seen[0]:
                        bar.update(pos - seen[0])
                        seen[0] = pos

                report = import_customers(r, file, progress)
        else:
            report = import_customers(r, file)
    except ImportFileError as exc:
        raise click.ClickException(str(exc)) from exc
    summary = report.as_dict()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False))
    else:
        for err in report.errors:
            click.echo(f"line {err['line']}: {err['reason']}", err=True)
        click.echo(
            f"{summary['rows']} rows: {report.created} created, {report.updated} updated, "
            f"{report.unchanged} unchanged, {report.skipped_active} already active (kept), "
            f"{len(report.errors)} failed"
        )
    if report.errors:
        sys.exit(1)


def _size(file: Any) -> int:
    try:
        return os.fstat(file.fileno()).st_size
    except (OSError, AttributeError, io.UnsupportedOperation):
        return 0


@customers.command("export")
@click.option("--realm", required=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-")
def export(realm: str, output: Any) -> None:
    """Export customers as CSV (no secret: no password, hash or code)."""
    from .customer_import import EXPORT_COLUMNS, export_rows

    writer = csv.DictWriter(output, fieldnames=EXPORT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for row in export_rows(realm_by_slug(realm)):
        writer.writerow(row)


@customers.command("set-temporary-password")
@click.option("--realm", required=True)
@click.option("--identifier", required=True)
@click.option("--code", default=None, help="6 digits; random when omitted.")
@click.option("--json", "as_json", is_flag=True)
def set_temporary_password(realm: str, identifier: str, code: str | None,
                           as_json: bool) -> None:
    """Give a customer a new temporary code (a new letter): prints it; ends their sessions."""
    from .credentials import new_temporary_code, set_temporary_code

    r = realm_by_slug(realm)
    customer = _customer(r, identifier)
    if code is not None and not (len(code) == 6 and code.isdigit()):
        raise click.ClickException("--code must be 6 digits")
    code = code or new_temporary_code()
    set_temporary_code(customer, code)
    customer.required_actions = actions.add(list(customer.required_actions or []),
                                            actions.UPDATE_PASSWORD.name)
    audit.record("admin_temporary_password_set", realm_id=r.id, customer_id=customer.id)
    db.session.commit()
    _end_sessions(r, customer, "admin_temporary_password")
    if as_json:
        click.echo(json.dumps({"identifier": identifier, "temporary_password": code}))
    else:
        click.echo(code)


@customers.command("unlock")
@click.option("--realm", required=True)
@click.option("--identifier", required=True)
def unlock(realm: str, identifier: str) -> None:
    """Lift a lockout (temporary or permanent) after checking who is asking."""
    from .credentials import unlock as do_unlock

    r = realm_by_slug(realm)
    customer = _customer(r, identifier)
    do_unlock(customer)
    audit.record("admin_customer_unlocked", realm_id=r.id, customer_id=customer.id)
    db.session.commit()
    click.echo(f"customer {identifier} unlocked")


def _end_sessions(realm: Realm, customer: Customer, reason: str) -> None:
    """End every session of the customer (logout tokens need a realm in ``g``)."""
    from flask import current_app, g

    from .oidc.logout import end_all_sessions
    from .realms import settings_of

    with current_app.test_request_context("/"):
        g.realm = realm
        g.realm_settings = settings_of(realm)
        end_all_sessions(customer.id, reason)
