"""``idp realms|clients|keys ...``: the platform's administration commands.

Admin subcommands print JSON with ``--json`` (README, Administration). They call the same core
functions as the staff console and the admin API.
"""

from __future__ import annotations

import json
from typing import Any

import click
from flask.cli import AppGroup

from ..core import audit, keys
from ..core.clients import forget_client, hash_secret, new_secret, snapshot
from ..core.db import db
from ..core.models import Client, Realm
from ..core.realm_io import RealmImportError, export_realm, import_realm, upsert_client
from ..web.context import app_settings
from .common import echo, realm_by_slug

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
    """Register a client; a confidential one gets a generated secret, shown once."""
    r = realm_by_slug(realm)
    exists = db.session.execute(
        db.select(Client).filter_by(realm_id=r.id, client_id=client_id)).scalar_one_or_none()
    if exists:
        raise click.ClickException(f"client {client_id} already exists")
    data: dict[str, Any] = {
        "client_id": client_id,
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
    try:
        _row, secret = upsert_client(app_settings().client_secret_key, r, data)
    except RealmImportError as exc:
        raise click.ClickException(str(exc)) from exc
    audit.record("admin_client_created", realm_id=r.id, client_id=client_id)
    db.session.commit()
    result = {"client_id": client_id, "client_secret": secret}
    echo(result, as_json, f"client {client_id} created" + (
        f"\nclient_secret: {secret}\n(shown once: store it now)" if secret else ""))


@clients_group.command("list")
@click.option("--realm", required=True)
@click.option("--json", "as_json", is_flag=True)
def clients_list(realm: str, as_json: bool) -> None:
    r = realm_by_slug(realm)
    rows = db.session.execute(
        db.select(Client).filter_by(realm_id=r.id).order_by(Client.client_id)).scalars()
    data = [snapshot(c).public_metadata() for c in rows]
    echo(data, as_json, "\n".join(d["client_id"] for d in data))


def _client(realm: Realm, client_id: str) -> Client:
    row = db.session.execute(
        db.select(Client).filter_by(realm_id=realm.id, client_id=client_id)).scalar_one_or_none()
    if row is None:
        raise click.ClickException(f"unknown client: {client_id}")
    return row


@clients_group.command("show")
@click.option("--realm", required=True)
@click.argument("client_id")
def clients_show(realm: str, client_id: str) -> None:
    row = _client(realm_by_slug(realm), client_id)
    click.echo(json.dumps(snapshot(row).public_metadata(), indent=2, ensure_ascii=False))


@clients_group.command("delete")
@click.option("--realm", required=True)
@click.argument("client_id")
def clients_delete(realm: str, client_id: str) -> None:
    r = realm_by_slug(realm)
    db.session.delete(_client(r, client_id))
    forget_client(r.id, client_id)
    audit.record("admin_client_deleted", realm_id=r.id, client_id=client_id)
    db.session.commit()
    click.echo(f"client {client_id} deleted")


@clients_group.command("rotate-secret")
@click.option("--realm", required=True)
@click.argument("client_id")
@click.option("--json", "as_json", is_flag=True)
def clients_rotate(realm: str, client_id: str, as_json: bool) -> None:
    """Issue a new secret (the old one stops working at once)."""
    r = realm_by_slug(realm)
    row = _client(r, client_id)
    if (row.meta or {}).get("token_endpoint_auth_method") == "none":
        raise click.ClickException("a public client has no secret")
    secret = new_secret()
    row.secret_hash = hash_secret(app_settings().client_secret_key, secret)
    forget_client(r.id, client_id)
    audit.record("admin_client_secret_rotated", realm_id=r.id, client_id=client_id)
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
    r = realm_by_slug(realm)
    row = _client(r, client_id)
    row.meta = {**(row.meta or {}), "enabled": enabled}
    forget_client(r.id, client_id)  # announced to every instance when this commits
    audit.record("admin_client_enabled" if enabled else "admin_client_disabled",
                 realm_id=r.id, client_id=client_id)
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
