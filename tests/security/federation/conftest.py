"""The social fakes and the idp app with the realm's providers (tests/idp's fixtures)."""

from tests.idp.conftest import app, client, runner  # noqa: F401  (fixtures)
from tests.idp.federation_support import (  # noqa: F401  (fixtures)
    fakes_fixture,
    idp_config_fixture,
    social_app_fixture,
)
