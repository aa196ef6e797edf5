"""Brute force: per-account waits, permanent lock of temporary codes, per-IP limits."""

from __future__ import annotations

from .conftest import REALM, make_customer
from .journey_helpers import customer_row, sign_in


def _lock_seconds(app, identifier: str) -> float:
    from idp.core.models import utcnow

    row = customer_row(app, identifier)
    assert row.locked_until is not None
    return (row.locked_until - utcnow()).total_seconds()


def _unlock_clock(app, identifier: str) -> None:
    """Let the current wait run out (move the lock into the past, keep the count)."""
    from datetime import timedelta

    from idp.core.db import db
    from idp.core.models import Customer, utcnow

    with app.app_context():
        row = db.session.execute(db.select(Customer).filter_by(identifier=identifier)).scalar_one()
        row.locked_until = utcnow() - timedelta(seconds=1)
        db.session.commit()


def test_growing_wait_after_five_failures_same_answer(app, client, runner):
    make_customer(runner)
    for _ in range(5):
        assert sign_in(client, "100001", "bad").status_code == 401
    first = _lock_seconds(app, "100001")
    assert 50 < first <= 60  # wait_increment_seconds
    _unlock_clock(app, "100001")
    assert sign_in(client, "100001", "bad").status_code == 401
    second = _lock_seconds(app, "100001")
    assert 110 < second <= 120  # doubled
    _unlock_clock(app, "100001")
    sign_in(client, "100001", "bad")
    assert 230 < _lock_seconds(app, "100001") <= 240
    locked = sign_in(client, "100001", "Bonjour-2026!")
    unknown = sign_in(client, "nobody", "Bonjour-2026!")
    assert locked.status_code == unknown.status_code == 401
    assert "Identifiant ou mot de passe incorrect." in locked.text


def test_temporary_code_locks_for_good(app, client, runner):
    from .journey_helpers import set_realm_settings

    set_realm_settings(app, brute_force={"failure_factor": 100,
                                         "temporary_code_max_failures": 3})
    make_customer(runner, identifier="100002", password=None, email=None, verified=False,
                  temporary_password="123456")
    for _ in range(3):
        sign_in(client, "100002", "000000")
    assert customer_row(app, "100002").locked_permanently
    assert sign_in(client, "100002", "123456").status_code == 401
    runner.invoke(args=["customers", "unlock", "--realm", REALM, "--identifier", "100002"])
    assert sign_in(client, "100002", "123456").status_code == 302
