"""``idp admins ...`` (agency staff accounts) and ``idp audit purge`` (retention).

The first super-admin can only come from here: ``idp admins create --email E
--super-admin`` creates the staff realm if needed (password + mandatory TOTP, 30-minute
idle sessions) and prints a one-time enrolment link.
"""

from __future__ import annotations

import click
from flask.cli import AppGroup

from ..core import staff, totp
from ..core.db import db
from ..core.operations import audit_log
from ..web.context import app_settings
from .common import echo

admins = AppGroup("admins", help="Agency staff of the console and the admin API.")
audit_group = AppGroup("audit", help="The audit trail.")


@admins.command("create")
@click.option("--email", required=True)
@click.option("--super-admin", is_flag=True, help="Every realm, plus staff and platform.")
@click.option("--realm", "realms", multiple=True, help="Realm-admin of REALM (repeatable).")
@click.option("--valid-hours", default=72, show_default=True, type=click.IntRange(1, 24 * 14))
@click.option("--json", "as_json", is_flag=True)
def create(email: str, super_admin: bool, realms: tuple[str, ...], valid_hours: int,
           as_json: bool) -> None:
    """Create a staff member and print their one-time enrolment link."""
    cfg = app_settings()
    staff.require(staff.SYSTEM_PRINCIPAL, None, staff.Action.STAFF_MANAGE)
    try:
        staff_realm = staff.ensure_staff_realm(cfg)
        member = staff.create_member(cfg, staff_realm, email, super_admin=super_admin,
                                     realms=realms, created_by="cli")
        link = staff.enrolment_link(cfg, member, valid_hours)
    except staff.StaffError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    role = staff.SUPER_ADMIN if super_admin else f"{staff.REALM_ADMIN} of {', '.join(realms)}"
    echo({"email": member.email, "role": staff.SUPER_ADMIN if super_admin
          else staff.REALM_ADMIN, "realms": sorted(realms), "enrolment_link": link},
         as_json, f"staff member {member.email} created ({role})\n"
         f"one-time enrolment link (valid {valid_hours} h, shown once):\n{link}")


@admins.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_(as_json: bool) -> None:
    staff.require(staff.SYSTEM_PRINCIPAL, None, staff.Action.STAFF_MANAGE)
    rows = [{"email": m.email, "super_admin": m.super_admin,
             "realms": sorted(g.realm.slug for g in m.grants),
             "totp": totp.enrolled(m.customer_id), "enabled": m.account.enabled}
            for m in staff.members()]
    echo(rows, as_json, "\n".join(
        f"{r['email']}\t{'super-admin' if r['super_admin'] else ','.join(r['realms'])}"
        f"\ttotp={'yes' if r['totp'] else 'no'}" for r in rows) or "no staff member")


@admins.command("enrolment-link")
@click.option("--email", required=True)
@click.option("--reset-totp", is_flag=True,
              help="Lost phone: forget the TOTP and the password, end every session and "
                   "refresh token; only the link printed enrols anew.")
@click.option("--valid-hours", default=72, show_default=True, type=click.IntRange(1, 24 * 14))
def enrolment_link(email: str, reset_totp: bool, valid_hours: int) -> None:
    """A new one-time link (new password, and a new TOTP with --reset-totp)."""
    cfg = app_settings()
    staff.require(staff.SYSTEM_PRINCIPAL, None, staff.Action.STAFF_MANAGE)
    member = staff.find_member(email)
    if member is None:
        raise click.ClickException(f"unknown staff member: {email}")
    if reset_totp:
        # Password, TOTP, sessions and refresh tokens all end: only this link enrols.
        link = staff.reset_totp(cfg, member, valid_hours)
    else:
        link = staff.enrolment_link(cfg, member, valid_hours)
        db.session.commit()
    click.echo(link)


@audit_group.command("purge")
@click.option("--days", type=click.IntRange(0), default=None,
              help="Override every realm's audit_retention_days (0: keep everything).")
@click.option("--json", "as_json", is_flag=True)
def purge(days: int | None, as_json: bool) -> None:
    """Delete audit events older than each realm's retention (audit_retention_days)."""
    # The CLI acts as the system principal, through the same permission table.
    deleted = audit_log.purge(staff.SYSTEM_PRINCIPAL, days=days)
    db.session.commit()
    echo(deleted, as_json, "\n".join(f"{slug or '(platform)'}: {n} deleted"
                                     for slug, n in sorted(deleted.items())))
