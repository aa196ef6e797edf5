"""The SQLAlchemy handle every model is declared on (Flask-SQLAlchemy, unbound).

A statement that opens a transaction and finds its pooled connection dead (the database
restarted since the connection was last used) is run once more on a fresh connection:
nothing of the transaction exists yet, so the retry is safe for reads and writes alike, and
no request fails because of a connection left over from before an outage (gunicorn workers
that served nothing during the outage included). Any later statement of a transaction is
never retried: what came before it died with the connection.
"""

from __future__ import annotations

import logging
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)
log = logging.getLogger(__name__)


@event.listens_for(db.session, "do_orm_execute")
def _retry_on_fresh_connection(state: Any) -> Any:
    """The first statement of a transaction, retried once after a disconnect."""
    if state.session.in_transaction():
        return None  # a later statement: the normal path
    try:
        return state.invoke_statement()
    except sa_exc.DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        log.info("pooled database connection was dead; statement retried on a fresh one")
    state.session.rollback()
    return state.invoke_statement()


def commit_keeping_loaded() -> None:
    """Commit without expiring what the session holds: rows this request just read and
    wrote (the customer of a sign-in) are not read again by its next step. Whatever a
    later request reads is read afresh."""
    session = db.session()
    keep = session.expire_on_commit
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = keep


def insert_ignoring_duplicates(table: Any, values: dict[str, Any]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): write a row that may
    already exist without reading first, and without failing a concurrent twin.

    The statement is built once per table, dialect and set of columns (it runs on every
    code redemption): the values travel as parameters."""
    dialect = db.session.get_bind().dialect.name
    key = (table.name, dialect, tuple(sorted(values)))
    statement = _IGNORING.get(key)
    if statement is None:
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = insert(table).on_conflict_do_nothing()
        _IGNORING[key] = statement
    db.session.execute(statement, values)


_IGNORING: dict[tuple[str, str, tuple[str, ...]], Any] = {}
