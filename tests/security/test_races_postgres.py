"""Issue 9, items 3 and 6: races with real concurrent requests on PostgreSQL.

A real threaded HTTP server (one thread per request) on a PostgreSQL database of its own;
N clients released together by a barrier fire the same guess, code or refresh token.
"""

from __future__ import annotations

import base64
import time

import requests

from idp.core.models import AuditEvent, Token
from idp.extensions import db

from .conftest import (
    PASSWORD,
    REALM,
    RP,
    RP_SECRET,
    Browser,
    all_at_once,
    customer_of,
    login_session,
    make_customer,
    set_brute_force,
)

TOKEN = f"/realms/{REALM}/protocol/openid-connect/token"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"rp:{RP_SECRET}".encode()).decode()}
CODE = "482913"


def _failed(app, customer_id: int, reason: str) -> int:
    with app.app_context():
        rows = db.session.execute(db.select(AuditEvent).filter_by(
            event="login_failed", customer_id=customer_id)).scalars()
        return sum(1 for r in rows if r.detail.get("reason") == reason)


def test_concurrent_wrong_temporary_codes_lock_after_exactly_the_maximum(live):
    """Before: ``is_locked`` was read before the slow hash and ``failed_attempts += 1``
    computed in Python, so 30 simultaneous guesses all compared their code and wrote the
    same +1: the "permanent lock after 10 wrong codes" allowed ~10 x concurrency guesses.
    Now each attempt is counted atomically (UPDATE ... RETURNING) before the compare:
    at most 10 codes are compared, the account is locked for good (one audit event), and
    the right code fails afterwards."""
    runner = live.app.test_cli_runner()
    make_customer(runner, identifier="300001", password=None, email=None, verified=False)
    result = runner.invoke(args=["customers", "set-temporary-password", "--realm", REALM,
                                 "--identifier", "300001", "--code", CODE])
    assert result.exit_code == 0, result.output
    # Only the temporary-code maximum counts here (no growing waits to hide the race).
    set_brute_force(live.app, failure_factor=1000, temporary_code_max_failures=10)
    browsers = [login_session(live) for _ in range(30)]

    def guess(i: int) -> int:
        http, csrf = browsers[i]
        resp = http.post(live.url(f"/realms/{REALM}/login"), timeout=60,
                         allow_redirects=False,
                         data={"login": "300001", "password": f"{100000 + i:06d}",
                               "csrf_token": csrf})
        return resp.status_code

    statuses = all_at_once(30, guess)
    assert statuses == [401] * 30, statuses
    with live.app.app_context():
        customer = customer_of("300001")
        assert customer.locked_permanently
        # Every attempt that got past the lock check was counted (no lost increment; one
        # that loaded the row after the lock was committed is refused uncounted)...
        assert 10 <= customer.temporary_failures == customer.failed_attempts <= 30
        cid = customer.id
        locks = db.session.execute(db.select(AuditEvent).filter_by(
            event="account_locked", customer_id=cid)).scalars().all()
        assert [e.detail.get("permanent") for e in locks] == [True]  # one lock, one event
    # ...and at most the maximum of codes actually compared (the rest refused unchecked;
    # an attempt that sees the lock committed by a faster one is refused too).
    compared = _failed(live.app, cid, "bad_password")
    assert 1 <= compared <= 10
    assert compared + _failed(live.app, cid, "locked") == 30
    http, csrf = login_session(live)
    right = http.post(live.url(f"/realms/{REALM}/login"), allow_redirects=False, timeout=30,
                      data={"login": "300001", "password": CODE, "csrf_token": csrf})
    assert right.status_code == 401


def test_concurrent_wrong_passwords_are_each_counted(live):
    """Before: parallel failures each wrote ``failed_attempts = old + 1`` (lost updates),
    so 25 simultaneous wrong passwords left a count of a few. Now: exactly 25."""
    make_customer(live.app.test_cli_runner(), identifier="300002", email=None, verified=False)
    set_brute_force(live.app, failure_factor=1000)
    browsers = [login_session(live) for _ in range(25)]

    def guess(i: int) -> int:
        http, csrf = browsers[i]
        return http.post(live.url(f"/realms/{REALM}/login"), timeout=60, allow_redirects=False,
                         data={"login": "300002", "password": f"wrong-{i}",
                               "csrf_token": csrf}).status_code

    assert all_at_once(25, guess) == [401] * 25
    with live.app.app_context():
        customer = customer_of("300002")
        assert customer.failed_attempts == 25
        cid = customer.id
    assert _failed(live.app, cid, "bad_password") == 25


def _code(live) -> str:
    make_customer(live.app.test_cli_runner(), identifier="300003")
    flow = Browser(live.app.test_client())
    params = flow.code_flow(login="300003", password=PASSWORD, scope="openid offline_access")
    return params["code"]


