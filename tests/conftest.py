"""Fixtures shared by every test: a fresh idp app and database per test."""

from __future__ import annotations

import os
from typing import Any

import pytest

# Under pytest-xdist each worker gets its own PostgreSQL databases and Redis database, so
# tests that share ``TEST_DATABASE_URL`` never meet another worker's rows or limits.
_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")


def _per_worker(url: str, worker: str) -> str:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(url)
    name = f"{base.database}_{worker}"
    admin = create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        if not conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                            {"n": name}).first():
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return base.set(database=name).render_as_string(hide_password=False)


if _WORKER and _WORKER != "gw0":
    for _var in ("TEST_DATABASE_URL", "TEST_PORTAL_DATABASE_URL"):
        if os.environ.get(_var, "").startswith("postgresql"):
            os.environ[_var] = _per_worker(os.environ[_var], _WORKER)
    _redis = os.environ.get("TEST_RATELIMIT_STORAGE_URI", "")
    if _redis.startswith("redis://") and _redis.rsplit("/", 1)[-1].isdigit():
        _index = int(_WORKER.removeprefix("gw") or 0)
        _db = int(_redis.rsplit("/", 1)[-1])
        _host = _redis.rsplit("/", 1)[0]
        os.environ["TEST_RATELIMIT_STORAGE_URI"] = f"{_host}/{(_db - _index) % 16}"

# Tests run fast argon2 parameters; production defaults are checked in bench/.
FAST_ARGON2 = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}


def database_uri(tmp_path) -> str:
    """SQLite per test by default; TEST_DATABASE_URL (CI: PostgreSQL) when set."""
    return os.environ.get("TEST_DATABASE_URL") or f"sqlite:///{tmp_path / 'idp.db'}"


@pytest.fixture
def idp_config(tmp_path) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-" + "x" * 32,
        "SQLALCHEMY_DATABASE_URI": database_uri(tmp_path),
        "PUBLIC_URL": "http://idp.test",
        "SERVER_NAME": None,
        "RATELIMIT_ENABLED": False,
        "RATELIMIT_STORAGE_URI": os.environ.get("TEST_RATELIMIT_STORAGE_URI", "memory://"),
        "MAIL_SUPPRESS_SEND": True,
        "MAIL_DELIVER_INLINE": True,
        **FAST_ARGON2,
    }


# The suites that start their own database clusters or a real browser with session-wide
# servers: under pytest-xdist each runs whole on one worker (its servers start once).
GROUPS = ("ops", "e2e", "demo")


def _group_of(parts: tuple[str, ...]) -> str | None:
    """The group of a test from its path (``tests/ops/...`` is in "ops"), or None."""
    if "tests" not in parts:
        return None
    below = parts[parts.index("tests") + 1:]
    return next((g for g in GROUPS if g in below), None)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything under tests/e2e runs real servers and a real browser: ``pytest -m
    "not e2e"`` is the fast suite."""
    for item in items:
        group = _group_of(item.path.parts)
        if group == "e2e":
            item.add_marker(pytest.mark.e2e)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    """``--dist loadgroup`` that works: pytest-xdist 3.8 names a test's group by rewriting
    ``item._nodeid``, which pytest 9.2 no longer reads (nodes keep their id elsewhere), so
    every group was spread over both workers and each one started its own clusters,
    servers and browser. Here the controller groups by path: one work unit per group,
    one per test otherwise (the largest units, the groups, are handed out first)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class PathGroups(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return _group_of(tuple(path.split("/"))) or nodeid

    return PathGroups(config, log)


@pytest.fixture(scope="session", autouse=True)
def shared_signing_keys():
    """One RSA and one EC key pair for the whole session: realms created by tests get new
    ``kid``s over the same key material instead of a 2048-bit RSA generation each."""
    from idp.core import keys

    generated: dict[str, object] = {}
    original = keys._generate

    def reuse(alg: str):
        if alg not in generated:
            generated[alg] = original(alg)
        return generated[alg]

    patch = pytest.MonkeyPatch()
    patch.setattr(keys, "_generate", reuse)
    yield
    patch.undo()


@pytest.fixture(autouse=True)
def fresh_idp_cache():
    """Every test starts with an empty in-process cache: on a shared PostgreSQL database a
    realm or client of an earlier test may come back with the same id and another key."""
    from idp.core import cache

    cache.clear_all()
    yield


@pytest.fixture(scope="session", autouse=True)
def strict_audit_events():
    """Every audit event recorded in a test must be declared with its class in
    ``idp.core.audit.EVENTS`` (a new event without a declaration fails its test)."""
    from idp.core import audit

    audit.set_strict(True)
    yield
    audit.set_strict(False)
