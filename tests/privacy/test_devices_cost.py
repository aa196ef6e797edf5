"""Known devices: a sign-in costs the same few statements whatever the number of browsers
the customer ever used (cookie-less sign-ins used to load every device row, each time)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

from sqlalchemy import event

from tests.idp.conftest import REALM

from .helpers import UA_CHROME_WIN, UA_FIREFOX, marie


@contextmanager
def _statements() -> Iterator[list[str]]:
    from idp.extensions import db

    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)


def _setup(app, runner, rows: int):
    """Marie with ``rows`` browsers already known (the oldest first); returns what
    :func:`devices.signed_in` needs."""
    from idp.core import devices
    from idp.core.models import Customer, KnownDevice, utcnow
    from idp.core.realms import find_realm
    from idp.extensions import db

    marie(runner)
    customer = db.session.execute(db.select(Customer).filter_by(identifier="100001")
                                  ).scalar_one()
    now = utcnow()
    cookies = [devices.new_cookie() for _ in range(rows)]
    for i, cookie in enumerate(cookies):
        seen = now - timedelta(days=rows - i)
        db.session.add(KnownDevice(realm_id=customer.realm_id, customer_id=customer.id,
                                   device_hash=devices.digest(cookie), label="Firefox, Linux",
                                   first_seen=seen, last_seen=seen))
    db.session.commit()
    db.session.refresh(customer)  # loaded, as it is when a sign-in completes
    return app.extensions["idp.settings"], find_realm(REALM), customer, cookies


def _count(customer_id: int) -> int:
    from idp.core.models import KnownDevice
    from idp.extensions import db

    return db.session.execute(db.select(db.func.count()).select_from(KnownDevice)
                              .filter_by(customer_id=customer_id)).scalar_one()


def _new_browser_statements(app, runner, rows: int) -> list[str]:
    from idp.core import devices
    from idp.extensions import db

    with app.app_context():
        cfg, realm, customer, _cookies = _setup(app, runner, rows)
        with _statements() as seen:
            devices.signed_in(cfg, realm, customer, None, UA_CHROME_WIN, "10.0.0.1",
                              first_sign_in=False)
            db.session.commit()
        return seen


def _devices_part(statements: list[str]) -> list[str]:
    return [s for s in statements if "known_device" in s]


def test_a_known_browser_is_one_update_of_its_own_row(app, runner):
    from idp.core import devices
    from idp.core.models import KnownDevice
    from idp.extensions import db

    with app.app_context():
        cfg, realm, customer, cookies = _setup(app, runner, 30)
        with _statements() as seen:
            result = devices.signed_in(cfg, realm, customer, cookies[3], UA_FIREFOX,
                                       "10.0.0.1", first_sign_in=False)
        assert result.cookie == cookies[3] and result.mail is None
        assert len(seen) == 1 and seen[0].startswith("UPDATE known_device"), seen
        db.session.commit()
        row = db.session.execute(db.select(KnownDevice).filter_by(
            device_hash=devices.digest(cookies[3]))).scalar_one()
        assert row.last_seen > row.first_seen  # seen again now
        assert _count(customer.id) == 30


def test_a_new_browser_reads_no_device_row(app, runner):
    few = _devices_part(_new_browser_statements(app, runner, 3))
    # One read (how many, mailed today?) and the new row; no device row is loaded.
    assert len(few) == 2 and few[0].startswith("SELECT") and few[1].startswith("INSERT"), few


def test_many_known_browsers(app, runner):
    """The cap: beyond :data:`MAX_DEVICES`, the least recently seen are forgotten by one
    statement, and the sign-in reads no device row."""
    from idp.core import devices
    from idp.extensions import db

    many = _devices_part(_new_browser_statements(app, runner, devices.MAX_DEVICES + 250))
    assert [s.split()[0] for s in many] == ["SELECT", "DELETE", "INSERT"], many
    with app.app_context():
        from idp.core.models import Customer

        customer = db.session.execute(db.select(Customer).filter_by(identifier="100001")
                                      ).scalar_one()
        assert _count(customer.id) == devices.MAX_DEVICES


def test_the_cap_forgets_the_least_recently_seen(app, runner):
    from idp.core import devices
    from idp.core.models import KnownDevice
    from idp.extensions import db

    with app.app_context():
        cfg, realm, customer, cookies = _setup(app, runner, devices.MAX_DEVICES)
        # The oldest browser signs in again: now the most recent, it is kept.
        devices.signed_in(cfg, realm, customer, cookies[0], UA_FIREFOX, None,
                          first_sign_in=False)
        db.session.commit()
        fresh = devices.signed_in(cfg, realm, customer, None, UA_CHROME_WIN, None,
                                  first_sign_in=False)
        db.session.commit()
        kept = set(db.session.execute(db.select(KnownDevice.device_hash).filter_by(
            customer_id=customer.id)).scalars())
        assert len(kept) == devices.MAX_DEVICES
        assert devices.digest(cookies[0]) in kept and devices.digest(fresh.cookie) in kept
        assert devices.digest(cookies[1]) not in kept  # the least recently seen went


def test_a_new_browser_is_still_mailed_once_a_day_with_many_known(app, runner, smtp):
    from idp.core import devices
    from idp.extensions import db

    with app.app_context():
        cfg, realm, customer, _cookies = _setup(app, runner, devices.MAX_DEVICES + 5)
        first = devices.signed_in(cfg, realm, customer, None, UA_CHROME_WIN, None,
                                  first_sign_in=False)
        db.session.commit()
        again = devices.signed_in(cfg, realm, customer, None, UA_CHROME_WIN, None,
                                  first_sign_in=False)
        db.session.commit()
        assert first.mail is not None and again.mail is None
