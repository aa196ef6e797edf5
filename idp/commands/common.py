"""Helpers every ``idp`` command group shares."""

from __future__ import annotations

import json
from typing import Any

import click

from ..core.db import db
from ..core.models import Realm
from ..core.realms import RealmInfo, snapshot


def echo(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        click.echo(text if text is not None else json.dumps(data, ensure_ascii=False, indent=2))


def realm_by_slug(slug: str) -> Realm:
    realm = db.session.execute(db.select(Realm).filter_by(slug=slug)).scalar_one_or_none()
    if realm is None:
        raise click.ClickException(f"unknown realm: {slug}")
    return realm


def realm_info(slug: str) -> RealmInfo:
    return snapshot(realm_by_slug(slug))
