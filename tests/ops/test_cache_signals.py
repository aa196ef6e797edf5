"""The SQLite change signal in one process (issue 20, item 2): no read within the poll
interval, a change by another connection forgets the database-derived caches only."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from idp.core import cache
from idp.web.invalidation import NOT_FROM_DATABASE, SqliteWatcher


def test_a_commit_elsewhere_forgets_the_database_caches_at_the_next_poll(tmp_path: Path
                                                                          ) -> None:
    path = tmp_path / "idp.db"
    writer = sqlite3.connect(path)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("CREATE TABLE t (x INTEGER)")
    writer.commit()
    watcher = SqliteWatcher(str(path), interval=3600)
    assert watcher.poll() is False  # the first read only learns the counter
    cache.cached("realm", "r", lambda: "old realm")
    cache.cached("client_jwks", "https://app.example/jwks", lambda: "fetched keys")

    writer.execute("INSERT INTO t VALUES (1)")
    writer.commit()
    assert watcher.poll() is False  # within the interval: not read (no I/O)
    assert cache.cached("realm", "r", lambda: "new realm") == "old realm"

    watcher._checked = float("-inf")  # the interval has passed
    assert watcher.poll() is True
    assert watcher.changes == 1
    assert cache.cached("realm", "r", lambda: "new realm") == "new realm"
    assert "client_jwks" in NOT_FROM_DATABASE
    assert cache.cached("client_jwks", "https://app.example/jwks",
                        lambda: "fetched again") == "fetched keys"

    watcher._checked = float("-inf")
    assert watcher.poll() is False  # nothing committed since
    writer.close()


def test_a_missing_database_file_is_no_change_and_no_file_is_created(tmp_path: Path) -> None:
    watcher = SqliteWatcher(str(tmp_path / "absent.db"), interval=0)
    assert watcher.poll() is False
    assert not (tmp_path / "absent.db").exists()
