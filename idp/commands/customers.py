"""``idp customers ...``: customer administration (the same core functions as the staff
console and the admin API)."""

from __future__ import annotations

import io
import json
import os
import sys
from typing import Any

import click
from flask.cli import AppGroup

from ..core import csv_export, deletion, staff
from ..core import customers as service
from ..core.customer_import import (
    EXPORT_COLUMNS,
    ImportFileError,
    export_rows,
    import_customers,
)
from ..core.db import db
from ..core.models import Customer
from ..core.operations import customers as ops
from ..core.realms import RealmInfo
from ..web.context import app_settings
from .common import echo, realm_by_slug, realm_info

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
    try:
        customer = service.create(app_settings(), realm_info(realm), service.NewCustomer(
            identifier=identifier, email=email, email_verified=email_verified,
            password=password, temporary_code=temporary_password, given_name=given_name,
            family_name=family_name))
    except service.CustomerError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    pending = list(customer.required_actions or [])
    click.echo(f"customer {identifier} created" + (
        f" (pending: {', '.join(pending)})" if pending else " (active)"))


def _customer(realm: RealmInfo, identifier: str) -> Customer:
    row = service.find(realm, identifier)
    if row is None:
        raise click.ClickException(f"unknown customer: {identifier}")
    return row


@customers.command("import")
@click.option("--realm", required=True)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
@click.argument("file", type=click.File("rb"))
def import_(realm: str, as_json: bool, file: Any) -> None:
    """Import customers from a UTF-8 CSV (README). Exit code 1 if any row failed.

    Rows are committed batch by batch: after an interruption, run the same command again;
    the rows already in come back as unchanged, none is created twice."""
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

                report = import_customers(app_settings(), r, file, progress)
        else:
            report = import_customers(app_settings(), r, file)
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
    """Export customers as CSV (no secret: no password, hash or code; a cell that a
    spreadsheet would run as a formula starts with ')."""
    for piece in csv_export.lines(export_rows(realm_by_slug(realm)), EXPORT_COLUMNS,
                                  lineterminator="\n"):
        output.write(piece)


@customers.command("set-temporary-password")
@click.option("--realm", required=True)
@click.option("--identifier", required=True)
@click.option("--code", default=None, help="6 digits; random when omitted.")
@click.option("--json", "as_json", is_flag=True)
def set_temporary_password(realm: str, identifier: str, code: str | None,
                           as_json: bool) -> None:
    """Give a customer a new temporary code (a new letter): prints it; ends their sessions."""
    r = realm_info(realm)
    customer = _customer(r, identifier)
    try:
        code = service.issue_temporary_code(app_settings(), r, customer, code)
    except service.CustomerError as exc:
        raise click.ClickException(str(exc).replace("the temporary code", "--code")) from exc
    if as_json:
        click.echo(json.dumps({"identifier": identifier, "temporary_password": code}))
    else:
        click.echo(code)


@customers.command("unlock")
@click.option("--realm", required=True)
@click.option("--identifier", required=True)
def unlock(realm: str, identifier: str) -> None:
    """Lift a lockout (temporary or permanent) after checking who is asking."""
    r = realm_info(realm)
    _customer(r, identifier)
    # The operation the console and the API call, as the system principal.
    ops.unlock(staff.SYSTEM_PRINCIPAL, r, identifier)
    db.session.commit()
    click.echo(f"customer {identifier} unlocked")


@customers.command("disable")
@click.option("--realm", required=True)
@click.option("--identifier", required=True)
def disable(realm: str, identifier: str) -> None:
    """Disable a customer: every session, token and sign-in in progress ends at once, on
    every instance (nothing about a customer is cached)."""
    r = realm_info(realm)
    _customer(r, identifier)
    ops.set_enabled(staff.SYSTEM_PRINCIPAL, app_settings(), r, identifier, False)
    click.echo(f"customer {identifier} disabled")


@customers.command("enable")
@click.option("--realm", required=True)
@click.option("--identifier", required=True)
def enable(realm: str, identifier: str) -> None:
    """Enable a disabled customer again (they sign in anew)."""
    r = realm_info(realm)
    _customer(r, identifier)
    ops.set_enabled(staff.SYSTEM_PRINCIPAL, app_settings(), r, identifier, True)
    click.echo(f"customer {identifier} enabled")


@customers.command("purge-deleted")
@click.option("--json", "as_json", is_flag=True)
def purge_deleted(as_json: bool) -> None:
    """Erase the accounts whose deletion grace period is over (every realm): personal
    data goes, the identifier and dates stay, apps get a back-channel logout and the
    admin API a ``customer_deleted`` event. Safe to run often (cron, the mail worker)."""
    done = deletion.purge_due(app_settings())
    rows = [{"realm": p.realm, "identifier": p.identifier, "apps_notified": p.apps_notified}
            for p in done]
    echo(rows, as_json, "\n".join(f"{r['realm']}\t{r['identifier']}\terased" for r in rows)
         or "nothing to purge")
