"""Helpers for journey tests: a real aiosmtpd server on loopback and a form-driving client.

Import the fixtures into a test module: ``from .journey_helpers import idp_config, smtp``.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message

import pytest
from aiosmtpd.controller import Controller

from tests.support.sign_in import sign_in as support_sign_in

from .conftest import REALM, csrf_from


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """Collects every message the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        msg["X-Envelope-From"] = envelope.mail_from
        self.messages.append(msg)
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if address.lower() in (m["To"] or "").lower()]

    def wait_for(self, address: str, count: int = 1, timeout: float = 5.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.to(address)
            if len(found) >= count:
                return found[count - 1]
            time.sleep(0.02)
        raise AssertionError(f"no mail #{count} to {address}: {[m['To'] for m in self.messages]}")


def parts(msg: Message) -> tuple[str, str]:
    """(text, html) bodies of a message."""
    text = html = ""
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        elif part.get_content_type() == "text/html":
            html = part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
    return text, html


def link_in(msg: Message) -> str:
    """The action link path of a mail (``/realms/.../action/<token>``)."""
    text, _html = parts(msg)
    match = re.search(r"https?://[^/\s]+(/realms/[^\s]+/action/[A-Za-z0-9_\-]+)", text)
    assert match, text
    return match.group(1)


def subject(msg: Message) -> str:
    return str(email.header.make_header(email.header.decode_header(msg["Subject"])))


@contextmanager
def running_inbox() -> Iterator[Inbox]:
    """A real SMTP server (aiosmtpd) on a free loopback port, collecting mails."""
    inbox = Inbox()
    inbox.port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=inbox.port, enable_SMTPUTF8=True)
    ctl.start()
    try:
        yield inbox
    finally:
        ctl.stop()


@pytest.fixture
def smtp():
    with running_inbox() as inbox:
        yield inbox


@pytest.fixture
def idp_config(idp_config, smtp):
    return {**idp_config, "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp.port,
            "MAIL_SUPPRESS_SEND": False, "MAIL_TIMEOUT": 3,
            "MAIL_DEFAULT_SENDER": "Mon espace client <no-reply@monespaceclient.test>"}


def page(client, path: str, **kw):
    return client.get(path if path.startswith("/") else f"/realms/{REALM}/{path}", **kw)


def submit(client, path: str, data: dict | None = None, form_page: str | None = None):
    """POST a form with the CSRF token of ``form_page`` (default: the same path)."""
    url = path if path.startswith("/") else f"/realms/{REALM}/{path}"
    token = csrf_from(client.get(form_page or url).text)
    return client.post(url, data={**(data or {}), "csrf_token": token})


def token_from_session(client) -> str:
    """A CSRF token for POST-only endpoints (rendered in any page with a form)."""
    return csrf_from(client.get(f"/realms/{REALM}/login").text)


def post(client, path: str, data: dict | None = None):
    url = path if path.startswith("/") else f"/realms/{REALM}/{path}"
    return client.post(url, data={**(data or {}), "csrf_token": token_from_session(client)})


sign_in = support_sign_in  # the one helper (tests/support/sign_in.py)


def set_realm_settings(app, **settings) -> None:
    from idp.core.models import Realm
    from idp.extensions import db

    with app.app_context():
        realm = db.session.execute(db.select(Realm).filter_by(slug=REALM)).scalar_one()
        realm.settings = {**(realm.settings or {}), **settings}
        db.session.commit()
    from idp.core.realms import forget_realm

    forget_realm(REALM)  # as every settings write path does


def customer_row(app, identifier: str):
    from idp.core.models import Customer
    from idp.extensions import db

    with app.app_context():
        row = db.session.execute(db.select(Customer).filter_by(identifier=identifier)).scalar_one()
        db.session.expunge(row)
        return row


def audit_events(app, name: str) -> list:
    from idp.core.models import AuditEvent
    from idp.extensions import db

    with app.app_context():
        return list(db.session.execute(db.select(AuditEvent).filter_by(event=name)).scalars())
