"""Mail delivery: render an outbox row's templates in its locale and hand it to SMTP.

Used by requests that want to tell the customer at once whether a mail left (première
connexion) and by ``idp mail worker`` for everything else and for retries.
"""

from __future__ import annotations

import logging
import smtplib
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.policy import SMTP, SMTPUTF8
from email.utils import formatdate, make_msgid
from typing import Any

from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _

from ..core import outbox
from ..core.db import db
from ..core.mails import SUBJECTS
from ..core.models import OutboxMail, Realm
from ..core.realms import settings_of
from .context import app_settings

log = logging.getLogger(__name__)


def _sender(row: OutboxMail) -> str:
    realm = db.session.get(Realm, row.realm_id) if row.realm_id else None
    configured = settings_of(realm).mail_sender if realm is not None else None
    return configured or app_settings().mail_default_sender


def send_row(row: OutboxMail) -> None:
    """Render and send one mail (text + HTML); raises on any SMTP or network failure.

    Sent with the standard library's SMTP client rather than Flask-Mail's ``send``:
    internationalised addresses (``élodie@exemple.fr``) need SMTPUTF8, which Flask-Mail
    cannot encode, and a stalled server must time out (``MAIL_TIMEOUT``). The SMTP
    settings are Flask-Mail's (``MAIL_SERVER``, ``MAIL_PORT``, ``MAIL_USE_TLS``…).
    """
    context = dict(row.context or {})
    with force_locale(row.locale or "fr"):
        subject = _(SUBJECTS[row.template])
        text = render_template(f"mail/{row.template}.txt", **context)
        html = render_template(f"mail/{row.template}.html", **context)
    msg = EmailMessage(policy=SMTPUTF8 if not row.recipient.isascii() else SMTP)
    msg["Subject"] = subject
    msg["From"] = _sender(row)
    msg["To"] = row.recipient
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="monespaceclient")
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    smtp_settings = current_app.extensions["mail"]
    if smtp_settings.suppress:
        return
    timeout = app_settings().mail_timeout
    connect = smtplib.SMTP_SSL if smtp_settings.use_ssl else smtplib.SMTP
    with connect(smtp_settings.server, smtp_settings.port, timeout=timeout) as smtp:
        if smtp_settings.use_tls:
            smtp.starttls()
        if smtp_settings.username:
            smtp.login(smtp_settings.username, smtp_settings.password or "")
        smtp.send_message(msg)  # adds SMTPUTF8 itself for a non-ASCII address


def deliver_now(row: OutboxMail) -> bool:
    """Commit, then try to send ``row`` within this request; on failure it stays queued
    for the worker and the caller tells the customer."""
    db.session.commit()
    ok = outbox.deliver(row.id, send_row)
    if not ok:
        log.warning("mail %s queued for retry", row.template)
    return ok


def run_worker_once(limit: int = 50) -> tuple[int, int]:
    return outbox.run_once(send_row, limit)


_pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mail")


def deliver_soon(row_id: int) -> None:
    """Send after the response, off the request thread: the request's timing says nothing
    of whether a mail was due (forgotten password). ``MAIL_DELIVER_INLINE`` (tests) sends
    in the request instead; the worker retries anything that fails either way."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if app.extensions["idp.settings"].mail_deliver_inline:
        outbox.deliver(row_id, send_row)
        return

    def run() -> None:
        with app.app_context():
            try:
                outbox.deliver(row_id, send_row)
            finally:
                db.session.remove()

    _pool.submit(run)


def deliver_queued(response: Any) -> Any:
    """after_request: every mail this request queued (and committed) leaves now, off the
    request thread; the worker retries failures."""
    for row_id in outbox.take_queued():
        try:
            deliver_soon(row_id)
        except Exception:  # never fail a response over a mail: the worker has it
            log.warning("mail %s left to the worker", row_id)
    return response
