"""Helpers of the privacy tests."""

from __future__ import annotations

import re
from datetime import timedelta

from tests.idp.conftest import REALM, make_customer
from tests.idp.journey_helpers import parts, post, sign_in

PASSWORD = "Bonjour-2026!"
HOME = f"/realms/{REALM}/account/"
UA_FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
UA_CHROME_WIN = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
                 "Gecko) Chrome/131.0 Safari/537.36")


def browser(app, ua: str = UA_FIREFOX):
    client = app.test_client()
    client.environ_base["HTTP_USER_AGENT"] = ua
    return client


def signed_in(app, identifier: str = "100001", ua: str = UA_FIREFOX):
    client = browser(app, ua)
    resp = sign_in(client, identifier, PASSWORD)
    assert resp.status_code == 302 and "/account" in resp.headers["Location"], resp.text
    return client


def marie(runner, **extra) -> str:
    return make_customer(runner, given_name="Marie", family_name="Dupont", **extra)


def text_of(msg) -> str:
    return parts(msg)[0]


def code_in(msg) -> str:
    match = re.search(r"^\s+(\d{6})\s*$", text_of(msg), re.M)
    assert match, text_of(msg)
    return match.group(1)


def path_in(msg, kind: str) -> str:
    match = re.search(rf"https?://[^/\s]+(/realms/[^\s]+/{kind}/[A-Za-z0-9_.\-]+)", text_of(msg))
    assert match, text_of(msg)
    return match.group(1)


def request_code(client, login: str):
    return post(client, "login/email-code/send", {"login": login})


def age_session(app, client, seconds: int = 600) -> None:
    """Make the browser's sign-in older than the fresh-proof window."""
    from idp.core.models import SsoSession
    from idp.extensions import db

    with client.session_transaction() as s:
        sid = s["sid"]
    with app.app_context():
        row = db.session.get(SsoSession, sid)
        row.auth_time -= seconds
        if hasattr(row, "proved_at") and row.proved_at:
            row.proved_at -= seconds
        db.session.commit()


def move_deletion_back(app, identifier: str, days: int) -> None:
    from idp.core.models import Customer
    from idp.extensions import db

    with app.app_context():
        row = db.session.execute(db.select(Customer).filter_by(identifier=identifier)
                                 ).scalar_one()
        row.deletion_requested_at -= timedelta(days=days)
        db.session.commit()


def mail_about(smtp, address: str, words: str, timeout: float = 5.0):
    """The first mail to ``address`` whose subject contains ``words``."""
    import time

    from tests.idp.journey_helpers import subject

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for msg in smtp.to(address):
            if words.lower() in subject(msg).lower():
                return msg
        time.sleep(0.02)
    raise AssertionError(f"no mail about {words!r} to {address}: "
                         f"{[subject(m) for m in smtp.to(address)]}")
