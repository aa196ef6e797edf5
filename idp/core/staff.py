"""Agency staff and what each may do: the one permission model of the console, the admin
API and the ``idp admins`` commands.

Staff are never customers of an agency realm. Each staff member is an account (a
:class:`~idp.core.models.Customer` row) of the **staff realm** (``AppSettings.staff_realm``,
``agency-staff`` by default), signing in through the very same sign-in machine with a
password and a mandatory TOTP (the realm's ``otp_required``); a :class:`StaffMember` row
beside it says what the account may manage:

* ``super-admin``: every customer realm, plus the staff and platform actions;
* ``realm-admin`` of one or more customer realms (:class:`StaffRealm` rows): those realms
  only, never another one, never the staff realm.

Callers build a :class:`Principal` once per request (:func:`principal_of` for a signed-in
staff account, :func:`service_principal` for a machine client of the admin API) and ask
:func:`require` before *every* read or write::

    principal = staff.principal_of(customer, otp_at=sso.auth_time)
    staff.require(principal, "paris", staff.Action.CUSTOMERS_WRITE)   # raises PermissionDenied
    staff.require(principal, "paris", staff.Action.CLIENT_SECRET, now=time.time())  # step-up

Who may do what is ONE table, :data:`POWERS` (action × role → realm reach and step-up),
read by :func:`require` alone; the roles are the staff roles plus :data:`SERVICE` (an admin
API client) and :data:`SYSTEM` (the ``idp`` CLI, :data:`SYSTEM_PRINCIPAL`).

Sensitive actions (:data:`SENSITIVE`: rotating a client secret, deleting a client) also
need a second factor proven within :data:`STEP_UP_SECONDS` (``Principal.otp_at``);
:class:`StepUpRequired` (a :class:`PermissionDenied`) says so, so a console asks for a
TOTP code again and an API answers 403 with ``step_up_required``.

Nothing here knows HTTP; the web layers turn :class:`PermissionDenied` into 403/404.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Boolean, DateTime, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from . import actions, audit, emails, links, logout, totp
from .db import db
from .models import ActionToken, Customer, Realm, utcnow
from .realm_io import import_realm
from .realms import RealmInfo, find_realm, forget_realm, snapshot
from .settings import AppSettings

SUPER_ADMIN = "super-admin"
REALM_ADMIN = "realm-admin"
#: The roles a staff member (a :class:`StaffMember` row) may hold.
ROLES = (SUPER_ADMIN, REALM_ADMIN)
#: A machine client of the admin API (client-credentials token with admin scopes).
SERVICE = "service"
#: The ``idp`` command line: whoever runs it already holds the host and the database.
SYSTEM = "system"
#: How recent a TOTP proof must be for an action the table marks ``step_up`` (seconds).
STEP_UP_SECONDS = 5 * 60


class Action(StrEnum):
    """What a staff member (or an admin API token) may be allowed to do on a realm.

    The values double as the admin API's scope suffixes (``admin:customers:read``…).
    """

    CUSTOMERS_READ = "customers:read"       # search, customer page, pending export
    CUSTOMERS_WRITE = "customers:write"     # resend, temporary code, unlock, disable…
    CLIENTS_READ = "clients:read"
    CLIENTS_WRITE = "clients:write"         # create, edit, disable
    CLIENT_SECRET = "clients:secret"        # rotate a secret (sensitive)
    CLIENT_DELETE = "clients:delete"        # delete a client (sensitive)
    SETTINGS_READ = "settings:read"
    SETTINGS_WRITE = "settings:write"       # branding, policies, providers
    MIGRATION_READ = "migration:read"       # dashboard counts
    AUDIT_READ = "audit:read"
    # Platform actions: super-admins (and the CLI) only, whatever the realm.
    AUDIT_PURGE = "audit:purge"
    STAFF_MANAGE = "staff:manage"
    REALMS_CREATE = "realms:create"


class Reach(StrEnum):
    """Which realms a power covers."""

    ANY = "any"    # every realm (the staff realm included) and the platform-wide actions
    OWN = "own"    # the principal's own customer realms only: never another, never staff


@dataclass(frozen=True)
class Power:
    """One cell of :data:`POWERS`: where the role may act, and whether a second factor
    proven within :data:`STEP_UP_SECONDS` is needed even in a live session."""

    reach: Reach
    step_up: bool = False


_ANY, _OWN = Power(Reach.ANY), Power(Reach.OWN)
_ANY_UP, _OWN_UP = Power(Reach.ANY, step_up=True), Power(Reach.OWN, step_up=True)
#: Day-to-day administration of a realm: every role, each within its reach.
_REALM_WORK = {SUPER_ADMIN: _ANY, REALM_ADMIN: _OWN, SERVICE: _OWN, SYSTEM: _ANY}
#: Sensitive: a fresh second factor for people and machines alike. A service client never
#: has one (so never does it); the CLI's operator is already on the host.
_SENSITIVE = {SUPER_ADMIN: _ANY_UP, REALM_ADMIN: _OWN_UP, SERVICE: _OWN_UP, SYSTEM: _ANY}
#: Platform-wide: super-admins and the CLI only.
_PLATFORM = {SUPER_ADMIN: _ANY, SYSTEM: _ANY}

#: THE table of staff powers (action × role → realm reach, step-up): the console, the
#: admin API and the CLI all ask :func:`require`, which reads nothing else. A role missing
#: from an action's row may not do it anywhere. An API token's scopes narrow it further
#: (``Principal.allowed``), they never widen it.
POWERS: dict[Action, dict[str, Power]] = {
    Action.CUSTOMERS_READ: _REALM_WORK,
    Action.CUSTOMERS_WRITE: _REALM_WORK,
    Action.CLIENTS_READ: _REALM_WORK,
    Action.CLIENTS_WRITE: _REALM_WORK,
    Action.CLIENT_SECRET: _SENSITIVE,
    Action.CLIENT_DELETE: _SENSITIVE,
    Action.SETTINGS_READ: _REALM_WORK,
    Action.SETTINGS_WRITE: _REALM_WORK,
    Action.MIGRATION_READ: _REALM_WORK,
    Action.AUDIT_READ: _REALM_WORK,
    Action.AUDIT_PURGE: _PLATFORM,
    Action.STAFF_MANAGE: _PLATFORM,
    Action.REALMS_CREATE: _PLATFORM,
}

#: Actions that need a fresh second factor (step-up) for staff (derived from the table).
SENSITIVE: frozenset[Action] = frozenset(
    a for a, row in POWERS.items() if any(p.step_up for p in row.values()))
#: Actions no realm-bound role has (derived from the table).
PLATFORM: frozenset[Action] = frozenset(
    a for a, row in POWERS.items() if REALM_ADMIN not in row and SERVICE not in row)


class PermissionDenied(Exception):
    """The principal may not do ``action`` on ``realm``. The message is for logs only:
    a web layer answers 404 for a realm the principal may not even see, else 403."""

    def __init__(self, action: str, realm: str | None, reason: str = "forbidden") -> None:
        super().__init__(f"{reason}: {action} on {realm or '*'}")
        self.action = action
        self.realm = realm
        self.reason = reason


class StepUpRequired(PermissionDenied):
    """Allowed, but the second factor is too old: ask for a TOTP code again."""

    def __init__(self, action: str, realm: str | None) -> None:
        super().__init__(action, realm, "step_up_required")


class StaffError(ValueError):
    """A staff administration request the data refuses (``code`` is stable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# --- tables -------------------------------------------------------------------------------

class StaffMember(db.Model):
    """The roles of one staff-realm account. No row: the account has no power at all."""

    __tablename__ = "staff_member"
    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(
        ForeignKey("customer.id", ondelete="CASCADE"), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    super_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by: Mapped[str | None] = mapped_column(String(320), nullable=True)

    account: Mapped[Customer] = relationship(lazy="joined")
    grants: Mapped[list[StaffRealm]] = relationship(
        lazy="selectin", cascade="all, delete-orphan", back_populates="member")


class StaffRealm(db.Model):
    """A ``realm-admin`` grant: this staff member manages this customer realm."""

    __tablename__ = "staff_realm"
    __table_args__ = (UniqueConstraint("staff_id", "realm_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff_member.id", ondelete="CASCADE"),
                                          index=True)
    realm_id: Mapped[int] = mapped_column(ForeignKey("realm.id", ondelete="CASCADE"),
                                          index=True)
    role: Mapped[str] = mapped_column(String(32), default=REALM_ADMIN)

    member: Mapped[StaffMember] = relationship(back_populates="grants")
    realm: Mapped[Realm] = relationship(lazy="joined")


# --- the principal ------------------------------------------------------------------------

@dataclass(frozen=True)
class Principal:
    """Who is asking, detached from the session: what every permission check takes.

    ``actor`` is what the audit trail records (``staff:<email>``, ``client:<id>`` or
    ``system:cli``); ``realms`` the slugs a realm-admin manages or a service client
    administers (ignored for a super-admin and the CLI); ``otp_at`` the epoch second of
    the last proven second factor (None: never, e.g. a service client, which therefore can
    never do a step-up action); ``allowed`` narrows the actions further (an API token's
    scopes; None: no narrowing); ``kind`` says which column of :data:`POWERS` applies
    (``staff``: the member's role; :data:`SERVICE`; :data:`SYSTEM`).
    """

    actor: str
    super_admin: bool = False
    realms: frozenset[str] = frozenset()
    otp_at: int | None = None
    staff_id: int | None = None
    allowed: frozenset[Action] | None = field(default=None)
    kind: str = "staff"

    @property
    def role(self) -> str:
        """The column of :data:`POWERS` this principal reads."""
        if self.kind in (SERVICE, SYSTEM):
            return self.kind
        return SUPER_ADMIN if self.super_admin else REALM_ADMIN


def principal_of(customer: Customer, staff_realm: str, otp_at: int | None = None,
                 ) -> Principal | None:
    """The principal of a signed-in account, or None when it is not staff.

    ``staff_realm`` is the staff realm's slug: an account of any other realm (a
    customer) is never staff, whatever rows exist. Disabled accounts have no power.
    """
    if customer is None or not customer.enabled or customer.realm.slug != staff_realm:
        return None
    member = db.session.execute(
        db.select(StaffMember).filter_by(customer_id=customer.id)).scalar_one_or_none()
    if member is None:
        return None
    return Principal(actor=f"staff:{member.email}", super_admin=member.super_admin,
                     realms=frozenset(r.realm.slug for r in member.grants),
                     otp_at=otp_at, staff_id=member.id)


def service_principal(client_id: str, realms: str | Iterable[str],
                      allowed: Iterable[Action]) -> Principal:
    """A machine client of the admin API: its realm (or realms), the actions of its
    scopes, and no second factor (so never a step-up action)."""
    slugs = frozenset({realms} if isinstance(realms, str) else realms)
    return Principal(actor=f"client:{client_id}", realms=slugs,
                     allowed=frozenset(allowed), kind=SERVICE)


#: The CLI's principal: ``idp`` commands call the same operations as the console and the
#: API, checked against the :data:`SYSTEM` column of the table.
SYSTEM_PRINCIPAL = Principal(actor="system:cli", kind=SYSTEM)


# --- the checks ---------------------------------------------------------------------------

def power(principal: Principal, action: Action | str) -> Power | None:
    """The table's cell for this principal and action (None: never allowed)."""
    return POWERS[Action(action)].get(principal.role)


def _within(principal: Principal, reach: Reach, realm_slug: str | None,
            staff_realm: str | None) -> bool:
    if reach is Reach.ANY:
        return True
    return (realm_slug is not None and realm_slug in principal.realms
            and realm_slug != staff_realm)


def can_see(principal: Principal, realm_slug: str | None, staff_realm: str | None = None
            ) -> bool:
    """May the principal see this realm at all (list it, open its pages)? True when any
    power of its role reaches it."""
    return any(_within(principal, row[principal.role].reach, realm_slug, staff_realm)
               for row in POWERS.values() if principal.role in row)


def can_manage(principal: Principal, realm_slug: str | None, action: Action | str,
               staff_realm: str | None = None) -> bool:
    """May the principal do ``action`` on ``realm_slug``? (No step-up check: see
    :func:`require`.) ``realm_slug`` None means a platform-wide action.

    Pass ``staff_realm`` so a realm-admin grant on the staff realm (which
    :func:`grant` refuses anyway) never counts.
    """
    action = Action(action)
    if principal.allowed is not None and action not in principal.allowed:
        return False
    cell = power(principal, action)
    return cell is not None and _within(principal, cell.reach, realm_slug, staff_realm)


def require(principal: Principal | None, realm_slug: str | None, action: Action | str, *,
            now: float | None = None, staff_realm: str | None = None) -> None:
    """Raise :class:`PermissionDenied` unless the table allows; :class:`StepUpRequired`
    when the cell asks for a step-up and the second factor is older than
    :data:`STEP_UP_SECONDS`."""
    action = Action(action)
    if principal is None:
        raise PermissionDenied(action, realm_slug, "not_staff")
    if not can_see(principal, realm_slug, staff_realm) and action not in PLATFORM:
        raise PermissionDenied(action, realm_slug, "unknown_realm")
    if not can_manage(principal, realm_slug, action, staff_realm):
        raise PermissionDenied(action, realm_slug)
    cell = power(principal, action)
    if cell is not None and cell.step_up and not fresh_second_factor(principal, now):
        raise StepUpRequired(action, realm_slug)


def fresh_second_factor(principal: Principal, now: float | None = None) -> bool:
    if principal.otp_at is None:
        return False
    return (now if now is not None else time.time()) - principal.otp_at <= STEP_UP_SECONDS


def _reaches_every_realm(principal: Principal) -> bool:
    return any(row[principal.role].reach is Reach.ANY
               for row in POWERS.values() if principal.role in row)


def visible_realms(principal: Principal, staff_realm: str) -> list[Realm]:
    """The customer realms the principal may open, by display name (never the staff
    realm: staff accounts are managed with ``idp admins``)."""
    q = db.select(Realm).where(Realm.slug != staff_realm).order_by(Realm.display_name)
    if not _reaches_every_realm(principal):
        q = q.where(Realm.slug.in_(sorted(principal.realms)))
    return list(db.session.execute(q).scalars())


def visible_realm_ids(principal: Principal, staff_realm: str) -> list[int] | None:
    """Realm ids for cross-realm queries (audit log); None means every realm."""
    if _reaches_every_realm(principal):
        return None
    return [r.id for r in visible_realms(principal, staff_realm)]


# --- administration (``idp admins``) -----------------------------------------------------

def find_member(email: str) -> StaffMember | None:
    return db.session.execute(
        db.select(StaffMember).filter_by(email=email.strip().lower())).scalar_one_or_none()


def create_member(cfg: AppSettings, staff_realm: RealmInfo, email: str, *,
                  super_admin: bool = False, realms: Iterable[str] = (),
                  created_by: str | None = None) -> StaffMember:
    """A new staff account without a password: it owes UPDATE_PASSWORD and
    CONFIGURE_TOTP, which the one-time enrolment link (``enrolment_link``) starts.
    The caller commits."""
    checked = emails.check(email)
    if checked.normalized is None:
        raise StaffError("invalid_email", f"invalid email: {checked.detail or checked.reason}")
    address = checked.normalized.lower()
    slugs = sorted(set(realms))
    if super_admin == bool(slugs):
        raise StaffError("invalid_roles", "give --super-admin or at least one --realm")
    if find_member(address) is not None:
        raise StaffError("exists", f"staff member {address} already exists")
    account = db.session.execute(db.select(Customer).filter_by(
        realm_id=staff_realm.id, identifier=address)).scalar_one_or_none()
    if account is None:
        account = Customer(realm_id=staff_realm.id, identifier=address, required_actions=[],
                           credential_version=0)
        db.session.add(account)
    account.set_email(address, verified=True)
    account.required_actions = [actions.UPDATE_PASSWORD, actions.CONFIGURE_TOTP]
    db.session.flush()
    member = StaffMember(customer_id=account.id, email=address, super_admin=super_admin,
                         created_by=created_by)
    db.session.add(member)
    db.session.flush()
    for slug in slugs:
        grant(member, slug, staff_realm.slug)
    audit.record("staff_created", realm_id=staff_realm.id, customer_id=account.id,
                 role=SUPER_ADMIN if super_admin else REALM_ADMIN, realms=slugs)
    return member


STAFF_REALM_SETTINGS: dict[str, object] = {
    "otp_required": True,
    "sso_session_idle": 30 * 60,        # staff sessions are short
    "sso_session_max": 10 * 3600,
    "refresh_token_lifetime": 8 * 3600,
}


def ensure_staff_realm(cfg: AppSettings) -> RealmInfo:
    """The staff realm, created on first use with password + mandatory TOTP and short
    sessions (it stays editable with ``idp realms import``)."""
    row = db.session.execute(db.select(Realm).filter_by(slug=cfg.staff_realm)
                             ).scalar_one_or_none()
    if row is None:
        row, _ = import_realm(cfg.client_secret_key, {
            "realm": cfg.staff_realm, "display_name": "Personnel des agences",
            **STAFF_REALM_SETTINGS})
    elif not (row.settings or {}).get("otp_required"):
        row.settings = {**(row.settings or {}), "otp_required": True}
        forget_realm(row.slug)
    return find_realm(row.slug) or snapshot(row)


def enrolment_link(cfg: AppSettings, member: StaffMember, hours: int = 72) -> str:
    """A one-time link (URL) where the new staff member chooses a password; the sign-in
    that follows enrols the TOTP. Only its hash is stored; a new link voids the last."""
    account = member.account
    links.supersede(account.id, links.RESET_PASSWORD)
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(ActionToken(id=links.digest(raw), customer_id=account.id,
                               kind=links.RESET_PASSWORD, email=account.email or member.email,
                               created_at=now, expires_at=now + timedelta(hours=hours)))
    audit.record("staff_enrolment_link_issued", realm_id=account.realm_id,
                 customer_id=account.id, hours=hours)
    return f"{cfg.issuer(account.realm.slug)}/action/{raw}"


def reset_totp(cfg: AppSettings, member: StaffMember, hours: int = 72) -> str:
    """Lost phone: the TOTP, the recovery codes and the password are forgotten, every
    session and refresh token of the account ends, and the one-time link returned (to
    hand over out of band) is the way to choose a new password and enrol again.

    Commits: the reset and the link are one transaction, the sessions end after it."""
    account = member.account
    totp.reset(account)
    link = enrolment_link(cfg, member, hours)
    db.session.commit()
    logout.end_all_sessions(account.id, "totp_reset", cfg.issuer(account.realm.slug))
    return link


def grant(member: StaffMember, realm_slug: str, staff_realm: str) -> StaffRealm:
    """Make ``member`` realm-admin of ``realm_slug`` (a customer realm)."""
    if realm_slug == staff_realm:
        raise StaffError("staff_realm", "the staff realm is managed by super-admins only")
    realm = db.session.execute(db.select(Realm).filter_by(slug=realm_slug)).scalar_one_or_none()
    if realm is None:
        raise StaffError("unknown_realm", f"unknown realm: {realm_slug}")
    for existing in member.grants:
        if existing.realm_id == realm.id:
            return existing
    row = StaffRealm(realm_id=realm.id, role=REALM_ADMIN)
    member.grants.append(row)
    db.session.flush()
    return row


def members() -> list[StaffMember]:
    return list(db.session.execute(db.select(StaffMember).order_by(StaffMember.email))
                .scalars())


def count_members() -> int:
    return int(db.session.execute(db.select(db.func.count()).select_from(StaffMember))
               .scalar() or 0)


__all__ = [
    "PLATFORM", "POWERS", "REALM_ADMIN", "ROLES", "SENSITIVE", "SERVICE", "STEP_UP_SECONDS",
    "SUPER_ADMIN", "SYSTEM", "SYSTEM_PRINCIPAL", "Action", "PermissionDenied", "Power",
    "Principal", "Reach", "StaffError", "StaffMember", "StaffRealm", "StepUpRequired",
    "can_manage", "can_see", "count_members", "create_member", "find_member",
    "fresh_second_factor", "grant", "members", "power", "principal_of", "require",
    "reset_totp", "service_principal", "visible_realm_ids", "visible_realms",
]
