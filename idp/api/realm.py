"""``/admin/realms/{realm}``: realm settings and social providers (through
:mod:`idp.core.operations`, validated as the realm import validates), audit events
(:mod:`idp.core.audit_log`) and the migration's counts and pending export
(:mod:`idp.core.migration`)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Response

from ..core import operations as admin
from ..core.db import db
from ..core.operations import audit_log, migration
from ..core.staff import Action
from ..web.context import app_settings
from ..web.csv_response import csv_response
from . import schemas as s
from .spec import Api, Context


def realm_out(ctx: Context) -> s.RealmOut:
    realm = ctx.realm_info()
    name, settings, _providers = admin.realm_settings(ctx.principal, realm)
    return s.RealmOut(realm=realm.slug, display_name=name, enabled=realm.enabled,
                      settings=settings.as_dict())


def register(api: Api) -> None:
    op = api.operation

    @op("GET", "/realms/<realm>", summary="Read the realm's settings", tag="realm",
        action=Action.SETTINGS_READ, response=s.RealmOut)
    def get_realm(ctx: Context) -> s.RealmOut:
        """Display name and every setting with its value (defaults included)."""
        return realm_out(ctx)

    @op("PUT", "/realms/<realm>", summary="Change the realm's settings", tag="realm",
        action=Action.SETTINGS_WRITE, body=s.RealmUpdate, response=s.RealmOut,
        if_match=True)
    def update_realm(ctx: Context) -> s.RealmOut:
        """Only the settings given change; validated exactly as ``idp realms import``
        validates them (an unknown key or a wrong type: 422 naming it, nothing written)."""
        ctx.require_match(realm_out(ctx))
        body: s.RealmUpdate = ctx.body
        realm = ctx.realm_info()
        admin.update_settings(ctx.principal, realm, body.display_name or realm.display_name,
                              body.settings)
        db.session.commit()
        return realm_out(ctx)

    @op("GET", "/realms/<realm>/identity-providers", summary="List social providers",
        tag="identity-providers", action=Action.SETTINGS_READ,
        response=s.IdentityProviderList)
    def list_identity_providers(ctx: Context) -> s.IdentityProviderList:
        """Secrets are write-only: shown masked."""
        _name, _settings, providers = admin.realm_settings(ctx.principal, ctx.realm_info())
        return s.IdentityProviderList(items=[
            s.IdentityProviderOut(alias=p.alias, client_id=p.client_id,
                                  client_secret=p.secret_mask, enabled=p.enabled,
                                  settings=p.settings) for p in providers])

    @op("PUT", "/realms/<realm>/identity-providers/<alias>", summary="Configure a social "
        "provider", tag="identity-providers", action=Action.SETTINGS_WRITE,
        body=s.IdentityProviderIn, response=s.IdentityProviderList)
    def save_identity_provider(ctx: Context, alias: str) -> s.IdentityProviderList:
        """``alias``: google, facebook, linkedin or x. An empty ``client_secret`` keeps
        the stored one."""
        body: s.IdentityProviderIn = ctx.body
        admin.save_provider(ctx.principal, ctx.realm_info(), alias, body.client_id,
                            body.client_secret, body.enabled)
        db.session.commit()
        return list_identity_providers(ctx)

    @op("GET", "/realms/<realm>/events", summary="Audit events", tag="events",
        action=Action.AUDIT_READ, query=s.EventQuery, response=s.EventPage)
    def list_events(ctx: Context) -> s.EventPage:
        """Newest first; filters combine; ``cursor`` is the previous page's
        ``next_cursor``."""
        q: s.EventQuery = ctx.query
        filters = audit_log.Filters(realm=ctx.realm, customer=q.customer, actor=q.actor,
                                    event=q.type, since=q.since, until=q.until)
        lines, nxt = audit_log.search(ctx.principal, app_settings().staff_realm, filters,
                                      before=q.cursor, per_page=q.limit)
        return s.EventPage(items=[
            s.Event(id=line.id, time=line.at, realm=line.realm, type=line.event,
                    customer=line.customer or None, actor=line.actor or None,
                    client=line.client or None, ip=line.ip or None,
                    outcome="failure" if line.outcome == "failure" else "success",
                    detail=line.detail) for line in lines],
            next_cursor=nxt)

    @op("GET", "/realms/<realm>/events/export", summary="Audit events (CSV)", tag="events",
        action=Action.AUDIT_READ, query=s.EventExportQuery, response_media="text/csv")
    def export_events(ctx: Context) -> Response:
        """Every matching event, newest first, streamed as CSV (the console's columns;
        a cell a spreadsheet would run as a formula starts with ')."""
        q: s.EventExportQuery = ctx.query
        filters = audit_log.Filters(realm=ctx.realm, customer=q.customer, actor=q.actor,
                                    event=q.type, since=q.since, until=q.until)
        rows = audit_log.csv_rows(ctx.principal, app_settings().staff_realm, filters)
        return csv_response(_started(rows), audit_log.CSV_COLUMNS, f"events-{ctx.realm}.csv")

    @op("GET", "/realms/<realm>/migration", summary="Migration counts", tag="migration",
        action=Action.MIGRATION_READ, response=s.MigrationCounts)
    def migration_counts(ctx: Context) -> s.MigrationCounts:
        """The dashboard's counts: imported, first connection done, pending (never started
        / email not verified yet), locked, disabled, mails queued and failed."""
        c = migration.counts(ctx.principal, ctx.realm_info())
        return s.MigrationCounts(
            imported=c.imported, first_connection_done=c.done,
            pending_never_started=c.pending_never_started,
            pending_email_unverified=c.pending_started, locked=c.locked,
            disabled=c.disabled, mails_queued=c.mails_queued, mails_failed=c.mails_failed)

    @op("GET", "/realms/<realm>/migration/pending", summary="Pending customers (CSV)",
        tag="migration", action=Action.CUSTOMERS_READ, response_media="text/csv")
    def migration_pending(ctx: Context) -> Response:
        """Customers still owing their première connexion, for a reminder mailing."""
        rows = migration.pending_rows(ctx.principal, ctx.realm_info())
        return csv_response(_started(rows), migration.PENDING_COLUMNS,
                            f"pending-{ctx.realm}.csv")


def _started(rows: Iterator[dict[str, str]]) -> Iterator[dict[str, str]]:
    """Read the first row now: the permission check runs before the response starts (a
    refusal is a 403 problem, not a broken download); the rest is streamed."""
    first = next(rows, None)

    def all_rows() -> Iterator[dict[str, str]]:
        if first is not None:
            yield first
            yield from rows

    return all_rows()
