"""A password sign-in is the argon2id hash plus the statements the flow needs: the
customer read once (the commits of the lockout bookkeeping do not make the next step
read it again), the sign-in state written without a read, a known browser one UPDATE."""

from __future__ import annotations

from sqlalchemy import event

from tests.support.sign_in import REALM, csrf_from

from .conftest import make_customer


def _sign_in_statements(app, client) -> list[str]:
    from idp.extensions import db

    page = client.get(f"/realms/{REALM}/login")
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        resp = client.post(f"/realms/{REALM}/login", data={
            "login": "100001", "password": "Bonjour-2026!", "csrf_token": csrf_from(page.text)})
    finally:
        event.remove(engine, "before_cursor_execute", note)
    assert resp.status_code == 302 and "/account" in resp.headers["Location"], resp.text
    return seen


def test_a_sign_in_from_a_known_browser_reads_the_customer_once(app, runner):
    make_customer(runner)
    browser = app.test_client()
    _sign_in_statements(app, browser)  # the browser becomes known
    seen = _sign_in_statements(app, browser)
    assert len([s for s in seen if s.startswith("SELECT customer.")]) == 1, seen
    assert not [s for s in seen if s.startswith("SELECT interaction.")], seen
    assert [s.split()[0] for s in seen if "known_device" in s] == ["UPDATE"], seen
    # customer: read, reserve, give back; the state: written, bound; the browser's previous
    # SSO session: read, ended; the new one, its audit event; the device; completion.
    assert len(seen) <= 11, seen


def test_a_wrong_password_still_counts_before_the_compare(app, runner):
    """The reservation is committed before the hash; a wrong password keeps the count."""
    from idp.core.models import Customer
    from idp.extensions import db

    make_customer(runner)
    client = app.test_client()
    page = client.get(f"/realms/{REALM}/login")
    resp = client.post(f"/realms/{REALM}/login", data={
        "login": "100001", "password": "wrong", "csrf_token": csrf_from(page.text)})
    assert resp.status_code == 401
    with app.app_context():
        row = db.session.execute(db.select(Customer).filter_by(identifier="100001")
                                 ).scalar_one()
        assert row.failed_attempts == 1 and row.last_failure_at is not None
