"""The ``idp`` command groups (Flask CLI), registered on the app by ``create_app``."""

from __future__ import annotations

from flask import Flask

from .admins import admins, audit_group
from .customers import customers
from .mail import mail_group
from .platform import clients_group, keys_group, realms
from .registration import initial_token  # noqa: F401  (adds ``idp clients initial-token``)
from .secrets import reencrypt  # noqa: F401  (adds ``idp keys reencrypt``)


def register_cli(app: Flask) -> None:
    for group in (realms, clients_group, keys_group, customers, mail_group, admins,
                  audit_group):
        app.cli.add_command(group)
