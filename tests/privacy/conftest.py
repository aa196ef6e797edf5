"""Fixtures of the privacy tests: the idp fixtures with a real SMTP inbox (aiosmtpd)."""

from tests.idp import journey_helpers as jh
from tests.idp.conftest import app, client, customer, runner  # noqa: F401

smtp = jh.smtp
idp_config = jh.idp_config
