"""Realms: lookup by slug as a cached, detached snapshot with typed settings."""

from __future__ import annotations

from dataclasses import dataclass

from . import cache
from .db import db
from .models import Realm
from .settings import RealmSettings

CACHE_TTL_SECONDS = 10.0


@dataclass(frozen=True)
class RealmInfo:
    """A detached snapshot of a realm row: what requests need, cacheable across requests."""

    id: int
    slug: str
    display_name: str
    settings: RealmSettings
    enabled: bool


def snapshot(row: Realm) -> RealmInfo:
    return RealmInfo(row.id, row.slug, row.display_name, settings_of(row), row.enabled)


def settings_of(realm: Realm) -> RealmSettings:
    """The realm's typed settings (stored values were validated at import)."""
    return RealmSettings.parse(realm.settings or {})


def find_realm(slug: str) -> RealmInfo | None:
    """The enabled or disabled realm ``slug``, from the cache when fresh."""

    def load() -> RealmInfo | None:
        row = db.session.execute(db.select(Realm).filter_by(slug=slug)).scalar_one_or_none()
        return snapshot(row) if row is not None else None

    return cache.cached("realm", slug, load, ttl=CACHE_TTL_SECONDS)


def realm_row(realm: RealmInfo | Realm) -> Realm:
    row = db.session.get(Realm, realm.id)
    assert row is not None
    return row


def forget_realm(slug: str | None = None) -> None:
    cache.invalidate("realm", slug)
