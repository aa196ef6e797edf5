"""Audit event classes are declared (idp.core.audit.EVENTS), not guessed from substrings:
before, ``admin_customer_unlocked`` contained "locked" and showed as a failure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from idp.core import audit
from idp.core.operations import audit_log
from idp.extensions import db

from .conftest import REALM, STAFF

ROOT = Path(__file__).resolve().parents[2]


def recorded_event_names() -> dict[str, str]:
    """Every literal event name passed to ``audit.record`` in the idp (also through a
    module constant or a conditional expression), with one file recording it."""
    names: dict[str, str] = {}
    for path in sorted((ROOT / "idp").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        constants = {t.id: n.value.value for n in ast.walk(tree)
                     if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                     for t in n.targets if isinstance(t, ast.Name)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record" and node.args):
                continue
            first = node.args[0]
            options = [first.body, first.orelse] if isinstance(first, ast.IfExp) else [first]
            for option in options:
                value = (option.value if isinstance(option, ast.Constant)
                         else constants.get(option.id) if isinstance(option, ast.Name)
                         else None)
                assert isinstance(value, str), f"{path}: event name not a literal"
                names.setdefault(value, str(path.relative_to(ROOT)))
    return names


def test_every_recorded_event_is_declared():
    names = recorded_event_names()
    assert "admin_customer_unlocked" in names  # the scan sees the real call sites
    assert {n: w for n, w in names.items() if n not in audit.EVENTS} == {}


@pytest.mark.parametrize("event, klass", [
    ("admin_customer_unlocked", "change"), ("login_failed", "failure"),
    ("account_locked", "security"), ("login", "success"), ("totp_reset", "change"),
    ("refresh_token_reused", "security"), ("passkey_remove_refused", "failure"),
])
def test_classes_are_the_declared_ones(event, klass):
    assert audit.event_class(event) == klass


def test_an_undeclared_event_is_refused(app):
    with app.app_context(), pytest.raises(audit.UnknownEvent):
        audit.record("admin_customer_unlokced")


def test_the_audit_log_shows_an_unlock_as_a_change(app, runner, customers_in_both, boss):
    result = runner.invoke(args=["customers", "unlock", "--realm", REALM,
                                 "--identifier", "100001"])
    assert result.exit_code == 0, result.output
    page = boss.client.get("/admin/console/audit?event=admin_customer_unlocked")
    assert page.status_code == 200
    assert "modification" in page.text and "échec" not in page.text
    with app.app_context():
        from idp.core import staff

        lines, _next = audit_log.search(staff.SYSTEM_PRINCIPAL, STAFF,
                                        audit_log.Filters(event="admin_customer_unlocked"))
        db.session.rollback()
    assert [line.outcome for line in lines] == ["change"]
