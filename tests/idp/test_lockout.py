"""Brute force: per-account waits, permanent lock of temporary codes, per-IP limits."""

from __future__ import annotations

from .conftest import REALM, make_customer
from .journey_helpers import customer_row, sign_in


def test_growing_wait_after_five_failures_same_answer(app, client, runner):
    make_customer(runner)
    for _ in range(5):
        assert sign_in(client, "100001", "bad").status_code == 401
    row = customer_row(app, "100001")
    assert row.locked_until is not None
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
