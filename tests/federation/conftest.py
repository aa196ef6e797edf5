"""Fixtures: the four fake providers as real processes, and adapters pointed at them."""

from __future__ import annotations

import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # `tests` has no __init__.py: make `tests.fakes` importable
    sys.path.insert(0, str(ROOT))

from tests.fakes.run import (  # noqa: E402
    DEFAULT_CREDENTIALS,
    identity_provider_settings,
    running_fakes,
)

ALIASES = ("google", "linkedin", "facebook", "x")
CREDENTIALS = DEFAULT_CREDENTIALS


def redirect_uri(alias: str, realm: str = "paris") -> str:
    """What the views will pass: ``{IDP_PUBLIC_URL}/realms/{realm}/broker/{alias}/endpoint``."""
    return f"http://127.0.0.1:5000/realms/{realm}/broker/{alias}/endpoint"


def settings_for(alias: str, urls: dict[str, str], **overrides: Any) -> dict[str, Any]:
    """One realm JSON ``identity_providers`` entry pointing at the fake."""
    settings = identity_provider_settings(alias, urls[alias])
    settings.update(overrides)
    return settings


def authorize(url: str, user: str = "alice", auto: str = "allow",
              **switches: str) -> dict[str, str]:
    """Play the browser at the fake's authorize endpoint with the test switches.

    Returns the query of the redirect back to our callback (not followed: nothing listens
    there), the ``#_=_`` fragment Facebook appends being dropped as a browser would.
    """
    extra = {"login_hint": user, "auto": auto, **switches}
    resp = requests.get(f"{url}&{urlencode(extra)}", allow_redirects=False, timeout=10)
    assert resp.status_code == 302, resp.text
    location = resp.headers["Location"]
    parts = urlsplit(location)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}".endswith("/endpoint"), location
    return dict(parse_qsl(parts.query))


def closed_port_url() -> str:
    """A loopback URL nobody listens on (bound then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="session")
def fakes() -> Iterator[dict[str, str]]:
    with running_fakes() as urls:
        yield urls
