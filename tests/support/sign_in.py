"""THE sign-in helper of the idp tests: the sign-in form as a browser fills it (GET the
page for its CSRF token, POST identifier and password). Every test directory uses this
one instead of its own copy, so a change to the form changes one place."""

from __future__ import annotations

import re
from typing import Any

#: The realm and password of the idp test fixtures (tests/idp/conftest.py).
REALM = "paris-ile-de-france"
PASSWORD = "Bonjour-2026!"


def csrf_from(html: str) -> str:
    """The CSRF token of the first form of a page."""
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no csrf token in page"
    return match.group(1)


def sign_in(client: Any, login: str = "100001", password: str = PASSWORD, *,
            realm: str = REALM, query: str = "", follow: bool = False, **fields: str) -> Any:
    """Submit the sign-in form of ``realm`` with ``client`` (a Flask test client or
    anything with its ``get``/``post``); ``query`` is appended to the page's URL and
    ``fields`` to the form. ``follow`` follows the idp's own redirects (relative
    ``Location``) and returns the last answer."""
    page = client.get(f"/realms/{realm}/login{query}")
    resp = client.post(f"/realms/{realm}/login", data={
        "login": login, "password": password, "csrf_token": csrf_from(page.text), **fields})
    while follow and resp.status_code == 302 and resp.headers["Location"].startswith("/"):
        resp = client.get(resp.headers["Location"])
    return resp
