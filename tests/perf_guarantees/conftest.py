"""Fixtures of the issue-10 guarantee tests: the idp fixtures and the security tests' real
threaded server on PostgreSQL (reused, not copied)."""

from tests.security.conftest import (  # noqa: F401  (fixtures and helpers)
    PASSWORD,
    REALM,
    RP,
    RP_SECRET,
    Browser,
    all_at_once,
    app,
    client,
    customer,
    flow,
    live,
    make_customer,
    pg_url,
    runner,
)
