"""The ``idp`` command: Flask's CLI (``idp db upgrade``, ``idp run``) plus the project's
groups (:mod:`idp.commands`)."""

from __future__ import annotations

import sys

from flask.cli import FlaskGroup

from . import create_app


def main() -> None:
    cli = FlaskGroup(create_app=create_app, help="Espace Client identity provider.")
    cli.main(args=sys.argv[1:], prog_name="idp")
