"""The ``portal`` command: Flask's CLI for the portal app plus ``portal data import``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from flask.cli import FlaskGroup, with_appcontext

from . import create_app


@click.group("data")
def data_cli() -> None:
    """The portal's customer data (properties, ledger, interventions...)."""


@data_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary.")
@with_appcontext
def import_command(file: Path, as_json: bool) -> None:
    """Import FILE (JSON layout of docs/portal.md). Idempotent; bad records are reported."""
    from .data_import import import_data

    report = import_data(file.read_text(encoding="utf-8"))
    summary = report.as_dict()
    if as_json:
        click.echo(json.dumps(summary, ensure_ascii=False, indent=2))
    else:
        for kind, counts in summary["imported"].items():
            click.echo(f"{kind}: {counts['created']} created, {counts['updated']} updated, "
                       f"{counts['unchanged']} unchanged")
        for error in summary["errors"]:
            click.echo(f"{file.name}:{error['line']}: {error['record']}: {error['message']}",
                       err=True)
    if report.errors:
        sys.exit(1)


@click.group("sessions")
def sessions_cli() -> None:
    """Server-side browser sessions."""


@sessions_cli.command("purge")
@with_appcontext
def purge_sessions_command() -> None:
    """Delete expired sessions (run it daily, e.g. from cron: each instance keeps none)."""
    from .sessions import purge_expired

    click.echo(f"{purge_expired()} expired session(s) deleted")


def _create_app() -> object:
    return create_app()


cli = FlaskGroup(create_app=_create_app, help="Espace Client portal.")
cli.add_command(data_cli)
cli.add_command(sessions_cli)


def main() -> None:
    """Console-script entry point ``portal``."""
    cli(prog_name="portal")
