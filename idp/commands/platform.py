"""``idp realms|clients|keys ...``: the platform's administration commands.

Admin subcommands print JSON with ``--json`` (README, Administration). The client
commands call the same permission-checked operations as the staff console and the admin
API (:mod:`idp.core.operations.clients`), as the system principal.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from ..core import audit, keys
from ..core import operations as ops
from ..core.db import db
from ..core.models import Realm
from ..core.realm_io import RealmImportError, export_realm, import_realm
from ..core.staff import PermissionDenied
from ..web.context import app_settings
from .common import echo, realm_by_slug, realm_info

realms = AppGroup("realms", help="Realms (agencies): import, export, list.")
clients_group = AppGroup("clients", help="Client applications of a realm.")
keys_group = AppGroup("keys", help="Signing keys of a realm.")


@realms.command("import")
@click.argument("file", type=click.File("r", encoding="utf-8"))
@click.option("--json", "as_json", is_flag=True)
def realms_import(file: Any, as_json: bool) -> None:
    """Create or update a realm from FILE.json (idempotent; validated, nothing written on
    an error)."""
    try:
        data = json.load(file)
        if not isinstance(data, dict):
            raise RealmImportError("the file must hold one JSON object")
        realm, secrets = import_realm(app_settings().client_secret_key, data)
    except (ValueError, RealmImportError) as exc:
        db.session.rollback()
        raise click.ClickException(f"invalid realm file {file.name}: {exc}") from exc
    audit.record("admin_realm_imported", realm_id=realm.id)
    db.session.commit()
    result = {"realm": realm.slug, "generated_client_secrets": secrets}
    lines = [f"realm {realm.slug} imported"]
    lines += [f"client {cid}: generated secret {s} (shown once)" for cid, s in secrets.items()]
    echo(result, as_json, "\n".join(lines))


@realms.command("export")
@click.argument("realm")
def realms_export(realm: str) -> None:
    """Print REALM as JSON (client secrets are never exported)."""
    click.echo(json.dumps(export_realm(realm_by_slug(realm)), ensure_ascii=False, indent=2))


@realms.command("list")
@click.option("--json", "as_json", is_flag=True)
def realms_list(as_json: bool) -> None:
    rows = db.session.execute(db.select(Realm).order_by(Realm.slug)).scalars()
    data = [{"realm": r.slug, "display_name": r.display_name, "enabled": r.enabled} for r in rows]
    echo(data, as_json, "\n".join(f"{d['realm']}\t{d['display_name']}" for d in data))


def _ops_call(fn: Any, *args: Any, **kw: Any) -> Any:
    """Run an operation as the system principal; a refusal becomes a command error."""
    try:
        return fn(ops.system_principal(), app_settings(), *args, **kw)
    except (ops.AdminError, PermissionDenied) as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None


@clients_group.command("create")
@click.option("--realm", required=True)
@click.option("--client-id", required=True)
@click.option("--redirect-uri", "redirect_uris", multiple=True)
@click.option("--post-logout-redirect-uri", "post_logout", multiple=True)
@click.option("--auth-method", default="client_secret_basic",
              type=click.Choice(["client_secret_basic", "client_secret_post", "private_key_jwt",
                                 "none"]))
@click.option("--grant-type", "grant_types", multiple=True)
@click.option("--scope", default=None)
@click.option("--backchannel-logout-uri", default=None)
@click.option("--third-party", is_flag=True, help="Ask the customer's consent.")
@click.option("--json", "as_json", is_flag=True)
def clients_create(realm: str, client_id: str, redirect_uris: tuple, post_logout: tuple,
                   auth_method: str, grant_types: tuple, scope: str | None,
                   backchannel_logout_uri: str | None, third_party: bool, as_json: bool) -> None:
    """Register a client; a confidential one gets a generated secret, shown once. Checked
    by the same operation and schema as the console and the admin API."""
    data: dict[str, Any] = {
        "redirect_uris": list(redirect_uris),
        "post_logout_redirect_uris": list(post_logout),
        "token_endpoint_auth_method": auth_method,
        "first_party": not third_party,
    }
    if grant_types:
        data["grant_types"] = list(grant_types)
    if scope:
        data["scope"] = scope
    if backchannel_logout_uri:
        data["backchannel_logout_uri"] = backchannel_logout_uri
    secret = _ops_call(ops.create_client, realm_info(realm), client_id, data)
    db.session.commit()
    result = {"client_id": client_id, "client_secret": secret}
    echo(result, as_json, f"client {client_id} created" + (
        f"\nclient_secret: {secret}\n(shown once: store it now)" if secret else ""))


@clients_group.command("list")
@click.option("--realm", required=True)
@click.option("--json", "as_json", is_flag=True)
def clients_list(realm: str, as_json: bool) -> None:
    data = [c.meta for c in ops.list_clients(ops.system_principal(), realm_info(realm))]
    echo(data, as_json, "\n".join(d["client_id"] for d in data))


@clients_group.command("show")
@click.option("--realm", required=True)
@click.argument("client_id")
def clients_show(realm: str, client_id: str) -> None:
    try:
        line = ops.get_client(ops.system_principal(), realm_info(realm), client_id)
    except ops.AdminError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(line.meta, indent=2, ensure_ascii=False))


@clients_group.command("delete")
@click.option("--realm", required=True)
@click.argument("client_id")
def clients_delete(realm: str, client_id: str) -> None:
    """Delete a client, its codes and its tokens."""
    _ops_call(ops.delete_client, realm_info(realm), client_id)
    db.session.commit()
    click.echo(f"client {client_id} deleted")


@clients_group.command("rotate-secret")
@click.option("--realm", required=True)
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def clients_rotate(realm: str, client_id: str, as_json: bool) -> None:
    """Issue a new secret (the old one stops working at once)."""
    secret = _ops_call(ops.rotate_secret, realm_info(realm), client_id)
    db.session.commit()
    echo({"client_id": client_id, "client_secret": secret}, as_json,
         f"client_secret: {secret}\n(shown once: store it now)")


@clients_group.command("disable")
@click.option("--realm", required=True)
@click.argument("client_id")
def clients_disable(realm: str, client_id: str) -> None:
    """Refuse a client everywhere at once (its tokens stop being issued and refreshed);
    ``enable`` brings it back with the same secret."""
    _set_client_enabled(realm, client_id, False)


@clients_group.command("enable")
@click.option("--realm", required=True)
@click.argument("client_id")
def clients_enable(realm: str, client_id: str) -> None:
    """Accept a disabled client again."""
    _set_client_enabled(realm, client_id, True)


def _set_client_enabled(realm: str, client_id: str, enabled: bool) -> None:
    # The cache invalidation is announced to every instance when this commits.
    _ops_call(ops.set_client_enabled, realm_info(realm), client_id, enabled)
    db.session.commit()
    click.echo(f"client {client_id} {'enabled' if enabled else 'disabled'}")


@keys_group.command("rotate")
@click.option("--realm", required=True)
@click.option("--json", "as_json", is_flag=True)
def keys_rotate(realm: str, as_json: bool) -> None:
    """New signing keys; old public keys stay published until their tokens expire."""
    r = realm_by_slug(realm)
    kids = keys.rotate(r)
    audit.record("admin_keys_rotated", realm_id=r.id, kids=kids)
    db.session.commit()
    echo({"realm": r.slug, "active_kids": kids}, as_json, "new keys: " + ", ".join(kids))