def test_concurrent_code_redemption_has_one_winner_and_reuse_revokes(live):
    """Before: a SELECT then ``used_at = now`` without ``WHERE used_at IS NULL``: two
    simultaneous redemptions both got tokens and reuse detection never fired. Now a
    compare-and-swap: exactly one of 10 wins; the losers count as reuse, which revokes
    what the code produced (the winner's refresh token is refused afterwards)."""
    code = _code(live)

    def redeem(_i: int) -> requests.Response:
        return requests.post(live.url(TOKEN), headers=BASIC, timeout=60, data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": RP})

    answers = all_at_once(10, redeem)
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] + [400] * 9, statuses
    assert all(r.json()["error"] == "invalid_grant" for r in answers if r.status_code == 400)
    winner = next(r.json() for r in answers if r.status_code == 200)
    with live.app.app_context():
        rows = db.session.execute(db.select(Token)).scalars().all()
        assert len(rows) == 1 and rows[0].revoked_at is not None
        reused = db.session.execute(db.select(AuditEvent).filter_by(
            event="code_reused")).scalars().all()
        assert len(reused) == 9
    again = requests.post(live.url(TOKEN), headers=BASIC, timeout=30, data={
        "grant_type": "refresh_token", "refresh_token": winner["refresh_token"]})
    assert again.status_code == 400


def test_concurrent_refresh_has_one_winner_and_reuse_revokes_the_family(live):
    """Before: ``rotated_at`` set without ``WHERE rotated_at IS NULL``: simultaneous uses of
    one refresh token all got new tokens. Now exactly one of 10 wins; the others are reuse,
    which revokes the whole family, the winner's new refresh token included."""
    code = _code(live)
    first = requests.post(live.url(TOKEN), headers=BASIC, timeout=30, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": RP}).json()

    def refresh(_i: int) -> requests.Response:
        return requests.post(live.url(TOKEN), headers=BASIC, timeout=60, data={
            "grant_type": "refresh_token", "refresh_token": first["refresh_token"]})

    answers = all_at_once(10, refresh)
    assert sorted(r.status_code for r in answers) == [200] + [400] * 9
    winner = next(r.json() for r in answers if r.status_code == 200)
    with live.app.app_context():
        rows = db.session.execute(db.select(Token)).scalars().all()
        assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)
        assert len({r.family_id for r in rows}) == 1
    after = requests.post(live.url(TOKEN), headers=BASIC, timeout=30, data={
        "grant_type": "refresh_token", "refresh_token": winner["refresh_token"]})
    assert after.status_code == 400


def test_concurrent_wrong_totp_codes_are_each_counted_and_lock_once(live):
    """Before: ``failures = failures + 1`` was computed in Python after the compare, so
    parallel wrong codes all read the same count and wrote the same +1: twelve at once
    left the account unlocked with one failure. Now each code reserves its failure first
    (UPDATE … RETURNING): every attempt has its own count, at most five codes are
    compared, the account is locked once."""
    import threading

    import pyotp

    from idp.core import staff, totp
    from idp.core.models import Customer

    app = live.app
    with app.app_context():
        cfg = app.extensions["idp.settings"]
        realm = staff.ensure_staff_realm(cfg)
        member = staff.create_member(cfg, realm, "guard@agence.example", super_admin=True)
        secret = totp.pending_secret(cfg, member.account)
        assert totp.confirm(cfg, member.account, pyotp.TOTP(secret).now()) is not None
        db.session.commit()
        cid = member.customer_id
        right = {pyotp.TOTP(secret).at(time.time() + d * totp.STEP_SECONDS)
                 for d in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1000) if f"{n:06d}" not in right)
    count = 12
    barrier = threading.Barrier(count)
    results: list[bool | None] = [None] * count

    def attempt(i: int) -> None:
        with app.app_context():
            customer = db.session.get(Customer, cid)
            barrier.wait()
            results[i] = totp.verify(cfg, customer, wrong, lock_seconds=900)
            db.session.commit()
            db.session.remove()

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [False] * count
    with app.app_context():
        customer = db.session.get(Customer, cid)
        assert customer.locked_until is not None  # locked (before: never, 1 failure kept)
        events = db.session.execute(db.select(AuditEvent).filter_by(
            customer_id=cid)).scalars().all()
        failed = [e.detail["failures"] for e in events if e.event == "totp_failed"]
        locks = [e for e in events if e.event == "totp_locked"]
    assert len(locks) == 1
    assert len(failed) == len(set(failed))  # each compared code saw its own count
    assert max(failed) == totp.MAX_FAILURES and len(failed) <= totp.MAX_FAILURES
