"""``idp mail worker|send-due|failed``: the outbox's delivery side."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from ..core import deletion, outbox
from ..core.db import db
from ..web.context import app_settings
from ..web.mail import send_row
from .common import echo

mail_group = AppGroup("mail", help="Mail outbox: deliver, retry, list failures.")


@mail_group.command("worker")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
@click.option("--once", is_flag=True, help="Deliver what is due, then stop.")
@click.option("--max-attempts", default=outbox.MAX_ATTEMPTS, show_default=True,
              type=click.IntRange(min=1), help="Sends before a mail is failed for good.")
@click.option("--retry-delay", default=float(outbox.BASE_DELAY_SECONDS), show_default=True,
              type=click.FloatRange(min=0), help="Seconds before the first retry (doubled "
              "after each failure).")
@click.option("--purge-every", default=3600.0, show_default=True,
              type=click.FloatRange(min=0), help="Seconds between runs of "
              "``idp customers purge-deleted`` (0: never from the worker).")
def worker(interval: float, once: bool, max_attempts: int, retry_delay: float,
           purge_every: float) -> None:
    """Deliver queued mails, retrying failures with exponential backoff. Several workers
    may run: each mail is claimed by exactly one. Also carries out the account deletions
    whose grace period is over (every ``--purge-every`` seconds)."""
    retry = outbox.Retry(max_attempts, retry_delay)
    last_purge = 0.0
    while True:
        if purge_every and time.monotonic() - last_purge >= purge_every:
            last_purge = time.monotonic()
            try:
                for done in deletion.purge_due(app_settings()):
                    click.echo(f"mail worker: account {done.realm}/{done.identifier} erased")
            except Exception as exc:  # database outage: try again next time
                db.session.rollback()
                click.echo(f"mail worker: purge failed ({type(exc).__name__})", err=True)
        try:
            sent, unsent = outbox.run_once(send_row, retry=retry)
        except Exception as exc:  # database or SMTP outage: keep polling
            db.session.rollback()
            click.echo(f"mail worker: {type(exc).__name__}, retrying", err=True)
            sent = unsent = 0
        finally:
            db.session.remove()
        if sent or unsent:
            click.echo(f"mail worker: {sent} sent, {unsent} to retry")
        if once:
            return
        time.sleep(interval)


@mail_group.command("failed")
@click.option("--json", "as_json", is_flag=True)
def failed(as_json: bool) -> None:
    """Mails that failed for good (after every retry), newest first."""
    rows = [{"id": r.id, "to": r.recipient, "template": r.template, "attempts": r.attempts,
             "error": r.last_error, "created_at": r.created_at.isoformat()}
            for r in outbox.failures()]
    echo(rows, as_json, "\n".join(
        f"{r['id']}\t{r['to']}\t{r['template']}\t{r['error']}" for r in rows) or "none")


@mail_group.command("status")
@click.option("--json", "as_json", is_flag=True)
def status(as_json: bool) -> None:
    """How many mails are queued, sent and failed."""
    counts = outbox.counts()
    echo(counts, as_json, ", ".join(f"{k}: {v}" for k, v in sorted(counts.items())) or "empty")
