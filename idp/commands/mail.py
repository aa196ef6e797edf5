"""``idp mail worker|send-due|failed``: the outbox's delivery side."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from ..core import outbox
from ..core.db import db
from ..web.mail import run_worker_once
from .common import echo

mail_group = AppGroup("mail", help="Mail outbox: deliver, retry, list failures.")


@mail_group.command("worker")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between polls.")
@click.option("--once", is_flag=True, help="Deliver what is due, then stop.")
def worker(interval: float, once: bool) -> None:
    """Deliver queued mails, retrying failures with exponential backoff."""
    while True:
        try:
            sent, unsent = run_worker_once()
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
