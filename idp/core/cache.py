"""The one in-memory cache of the idp: realms, clients, signing keys, client JWKS.

Hot paths (token, userinfo) read these on every request, so they live in memory; every
write path calls :func:`invalidate`, which is the single place where the multi-instance
work plugs in a cross-process signal: subscribe with :func:`on_invalidate`
(:mod:`idp.web.invalidation`: PostgreSQL ``LISTEN/NOTIFY``, or SQLite's change counter).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Collection, Hashable
from typing import Any

from cachetools import TTLCache

_MISSING = object()
_lock = threading.RLock()
_caches: dict[str, TTLCache] = {}
_listeners: list[Callable[[str, Hashable | None], None]] = []


def _cache(namespace: str, ttl: float, size: int) -> TTLCache:
    cache = _caches.get(namespace)
    if cache is None:
        with _lock:
            cache = _caches.setdefault(namespace, TTLCache(maxsize=size, ttl=ttl))
    return cache


def cached(namespace: str, key: Hashable, load: Callable[[], Any], *, ttl: float = 30.0,
           size: int = 4096) -> Any:
    """``load()``'s value for ``key`` in ``namespace``, computed at most once per ``ttl``
    (``None`` results are cached too: an unknown client costs one query, not one per
    request)."""
    cache = _cache(namespace, ttl, size)
    value = cache.get(key, _MISSING)
    if value is _MISSING:
        value = load()
        with _lock:
            cache[key] = value
    return value


def invalidate(namespace: str, key: Hashable | None = None, *, broadcast: bool = True) -> None:
    """Forget one entry (or the whole namespace) here, and tell listeners so other
    processes forget it too."""
    with _lock:
        cache = _caches.get(namespace)
        if cache is not None:
            if key is None:
                cache.clear()
            else:
                cache.pop(key, None)
    if broadcast:
        for listener in list(_listeners):
            listener(namespace, key)


def on_invalidate(listener: Callable[[str, Hashable | None], None]) -> None:
    """Register a cross-process broadcaster (called after each local invalidation)."""
    if listener not in _listeners:
        _listeners.append(listener)


def clear_all(keep: Collection[str] = ()) -> None:
    """Forget everything in this process (tests, and a peer's "flush all" signal), except
    the namespaces in ``keep`` (caches that a database change cannot make stale)."""
    with _lock:
        for namespace, cache in _caches.items():
            if namespace not in keep:
                cache.clear()
