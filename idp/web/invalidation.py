"""Cache invalidations seen by every instance at once: PostgreSQL ``LISTEN/NOTIFY``.

Realms, clients and signing keys live in each process's memory (:mod:`idp.core.cache`)
because the token endpoint reads them on every request. A write in one process (a server,
or the ``idp`` CLI) must reach every other one within a second, without a query per
request. So:

- **send**: :func:`idp.core.cache.invalidate` calls :func:`_announce`, which adds a
  ``pg_notify('idp_cache', …)`` to the caller's transaction. PostgreSQL delivers it only
  when that transaction commits, and after the commit: a peer never reloads the old row,
  and a rolled-back change announces nothing. An invalidation made outside a transaction
  is announced at once on its own connection.
- **receive**: one daemon thread per process and database holds a connection in
  ``LISTEN idp_cache`` and applies each notice with ``invalidate(…, broadcast=False)``
  (milliseconds after the commit). The request path does no I/O for it: the hot path keeps
  its speed.
- **missed notices**: whenever the listening connection is (re)established the process
  forgets its whole cache: after an outage it cannot know what changed, so it reloads (one
  query per entry). While it is not listening (reconnecting every 0.5 s, backing off to
  5 s), the caches' own lifetimes bound the staleness; the database is down meanwhile,
  so nothing changes anyway. A listener whose database no longer exists stops.

``IDP_CACHE_SIGNAL_URL`` gives a direct database URL for the listening connection when the
main one goes through PgBouncer in transaction mode (which cannot ``LISTEN``); ``NOTIFY``
itself works through it.

**SQLite** (the embedded default: ``make demo``, one host) has no ``NOTIFY``, but the
``idp`` CLI is still another process. Its signal is ``PRAGMA data_version``
(:class:`SqliteWatcher`): on one dedicated connection, the number changes whenever any
other connection has committed to the database file. A process reads it at most every
``SQLITE_POLL_SECONDS`` (0.5 s), from the request that comes after that delay (an
in-memory clock check otherwise: no query per request), and forgets its database-derived
caches when it changed: a CLI change is served within a second. The signal does not say
what changed, so the process reloads its realms, clients and keys (a few queries), which
a busy server on SQLite does at most twice a second.

``IDP_CACHE_SIGNAL=false`` turns both off (the caches' lifetimes, 10-30 s, then bound the
staleness).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Hashable
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import text
from sqlalchemy.engine import make_url

from ..core import cache
from ..core.db import db

CHANNEL = "idp_cache"
EXTENSION = "idp.invalidation"
#: How often a connected listener checks that its connection is still alive (a silently
#: dropped connection would otherwise leave the process deaf).
PING_SECONDS = 5.0
#: First reconnection delay, doubled up to MAX_RETRY_SECONDS while the database is away.
RETRY_SECONDS = 0.5
MAX_RETRY_SECONDS = 5.0
#: PostgreSQL refuses NOTIFY payloads from 8000 bytes on; a larger key drops its namespace.
MAX_PAYLOAD = 7000

#: SQLite: the longest a process goes without reading the database's change counter.
SQLITE_POLL_SECONDS = 0.5
#: Caches a database change cannot make stale: filled over HTTP (a client's ``jwks_uri``,
#: a social provider's discovery and keys) or content-addressed (a key parsed by ``kid``).
NOT_FROM_DATABASE = frozenset({"client_jwks", "federation_discovery", "federation_verifier",
                               "parsed_key"})
SQLITE_EXTENSION = "idp.invalidation.sqlite"
log = logging.getLogger(__name__)

_lock = threading.Lock()
_listeners: dict[str, Listener] = {}


def init_app(app: Flask) -> None:
    """Announce this app's invalidations and listen for its peers' (PostgreSQL), or watch
    the database file's change counter (SQLite)."""
    uri = str(app.config["SQLALCHEMY_DATABASE_URI"])
    settings = app.extensions["idp.settings"]
    if not settings.cache_signal:
        return
    if uri.startswith("sqlite"):
        path = make_url(uri).database
        if path and path != ":memory:" and not path.startswith("file::memory:"):
            watcher = SqliteWatcher(path)
            app.extensions[SQLITE_EXTENSION] = watcher
            app.before_request(watcher.before_request)
        return
    if not uri.startswith("postgresql"):
        return
    listen_url = settings.cache_signal_url or uri
    app.extensions[EXTENSION] = listen_url
    cache.on_invalidate(_announce)  # one module-level function: registered once per process

    @app.before_request
    def _listening() -> None:
        # Started by the first request, not by create_app: the CLI builds the app too and
        # must not listen; under gunicorn each worker process gets its own thread.
        ensure_listener(listen_url)


def encode(namespace: str, key: Hashable | None) -> str:
    """The notice payload: JSON of the namespace and key (tuples as lists); a key JSON
    cannot carry (bytes) or too long becomes ``None``, i.e. the whole namespace."""
    try:
        payload = json.dumps({"ns": namespace, "key": _plain(key)}, separators=(",", ":"))
    except TypeError:
        payload = ""
    if not payload or len(payload.encode()) > MAX_PAYLOAD:
        payload = json.dumps({"ns": namespace, "key": None}, separators=(",", ":"))
    return payload


def decode(payload: str) -> tuple[str, Hashable | None]:
    data = json.loads(payload)
    return str(data["ns"]), _hashable(data.get("key"))


def _plain(key: Any) -> Any:
    if key is None or isinstance(key, str | int | float | bool):
        return key
    if isinstance(key, tuple):
        return [_plain(k) for k in key]
    raise TypeError(type(key).__name__)


