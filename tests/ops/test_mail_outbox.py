"""The mail outbox against a real SMTP server (aiosmtpd) that goes down and comes back
(issue 11, item 5).

- The customer's screen says at once when a mail could not be sent yet; the mail waits
  in the outbox and ``idp mail worker`` retries it with backoff until SMTP answers.
- A mail that keeps failing is failed for good after ``--max-attempts`` and listed by
  ``idp mail failed``.
- Two workers on one outbox never send a mail twice.
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import pytest

from .conftest import PASSWORD, REALM, IdpPair
from .flows import Browser, cli, serving, sql
from .services import BIN, ROOT, IdpInstance, free_port, idp_cli, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _serving(idp_pair: IdpPair) -> None:
    serving(idp_pair)


class SmtpServer:
    """aiosmtpd on a fixed port, stopped and started at will; keeps what it received."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[Message] = []
        self.lock = threading.Lock()
        self.controller: Any = None

    # aiosmtpd calls the handler by this name.
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(message_from_bytes(envelope.original_content))
        return "250 OK"

    def start(self) -> None:
        from aiosmtpd.controller import Controller

        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def to(self, address: str) -> list[Message]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())  # not started: each test decides when SMTP is up
    try:
        yield server
    finally:
        server.stop()


def mail_env(pair: IdpPair, smtp: SmtpServer) -> dict[str, str]:
    return {**pair.a.env, "IDP_MAIL_SUPPRESS_SEND": "false", "IDP_MAIL_SERVER": "127.0.0.1",
            "IDP_MAIL_PORT": str(smtp.port), "IDP_MAIL_TIMEOUT": "2"}


