"""The portal's own data: customers' properties, ledger, interventions, documents, contacts.

Every row hangs off a ``Customer`` keyed by ``(issuer, customer_id)``: the portal knows its
customers only through the idp's ``customer_id`` claim, and two realms (issuers) may reuse
the same identifier, so the issuer is part of the key. Money is stored in integer cents to
keep sums exact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
import weakref
from typing import Any, NamedTuple

from sqlalchemy import (
    JSON,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    Select,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    literal_column,
    select,
)
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db


def utcnow() -> dt.datetime:
    """Timezone-naive UTC now (SQLite does not keep offsets; we store UTC everywhere)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class Agency(db.Model):
    """A local agency of the manager: who the customer calls, and when."""

    __tablename__ = "agency"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    address: Mapped[str] = mapped_column(String(300), default="")
    postal_code: Mapped[str] = mapped_column(String(16), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    hours: Mapped[list] = mapped_column(JSON, default=list)
    manager_name: Mapped[str] = mapped_column(String(200), default="")
    manager_phone: Mapped[str] = mapped_column(String(40), default="")
    manager_email: Mapped[str] = mapped_column(String(200), default="")


class Customer(db.Model):
    """A customer of one issuer (realm), as named by the idp's ``customer_id`` claim."""

    __tablename__ = "customer"
    __table_args__ = (UniqueConstraint("issuer", "customer_id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    issuer: Mapped[str] = mapped_column(String(300))
    customer_id: Mapped[str] = mapped_column(String(64))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agency.id"))
    agency: Mapped[Agency | None] = relationship()

    properties: Mapped[list[Property]] = relationship(
        back_populates="customer", order_by="Property.ref", cascade="all, delete-orphan"
    )
    ledger: Mapped[list[LedgerEntry]] = relationship(
        back_populates="customer",
        order_by="(LedgerEntry.date, LedgerEntry.id)",
        cascade="all, delete-orphan",
    )
    interventions: Mapped[list[Intervention]] = relationship(
        back_populates="customer",
        order_by="Intervention.opened_on.desc()",
        cascade="all, delete-orphan",
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="customer", order_by="Document.date.desc()", cascade="all, delete-orphan"
    )
    contacts: Mapped[list[Contact]] = relationship(
        back_populates="customer", order_by="Contact.name", cascade="all, delete-orphan"
    )
    saved_searches: Mapped[list[SavedSearch]] = relationship(
        back_populates="customer", order_by="SavedSearch.id", cascade="all, delete-orphan"
    )

    @property
    def balance_cents(self) -> int:
        """Credits minus debits: positive when the customer is in credit."""
        total = db.session.scalar(
            select(func.coalesce(func.sum(LedgerEntry.credit_cents - LedgerEntry.debit_cents), 0))
            .where(LedgerEntry.customer_pk == self.id)
        )
        return int(total or 0)

    @classmethod
    def find(cls, issuer: str, customer_id: str) -> Customer | None:
        """The customer of ``issuer`` known as ``customer_id``, if the portal has data for them."""
        return db.session.scalar(
            select(cls).where(cls.issuer == issuer, cls.customer_id == customer_id)
        )


class Summary(NamedTuple):
    """The row of :func:`summary` (``None`` members when the portal has no agency for the
    customer)."""

    display_name: str | None
    balance: int
    open_interventions: int
    agency_code: str | None
    agency_name: str | None
    agency_phone: str | None


def _summary_statement() -> Select[Any]:
    """The statement behind :func:`summary`: literals inlined, the two keys as named bind
    parameters, so that it compiles to one fixed SQL string per dialect."""
    balance = (select(func.coalesce(func.sum(LedgerEntry.credit_cents
                                             - LedgerEntry.debit_cents), literal_column("0")))
               .where(LedgerEntry.customer_pk == Customer.id).scalar_subquery())
    open_count = (select(func.count()).select_from(Intervention)
                  .where(Intervention.customer_pk == Customer.id,
                         Intervention.status == literal_column("'en_cours'")).scalar_subquery())
    return (select(Customer.display_name, balance.label("balance"),
                   open_count.label("open_interventions"), Agency.code.label("agency_code"),
                   Agency.name.label("agency_name"), Agency.phone.label("agency_phone"))
            .outerjoin(Agency, Agency.id == Customer.agency_id)
            .where(Customer.issuer == bindparam("issuer"),
                   Customer.customer_id == bindparam("customer_id")))


_SUMMARY: list[Select[Any]] = []  # built on first use, once the mappers are configured
# Per dialect: the compiled SQL and, for positional paramstyles (SQLite's qmark), the
# order of the parameters; weak keys, so an engine disposed of takes its entry along.
_COMPILED: weakref.WeakKeyDictionary[Dialect, tuple[str, tuple[str, ...] | None]] = (
    weakref.WeakKeyDictionary())


def _statement() -> Select[Any]:
    if not _SUMMARY:
        _SUMMARY.append(_summary_statement())
    return _SUMMARY[0]


def _compiled(dialect: Dialect) -> tuple[str, tuple[str, ...] | None]:
    entry = _COMPILED.get(dialect)
    if entry is None:
        compiled = _statement().compile(dialect=dialect)
        if set(compiled.binds) != {"issuer", "customer_id"}:
            raise RuntimeError("the summary statement must bind issuer and customer_id only")
        order = tuple(compiled.positiontup or ()) if compiled.positional else None
        entry = _COMPILED[dialect] = (compiled.string, order)
    return entry


def summary(issuer: str, customer_id: str) -> Summary | None:
    """What ``GET /api/v1/me`` shows, in one round trip: the name, the balance, the number
    of open interventions and the agency.

    Why not ``db.session``: this is the busiest call of the API and it is one read. The
    ORM session opens a transaction (``BEGIN``, then a ``ROLLBACK`` at teardown: two more
    round trips) and SQLAlchemy's execution layer and pool cost more CPU than the query
    itself. Here the precompiled SQL runs on a driver connection in autocommit (see
    :func:`_summary_on_driver`). Any driver error falls back to
    :func:`_summary_through_core`, SQLAlchemy's own path, which reads on a pooled (tested)
    connection and, if the database is really down, raises the wrapped error (connection
    invalidated, outage seen by ``shared.health``: a 503, as everywhere else).
    """
    engine = db.engine
    params = {"issuer": issuer, "customer_id": customer_id}
    if _READER.resting_until.get(engine, 0.0) <= time.monotonic():
        try:
            row = _summary_on_driver(engine, params)
        except (SQLAlchemyError, engine.dialect.loaded_dbapi.Error):
            # While the database is unreachable, one connection attempt per call is
            # enough: this thread reads through SQLAlchemy for a few seconds.
            _READER.resting_until = {engine: time.monotonic() + READER_REST_SECONDS}
        else:
            return None if row is None else Summary(*row)
    row = _summary_through_core(engine, params)
    return None if row is None else Summary(*row)


class _Reader(threading.local):
    """This thread's PostgreSQL connection for :func:`summary`, taken out of the pool.

    Why its own connection: checking a pooled connection out and back in (events, reset
    rollback, autocommit switched on and off) cost more than the query. This one stays in
    autocommit, so it never holds a transaction or a lock, and the driver keeps the
    statement prepared. It is dropped at the first error (the caller then reads through
    the pool) and reopened on the next call; one per server thread, beside the pool.
    """

    engine: Engine | None = None
    connection: Any = None
    # After a failure of the fast path: until when this thread leaves it alone.
    resting_until: dict[Engine, float] = {}  # replaced, never mutated


_READER = _Reader()
READER_REST_SECONDS = 5.0


def _drop_reader() -> None:
    connection, _READER.engine, _READER.connection = _READER.connection, None, None
    if connection is not None:
        with contextlib.suppress(Exception):
            connection.close()


def _reader_for(engine: Engine) -> Any:
    """This thread's reading connection for ``engine``, opened on first use."""
    if _READER.engine is engine and _READER.connection is not None:
        return _READER.connection
    _drop_reader()  # another engine's (an app made anew, in tests)
    pooled = engine.raw_connection()  # opened by the pool: same connect arguments
    try:
        driver: Any = pooled.driver_connection
        pooled.detach()
        driver.autocommit = True
    except BaseException:
        with contextlib.suppress(Exception):
            pooled.close()
        raise
    _READER.engine, _READER.connection = engine, pooled
    return pooled


def _summary_on_driver(engine: Engine, params: dict[str, str]) -> Any:
    """The fast path: the precompiled SQL on the driver, in autocommit (PostgreSQL: this
    thread's own connection; SQLite, which opens no transaction for a SELECT: a pooled
    one)."""
    sql, order = _compiled(engine.dialect)
    args: Any = params if order is None else tuple(params[name] for name in order)
    if engine.dialect.name != "postgresql":
        pooled = engine.raw_connection()
        try:
            cursor = pooled.cursor()
            cursor.execute(sql, args)
            row = cursor.fetchone()
            cursor.close()
        finally:
            pooled.close()
        return row
    connection = _reader_for(engine)
    try:
        cursor = connection.cursor()
        cursor.execute(sql, args)
        row = cursor.fetchone()
        cursor.close()
    except BaseException:
        _drop_reader()  # broken or in an unknown state: never reused
        raise
    return row


def _summary_through_core(engine: Engine, params: dict[str, str]) -> Any:
    """The same read through SQLAlchemy Core, whose error handling is the reference."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(_statement(), params).first()


class _Owned:
    """Columns of every record that belongs to one customer and is named by a stable ``ref``."""

    id: Mapped[int] = mapped_column(primary_key=True)
    ref: Mapped[str] = mapped_column(String(64))


class Property(_Owned, db.Model):
    """A lot the customer owns or rents."""

    __tablename__ = "property"
    __table_args__ = (UniqueConstraint("customer_pk", "ref"),)
    customer_pk: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer: Mapped[Customer] = relationship(back_populates="properties")
    label: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60), default="")
    address: Mapped[str] = mapped_column(String(300))
    postal_code: Mapped[str] = mapped_column(String(16), default="")
    city: Mapped[str] = mapped_column(String(120), default="")
    role: Mapped[str] = mapped_column(String(16))  # owner | tenant


class LedgerEntry(_Owned, db.Model):
    """One line of the customer's account: a debit (call for funds, rent) or a credit."""

    __tablename__ = "ledger_entry"
    __table_args__ = (UniqueConstraint("customer_pk", "ref"),)
    customer_pk: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer: Mapped[Customer] = relationship(back_populates="ledger")
    date: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(300))
    debit_cents: Mapped[int] = mapped_column(Integer, default=0)
    credit_cents: Mapped[int] = mapped_column(Integer, default=0)
    property_ref: Mapped[str] = mapped_column(String(64), default="")


class Intervention(_Owned, db.Model):
    """Work ordered on a property: a repair, a maintenance visit."""

    __tablename__ = "intervention"
    __table_args__ = (UniqueConstraint("customer_pk", "ref"),)
    customer_pk: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer: Mapped[Customer] = relationship(back_populates="interventions")
    property_ref: Mapped[str] = mapped_column(String(64), default="")
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))  # en_cours | terminee
    opened_on: Mapped[dt.date] = mapped_column(Date)
    closed_on: Mapped[dt.date | None] = mapped_column(Date)
    provider: Mapped[str] = mapped_column(String(200), default="")