def _hashable(value: Any) -> Hashable | None:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    return value  # type: ignore[no-any-return]


def _announce(namespace: str, key: Hashable | None) -> None:
    """``cache.on_invalidate`` listener: tell every process, at commit time."""
    if not has_app_context() or EXTENSION not in current_app.extensions:
        return
    payload = encode(namespace, key)
    statement = text("SELECT pg_notify(:channel, :payload)")
    params = {"channel": CHANNEL, "payload": payload}
    if db.session().in_transaction():
        # Delivered by PostgreSQL when (and only if) the caller commits.
        db.session.execute(statement, params)
        return
    try:
        with db.engine.connect() as conn:
            conn.execute(statement, params)
            conn.commit()
    except Exception as exc:  # never fail the write that caused it; TTLs bound the damage
        log.warning("cache invalidation not announced (%s): peers may serve %s for up to "
                    "its cache lifetime", type(exc).__name__, namespace)


def ensure_listener(url: str) -> Listener:
    """This process's listener for ``url``, started if needed (also after a fork)."""
    listener = _listeners.get(url)
    if listener is not None and listener.pid == os.getpid():
        return listener
    with _lock:
        listener = _listeners.get(url)
        if listener is None or listener.pid != os.getpid():
            listener = Listener(url)
            listener.start()
            _listeners[url] = listener
    return listener


def conninfo(url: str) -> str:
    """A libpq URL from a SQLAlchemy one (``postgresql+psycopg://`` → ``postgresql://``)."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def database_gone(exc: BaseException) -> bool:
    """The server answers but the database does not exist (SQLSTATE 3D000)."""
    text_ = str(exc)
    return getattr(exc, "sqlstate", None) == "3D000" or (
        "database" in text_ and "does not exist" in text_)


class Listener(threading.Thread):
    """The thread holding ``LISTEN idp_cache`` for one database, reconnecting forever."""

    def __init__(self, url: str) -> None:
        super().__init__(name="idp-cache-listener", daemon=True)
        self.url = url
        self.pid = os.getpid()
        #: Set while listening: tests and probes can wait for it.
        self.listening = threading.Event()
        self.received = 0

    def run(self) -> None:
        import psycopg

        warned = False
        delay = RETRY_SECONDS
        while True:
            try:
                with psycopg.connect(conninfo(self.url), autocommit=True, connect_timeout=3,
                                     application_name="idp-cache-listener") as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    cache.clear_all()  # whatever changed before we listened
                    self.listening.set()
                    if warned:
                        log.warning("cache invalidation listener connected again")
                    warned, delay = False, RETRY_SECONDS
                    self._serve(conn)
            except Exception as exc:  # the database is away: reconnect, never die
                self.listening.clear()
                if database_gone(exc):  # dropped or renamed: nothing will ever come back
                    log.warning("cache invalidation listener stops: its database is gone")
                    with _lock:
                        if _listeners.get(self.url) is self:
                            del _listeners[self.url]
                    return
                if not warned:
                    log.warning("cache invalidation listener disconnected (%s): reconnecting; "
                                "caches are forgotten once it listens again",
                                type(exc).__name__)
                    warned = True
            time.sleep(delay)
            delay = min(delay * 2, MAX_RETRY_SECONDS)

    def _serve(self, conn: Any) -> None:
        while True:
            for note in conn.notifies(timeout=PING_SECONDS):
                self.apply(note.payload)
            conn.execute("SELECT 1")  # raises when the connection died silently

    def apply(self, payload: str) -> None:
        self.received += 1
        try:
            namespace, key = decode(payload)
        except (ValueError, KeyError, TypeError):
            cache.clear_all()  # an unreadable notice: forget everything rather than guess
            return
        cache.invalidate(namespace, key, broadcast=False)


class SqliteWatcher:
    """Forget the database-derived caches when another connection (the ``idp`` CLI,
    another worker) committed to the SQLite file: ``PRAGMA data_version`` on a dedicated
    connection, read at most every :data:`SQLITE_POLL_SECONDS`."""

    def __init__(self, path: str, interval: float = SQLITE_POLL_SECONDS) -> None:
        self.path = path
        self.interval = interval
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._version: int | None = None
        self._checked = float("-inf")
        #: How many times a change was seen (tests, and the curious).
        self.changes = 0

    def before_request(self) -> None:
        self.poll()

    def poll(self) -> bool:
        """Read the counter if the last read is old enough; ``True`` when it changed (the
        caches were forgotten)."""
        if time.monotonic() - self._checked < self.interval:
            return False  # the request path's usual case: a clock read, no I/O
        with self._lock:
            now = time.monotonic()
            if now - self._checked < self.interval:
                return False
            self._checked = now
            version = self._read()
            changed = None not in (version, self._version) and version != self._version
            if version is not None:
                self._version = version
        if changed:
            self.changes += 1
            cache.clear_all(keep=NOT_FROM_DATABASE)
        return changed

    def _read(self) -> int | None:
        try:
            if self._conn is None or self._pid != os.getpid():  # opened in this process
                self._conn = sqlite3.connect(f"file:{self.path}?mode=rw", uri=True,
                                             check_same_thread=False, isolation_level=None)
                self._pid = os.getpid()
                # Numbers of another connection do not compare: after a reopen, assume a
                # change was missed (-1 never equals a data_version).
                self._version = None if self._version is None else -1
            return int(self._conn.execute("PRAGMA data_version").fetchone()[0])
        except sqlite3.Error as exc:  # no file yet, or it went away: try again later
            log.debug("sqlite change counter unreadable: %s", exc)
            self._conn = None
            return None
