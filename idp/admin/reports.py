"""Console: home (realms), second-factor step-up, sign-out, migration dashboard (with its
CSV of pending customers) and the audit log (with its CSV)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from flask import g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..core import logout as ending
from ..core import staff
from ..core.db import db
from ..core.operations import audit_log, migration
from ..core.staff import Action
from ..flow import otp
from ..web import limits
from ..web.context import issuer
from ..web.csv_response import csv_response
from ..web.session import current_sso, sign_out
from .blueprint import ActionForm, bp, principal, record_step_up, staff_slug, target
from .charts import bars
from .forms import CodeForm


@bp.route("/")
def home() -> Any:
    realms = staff.visible_realms(principal(), staff_slug())
    return render_template("admin/home.html", realms=realms, form=ActionForm())


def _safe_next(value: str | None) -> str:
    """Only a console page of this server (no open redirect)."""
    if value and value.startswith(bp.url_prefix + "/") and "//" not in value \
            and "\\" not in value:
        return value
    return url_for("admin.home")


@bp.route("/step-up", methods=["GET", "POST"])
def step_up() -> Any:
    """Re-prove the TOTP factor before a sensitive action (secret rotation, deletion)."""
    form = CodeForm()
    nxt = _safe_next(request.values.get("next"))
    error = None
    if form.validate_on_submit():
        if limits.failures_exhausted():
            error = _("Trop de tentatives. Veuillez réessayer dans quelques minutes.")
        elif otp.step_up_check(g.staff_account, form.code.data):
            record_step_up()
            db.session.commit()
            return redirect(nxt)
        else:
            limits.count_failure(g.realm.id)
            db.session.commit()
            error = _("Code incorrect ou déjà utilisé. Saisissez le code suivant.")
    return render_template("admin/step_up.html", form=form, next=nxt, error=error), (
        400 if error or form.errors else 200)


@bp.route("/logout", methods=["POST"])
def logout() -> Any:
    if ActionForm().validate_on_submit():
        sso = current_sso()
        if sso is not None:
            ending.end_session(sso, "staff_logout", issuer(), wait=False)
        sign_out()
        db.session.commit()
    return redirect(url_for("flow.login", realm=staff_slug()))


# --- migration dashboard ----------------------------------------------------------------------

@bp.route("/realms/<slug>/migration")
def dashboard(slug: str) -> Any:
    realm = target(slug, Action.MIGRATION_READ)
    counts = migration.counts(principal(), realm)
    series = migration.first_connections_per_day(principal(), realm, 30)
    chart = bars(series, _("Premières connexions par jour, 30 derniers jours"))
    return render_template("admin/dashboard.html", realm=realm, counts=counts,
                           series=series, chart=chart)


@bp.route("/realms/<slug>/migration/pending.csv")
def pending_csv(slug: str) -> Any:
    realm = target(slug, Action.CUSTOMERS_READ)
    rows = migration.pending_rows(principal(), realm)
    return csv_response(rows, migration.PENDING_COLUMNS, f"{realm.slug}-pending.csv")


# --- audit log ------------------------------------------------------------------------------

def _date(name: str) -> datetime | None:
    try:
        return datetime.strptime(request.args.get(name, ""), "%Y-%m-%d")
    except ValueError:
        return None


def _filters() -> audit_log.Filters:
    a = request.args
    return audit_log.Filters(realm=a.get("realm") or None, customer=a.get("customer") or None,
                             actor=a.get("actor") or None, event=a.get("event") or None,
                             since=_date("since"), until=_date("until"))


@bp.route("/audit")
def audit() -> Any:
    f = _filters()
    try:
        before = int(request.args.get("before", "0")) or None
    except ValueError:
        before = None
    lines, nxt = audit_log.search(principal(), staff_slug(), f, before)
    args = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "admin/audit.html", lines=lines, nxt=nxt, filters=f, args=args,
        realms=staff.visible_realms(principal(), staff_slug()),
        events=audit_log.event_types(principal(), staff_slug()),
        outcome_labels=_outcome_labels())


def _outcome_labels() -> dict[str, str]:
    """The words of the audit classes (declared per event in idp.core.audit.EVENTS)."""
    return {"success": _("succès"), "failure": _("échec"), "change": _("modification"),
            "security": _("sécurité"), "unknown": _("non classé")}


@bp.route("/audit.csv")
def audit_csv() -> Any:
    f = _filters()
    rows = audit_log.csv_rows(principal(), staff_slug(), f)
    first = next(rows, None)  # checks permissions before the response starts

    def all_rows() -> Iterator[dict[str, str]]:
        if first is not None:
            yield first
            yield from rows

    return csv_response(all_rows(), audit_log.CSV_COLUMNS, "audit.csv")
