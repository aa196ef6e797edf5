"""Empty tables between tests instead of dropping and re-creating them.

On PostgreSQL a ``create_all`` plus ``drop_all`` of the idp's tables costs about a second
of server time per test (DDL commits, catalogue updates), and so does a ``TRUNCATE`` of
every table (new files for each table and index); deleting the few rows a test wrote and
restarting the sequences leaves the same empty tables, numbered from 1 again, in a few
milliseconds. SQLite tests keep their own file per test: nothing changes there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine

# Databases whose tables were dropped and re-created once in this process: a database
# kept from an earlier run may hold an older schema, which the first test replaces.
_fresh_in_this_process: set[str] = set()


def _key(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def reusable(engine: Engine) -> bool:
    """Tables are kept and emptied on a server database (PostgreSQL), dropped on SQLite."""
    return engine.dialect.name == "postgresql"


def create_tables(db: Any) -> None:
    """The app's tables, empty: created, or (PostgreSQL) found as the last test left them,
    emptied. The first use in a process drops and re-creates them all."""
    engine = db.engine
    if reusable(engine) and _key(engine) not in _fresh_in_this_process:
        db.drop_all()
        _fresh_in_this_process.add(_key(engine))
    # checkfirst: the tables that a test dropped itself (its own drop_all) come back.
    db.create_all()


def empty_tables(db: Any) -> None:
    """Drop the tables (SQLite), or delete their rows and restart their sequences
    (PostgreSQL), so the next test sees what ``create_all`` would have given it."""
    engine = db.engine
    if not reusable(engine):
        db.drop_all()
        return
    with engine.connect() as conn:
        existing = {row[0] for row in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))}
        # Dependents first, so that no foreign key stops a delete.
        for table in reversed(db.metadata.sorted_tables):
            if table.name in existing:
                conn.execute(table.delete())
        conn.execute(text(
            "SELECT setval(c.oid, 1, false) FROM pg_class c"
            " JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relkind = 'S' AND n.nspname = current_schema()"))
        conn.commit()
