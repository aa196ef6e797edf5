"""The one table of staff powers (``idp.core.staff.POWERS``): the policy written out here
by hand, checked against the core, then against each entry point (console, CLI; the admin
API's in tests/api/test_permissions.py): removing a cell from the table closes that door
in every entry point, so none of them decides on its own."""

from __future__ import annotations

import time

import pytest

from idp.core import staff
from idp.core.staff import Action

from .conftest import OTHER, REALM, STAFF

A = Action
# The policy, by hand. A: every realm (and platform-wide); O: own customer realms only;
# "+": a TOTP within 5 minutes as well; "-": never. Columns: super-admin, realm-admin,
# service client, CLI.
POLICY = {
    A.CUSTOMERS_READ: "A O O A", A.CUSTOMERS_WRITE: "A O O A",
    A.CLIENTS_READ: "A O O A", A.CLIENTS_WRITE: "A O O A",
    A.CLIENT_SECRET: "A+ O+ O+ A", A.CLIENT_DELETE: "A+ O+ O+ A",
    A.SETTINGS_READ: "A O O A", A.SETTINGS_WRITE: "A O O A",
    A.MIGRATION_READ: "A O O A", A.AUDIT_READ: "A O O A",
    A.AUDIT_PURGE: "A - - A", A.STAFF_MANAGE: "A - - A", A.REALMS_CREATE: "A - - A",
}
ROLES = (staff.SUPER_ADMIN, staff.REALM_ADMIN, staff.SERVICE, staff.SYSTEM)
TARGETS = ("own", "other", "staff", "platform")
SLUG = {"own": REALM, "other": OTHER, "staff": STAFF, "platform": None}


def principal(role: str, otp_age: int | None = 10) -> staff.Principal:
    otp_at = int(time.time()) - otp_age if otp_age is not None else None
    if role == staff.SUPER_ADMIN:
        return staff.Principal(actor="staff:boss", super_admin=True, otp_at=otp_at)
    if role == staff.REALM_ADMIN:
        return staff.Principal(actor="staff:paris", realms=frozenset({REALM}), otp_at=otp_at)
    if role == staff.SERVICE:
        return staff.service_principal("crm", REALM, list(Action))
    return staff.SYSTEM_PRINCIPAL


def expected(action: Action, role: str, target: str) -> str:
    """``allowed``, ``step_up`` or ``denied`` as the hand-written policy says."""
    cell = POLICY[action].split()[ROLES.index(role)]
    if cell == "-" or (cell.startswith("O") and target != "own"):
        return "denied"
    return "step_up" if cell.endswith("+") else "allowed"


def outcome(p: staff.Principal, target: str, action: Action) -> str:
    try:
        staff.require(p, SLUG[target], action, staff_realm=STAFF)
    except staff.StepUpRequired:
        return "step_up"
    except staff.PermissionDenied:
        return "denied"
    return "allowed"


def test_the_table_is_the_policy():
    assert set(staff.POWERS) == set(Action) == set(POLICY)
    assert {A.CLIENT_SECRET, A.CLIENT_DELETE} == staff.SENSITIVE
    assert {A.AUDIT_PURGE, A.STAFF_MANAGE, A.REALMS_CREATE} == staff.PLATFORM


@pytest.mark.parametrize("action", list(Action))
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("target", TARGETS)
def test_require_follows_the_table(action, role, target):
    want = expected(action, role, target)
    # A fresh second factor: step-up cells pass for staff; a service client has none.
    fresh = outcome(principal(role), target, action)
    has_factor = role in (staff.SUPER_ADMIN, staff.REALM_ADMIN)
    assert fresh == ("allowed" if want == "step_up" and has_factor else want)
    # A stale one: step-up cells ask for it again.
    stale = outcome(principal(role, otp_age=3600), target, action)
    assert stale == want


def _without(monkeypatch, action: Action, role: str) -> None:
    row = {k: v for k, v in staff.POWERS[action].items() if k != role}
    monkeypatch.setitem(staff.POWERS, action, row)


def test_console_reads_the_table(app, monkeypatch, paris_admin, realms):
    path = f"/admin/console/realms/{REALM}/customers"
    assert paris_admin.client.get(path).status_code == 200
    _without(monkeypatch, A.CUSTOMERS_READ, staff.REALM_ADMIN)
    assert paris_admin.client.get(path).status_code == 403


@pytest.mark.parametrize("args, action", [
    (["admins", "list"], A.STAFF_MANAGE),
    (["audit", "purge", "--days", "30"], A.AUDIT_PURGE),
    (["customers", "unlock", "--realm", REALM, "--identifier", "100001"], A.CUSTOMERS_WRITE),
    (["customers", "enable", "--realm", REALM, "--identifier", "100001"], A.CUSTOMERS_WRITE),
])
def test_cli_acts_as_the_system_principal(app, runner, monkeypatch, customers_in_both, args,
                                          action):
    assert runner.invoke(args=args).exit_code == 0
    _without(monkeypatch, action, staff.SYSTEM)
    result = runner.invoke(args=args)
    assert result.exit_code != 0
    assert isinstance(result.exception, staff.PermissionDenied)