class Worker:
    """``idp mail worker`` as a process, stopped at the end of the test."""

    def __init__(self, env: dict[str, str], root: Path, *args: str) -> None:
        self.log = (root / "mail-worker.log").open("a")
        self.proc = subprocess.Popen([str(BIN / "idp"), "mail", "worker", *args], env=env,
                                     cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.log.close()


def outbox_row(pair: IdpPair, recipient: str) -> tuple[str, int, bool]:
    rows = sql(pair, "SELECT status, attempts, last_error IS NOT NULL FROM outbox_mail "
                     "WHERE recipient = %s", recipient)
    assert len(rows) == 1, rows
    return rows[0]


def queue_notices(pair: IdpPair, recipients: list[str]) -> None:
    """Queue ``password_changed`` notices as the app writes them (one row each)."""
    context = json.dumps({"realm": {"slug": REALM, "display_name": "Opérations"},
                          "customer": {"identifier": "300001", "given_name": None,
                                       "family_name": None}})
    for to in recipients:
        sql(pair, "INSERT INTO outbox_mail (realm_id, recipient, template, locale, context, "
                  "status, attempts, next_attempt_at, created_at) "
                  "SELECT id, %s, 'password_changed', 'fr', %s, 'queued', 0, "
                  "now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc' FROM realm "
                  "WHERE slug = %s", to, context, REALM)


def test_smtp_down_screen_says_so_then_worker_delivers_when_smtp_returns(
        idp_pair: IdpPair, smtp: SmtpServer, ops_root: Path) -> None:
    env = mail_env(idp_pair, smtp)
    address = "premiere@example.test"
    cli(idp_pair, "customers", "create", "--realm", REALM, "--identifier", "300401",
        "--email", address, "--password", PASSWORD)  # owes the address's verification
    instance = IdpInstance("mail", env, ops_root)
    instance.start()
    try:
        browser = Browser(idp_pair)
        page = browser.authorize(instance)
        page = browser.follow(instance, browser.login(instance, page, "300401", PASSWORD))
        assert page.status_code == 200, page.status_code
        assert 'id="mail-failed"' in page.text  # told at once, on the screen
        assert "pas pu être envoyé" in page.text
    finally:
        instance.stop()
    status, attempts, has_error = outbox_row(idp_pair, address)
    assert (status, attempts, has_error) == ("queued", 1, True)  # kept, not lost
    # Its retry is scheduled (30 s with the default policy); move the clock, not sleep.
    [(_moved,)] = sql(idp_pair, "UPDATE outbox_mail SET next_attempt_at = "
                                   "now() AT TIME ZONE 'utc' WHERE recipient = %s AND "
                                   "next_attempt_at > now() AT TIME ZONE 'utc' + "
                                   "interval '20 seconds' RETURNING id", address)

    worker = Worker(env, ops_root, "--interval", "0.1", "--retry-delay", "0.1",
                    "--max-attempts", "30")
    try:
        # SMTP still down: the worker retries, each time later (backoff), keeps the mail.
        # Seen between two attempts: read while the worker holds it, the row says
        # "sending" (a loaded machine widens that moment; the snapshot read it once).
        def kept_for_a_later_attempt() -> bool:
            [(status, attempts, spacing)] = sql(
                idp_pair, "SELECT status, attempts, next_attempt_at > now() AT TIME ZONE "
                          "'utc' FROM outbox_mail WHERE recipient = %s", address)
            assert status in ("queued", "sending"), status  # never failed nor sent
            return attempts >= 3 and status == "queued" and spacing

        wait_for(kept_for_a_later_attempt, 15, "two worker retries, the mail kept")
        assert smtp.to(address) == []

        smtp.start()
        wait_for(lambda: outbox_row(idp_pair, address)[0] == "sent", 15, "delivery")
    finally:
        worker.stop()
    [mail] = smtp.to(address)  # exactly one mail, with the verification link
    body = mail.get_payload(0).get_payload(decode=True).decode()
    assert f"{idp_pair.public_url}/realms/{REALM}/action/" in body
    [(context,)] = sql(idp_pair, "SELECT context FROM outbox_mail WHERE recipient = %s",
                       address)
    assert context is None  # the link's secret does not outlive the delivery


def test_mail_failing_for_good_is_listed_by_idp_mail_failed(
        idp_pair: IdpPair, smtp: SmtpServer, ops_root: Path) -> None:
    address = "never@example.test"
    queue_notices(idp_pair, [address])
    worker = Worker(mail_env(idp_pair, smtp), ops_root, "--interval", "0.1",
                    "--retry-delay", "0.05", "--max-attempts", "3")
    try:
        wait_for(lambda: outbox_row(idp_pair, address)[0] == "failed", 20, "failed for good")
    finally:
        worker.stop()
    assert outbox_row(idp_pair, address) == ("failed", 3, True)
    listed = json.loads(idp_cli(idp_pair.a.env, "mail", "failed", "--json"))
    [entry] = [row for row in listed if row["to"] == address]
    assert entry["attempts"] == 3 and entry["template"] == "password_changed"
    assert "ConnectionRefused" in entry["error"]


def test_two_workers_never_send_a_mail_twice(idp_pair: IdpPair, smtp: SmtpServer,
                                             ops_root: Path) -> None:
    recipients = [f"batch{i:03d}@example.test" for i in range(60)]
    queue_notices(idp_pair, recipients)
    smtp.start()
    env = mail_env(idp_pair, smtp)
    workers = [Worker(env, ops_root, "--interval", "0.05") for _ in range(2)]
    try:
        wait_for(lambda: sql(idp_pair, "SELECT count(*) FROM outbox_mail WHERE recipient "
                                       "LIKE 'batch%%' AND status = 'sent'")[0][0]
                 == len(recipients), 60, "every mail sent")
    finally:
        for worker in workers:
            worker.stop()
    received = [m["To"] for m in smtp.messages if m["To"] in set(recipients)]
    assert sorted(received) == recipients  # each exactly once
    assert sql(idp_pair, "SELECT max(attempts) FROM outbox_mail WHERE recipient "
                         "LIKE 'batch%%'")[0][0] == 1