class Document(_Owned, db.Model):
    """A downloadable document of the customer's file (dossier)."""

    __tablename__ = "document"
    __table_args__ = (UniqueConstraint("customer_pk", "ref"),)
    customer_pk: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer: Mapped[Customer] = relationship(back_populates="documents")
    title: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(100), default="")
    date: Mapped[dt.date] = mapped_column(Date)
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100), default="text/plain")
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Contact(_Owned, db.Model):
    """A person the customer may call about their properties."""

    __tablename__ = "contact"
    __table_args__ = (UniqueConstraint("customer_pk", "ref"),)
    customer_pk: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer: Mapped[Customer] = relationship(back_populates="contacts")
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(200), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")


class SavedSearch(_Owned, db.Model):
    """A property search the customer saved ("Mes recherches")."""

    __tablename__ = "saved_search"
    __table_args__ = (UniqueConstraint("customer_pk", "ref"),)
    customer_pk: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    customer: Mapped[Customer] = relationship(back_populates="saved_searches")
    label: Mapped[str] = mapped_column(String(200))
    transaction: Mapped[str] = mapped_column(String(16))  # location | achat
    city: Mapped[str] = mapped_column(String(120))
    budget_max_cents: Mapped[int | None] = mapped_column(Integer)
    rooms_min: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class ServerSession(db.Model):
    """A browser session stored server-side, so back-channel logout can end it at once.

    The cookie carries a random id; the table stores only its SHA-256, so a leaked database
    does not hand out live sessions. ``sid``/``sub``/``issuer`` are columns (not only in
    ``data``) because back-channel logout looks sessions up by them.
    """

    __tablename__ = "server_session"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    issuer: Mapped[str | None] = mapped_column(String(300), index=True)
    sub: Mapped[str | None] = mapped_column(String(255), index=True)
    sid: Mapped[str | None] = mapped_column(String(255), index=True)
    customer_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)


class UsedLogoutToken(db.Model):
    """``jti`` of logout tokens already honoured, refused if replayed before they expire."""

    __tablename__ = "used_logout_token"
    jti: Mapped[str] = mapped_column(String(255), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
