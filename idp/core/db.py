"""The SQLAlchemy handle every model is declared on (Flask-SQLAlchemy, unbound)."""

from __future__ import annotations

from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


def insert_ignoring_duplicates(table: Any, values: dict[str, Any]) -> None:
    """``INSERT … ON CONFLICT DO NOTHING`` (PostgreSQL and SQLite): write a row that may
    already exist without reading first, and without failing a concurrent twin."""
    dialect = db.session.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    db.session.execute(insert(table).values(**values).on_conflict_do_nothing())
