"""The portal's fixtures (its app on a fake OP) for the portal-side security tests."""

from tests.portal.conftest import app, client, op, op_server  # noqa: F401  (fixtures)
