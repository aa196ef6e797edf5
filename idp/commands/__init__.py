"""The ``idp`` command groups (Flask CLI), registered on the app by ``create_app``."""

from __future__ import annotations

from flask import Flask

from .customers import customers
from .mail import mail_group
from .platform import clients_group, keys_group, realms


def register_cli(app: Flask) -> None:
    for group in (realms, clients_group, keys_group, customers, mail_group):
        app.cli.add_command(group)
