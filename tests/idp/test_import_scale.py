"""The customer import and the migration dashboard at scale, on the test database
(SQLite, or PostgreSQL with ``TEST_DATABASE_URL``): the lookup that stays an index walk,
COPY on PostgreSQL, an interrupted import resumed without duplicates, and the dashboard's
kept counts equal to a recount after imports, activations, lockouts and deletions."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import event

from idp.core import customer_counts, customer_import, links, staff
from idp.core.customer_import import import_customers
from idp.core.models import Customer, Realm, utcnow
from idp.core.operations import migration
from idp.core.realms import find_realm
from idp.extensions import db

from .conftest import REALM

HEADER = "identifier,email,given_name,family_name,temporary_password\n"
BOSS = staff.Principal(actor="staff:boss", super_admin=True)


def csv_bytes(start: int, count: int) -> bytes:
    """``count`` rows: an email for two rows in three, names, a temporary code."""
    lines = [HEADER]
    for i in range(start, start + count):
        email = f"c{i}@example.test" if i % 3 else ""
        lines.append(f"{i},{email},Prénom{i},Nom{i},{i % 1_000_000:06d}\n")
    return "".join(lines).encode()


class Interrupted(io.BytesIO):
    """A file whose reading fails once ``limit`` bytes are read (a killed import)."""

    def __init__(self, data: bytes, limit: int) -> None:
        super().__init__(data)
        self.limit = limit

    def read(self, size: int = -1) -> bytes:
        if self.tell() >= self.limit:
            raise OSError("connection to the file server lost")
        return super().read(size)

    def read1(self, size: int = -1) -> bytes:
        return self.read(size)

    def readinto(self, b) -> int:
        data = self.read(len(b))
        b[:len(data)] = data
        return len(data)


def realm_row() -> Realm:
    return db.session.execute(db.select(Realm).filter_by(slug=REALM)).scalar_one()


def settings(app):
    return app.extensions["idp.settings"]


@pytest.fixture
def small_batches(monkeypatch):
    monkeypatch.setattr(customer_import, "BATCH", 100)
    monkeypatch.setattr(customer_import, "PG_BATCH", 100)


def test_an_interrupted_import_resumes_without_duplicates(app, small_batches):
    data = csv_bytes(500_000, 1000)
    with app.app_context():
        with pytest.raises(OSError):
            import_customers(settings(app), realm_row(), Interrupted(data, len(data) // 2))
        db.session.rollback()
        done_before = db.session.execute(db.select(db.func.count()).select_from(Customer)
                                         ).scalar()
        assert 0 < done_before < 1000  # whole batches were committed before the failure
        report = import_customers(settings(app), realm_row(), io.BytesIO(data))
        assert (report.created, report.unchanged, report.errors) == (
            1000 - done_before, done_before, [])
        identifiers = db.session.execute(db.select(Customer.identifier)).scalars().all()
        assert sorted(identifiers) == [str(i) for i in range(500_000, 501_000)]
        anne = db.session.execute(db.select(Customer).filter_by(identifier="500002")
                                  ).scalar_one()
        assert anne.email == "c500002@example.test" and anne.credential_version == 0
        assert anne.required_actions == ["VERIFY_EMAIL", "UPDATE_PASSWORD"]
        assert anne.temporary_code_hash.startswith("hmac-sha256$")


def test_the_lookup_walks_the_index_whatever_the_plan(app, small_batches):
    """PostgreSQL: one array parameter (``= ANY``), whose generic plan is an index walk,
    and the new rows through COPY; SQLite: its own batched ``IN``."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

        def seen(_conn, _cursor, statement, *_args) -> None:
            statements.append(statement)

        event.listen(engine, "before_cursor_execute", seen)
        try:
            import_customers(settings(app), realm_row(), io.BytesIO(csv_bytes(600_000, 250)))
            import_customers(settings(app), realm_row(), io.BytesIO(csv_bytes(600_100, 250)))
        finally:
            event.remove(engine, "before_cursor_execute", seen)
        lookups = [s for s in statements if "customer.identifier" in s and "WHERE" in s]
        assert len(lookups) == 6  # one per batch of 100
        if engine.dialect.name == "postgresql":
            assert all("= any(" in s.lower() and " IN (" not in s for s in lookups)
            assert not [s for s in statements if s.startswith("INSERT INTO customer")]
        else:
            assert all(" IN (" in s for s in lookups)
        assert db.session.execute(db.select(db.func.count()).select_from(Customer)
                                  ).scalar() == 350


def test_kept_counts_equal_a_recount(app):
    with app.app_context():
        realm = realm_row()
        info = find_realm(REALM)
        import_customers(settings(app), realm, io.BytesIO(csv_bytes(700_000, 300)))
        import_customers(settings(app), realm, io.BytesIO(csv_bytes(700_250, 100)))
        rows = {c.identifier: c for c in db.session.execute(db.select(Customer)).scalars()}
        # activations: a finished première connexion, a customer created active
        rows["700001"].activated_at = utcnow()
        rows["700002"].set_email("b@example.test", verified=True)
        rows["700002"].password_hash = "$argon2id$x"
        # lockouts: for good, for now; disabled ones
        rows["700003"].locked_permanently = True
        rows["700004"].locked_until = utcnow() + timedelta(minutes=5)
        rows["700005"].enabled = False
        rows["700006"].enabled = False
        rows["700006"].locked_permanently = True
        links.issue(rows["700007"], links.VERIFY_EMAIL, "c700007@example.test",
                    info.settings)
        db.session.commit()
        # a re-import of the activated customer's row keeps them; failed sign-ins and a
        # name change are not counted changes
        rows["700008"].failed_attempts = 3
        rows["700009"].given_name = "Autre"
        db.session.commit()
        db.session.delete(rows["700010"])
        db.session.execute(db.delete(Customer).where(Customer.identifier.in_(
            ["700011", "700012", "700001"])))
        rows["700006"].enabled = True  # locked for good, now counted as locked
        db.session.commit()

        kept = migration.counts(BOSS, info)
        assert kept == migration.recount(info)
        assert (kept.imported, kept.done, kept.locked, kept.disabled, kept.pending_started) == (
            346, 1, 3, 1, 1)
        assert customer_counts.kept(db.session.connection(), realm.id) == \
            customer_counts.recount(db.session.connection(), realm.id)


def test_a_new_realm_counts_from_zero_and_a_deleted_one_leaves_nothing(app):
    from tests.support.realms import import_realm

    with app.app_context():
        import_realm({"realm": "lyon", "display_name": "Lyon"})
        lyon = db.session.execute(db.select(Realm).filter_by(slug="lyon")).scalar_one()
        import_customers(settings(app), lyon, io.BytesIO(csv_bytes(800_000, 20)))
        connection = db.session.connection()
        assert customer_counts.kept(connection, lyon.id)["imported"] == 20
        lyon_id = lyon.id
        db.session.execute(db.delete(Customer).where(Customer.realm_id == lyon_id))
        db.session.execute(db.delete(Realm).where(Realm.id == lyon_id))
        db.session.commit()
        left = db.session.execute(db.text(
            "SELECT count(*) FROM realm_customer_count WHERE realm_id = :r"), {"r": lyon_id})
        assert left.scalar() == 0
