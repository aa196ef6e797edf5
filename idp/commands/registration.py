"""``idp clients initial-token``: an initial access token for Dynamic Client Registration
(RFC 7591), as the admin API and the console issue them (:mod:`idp.core.initial_tokens`)."""

from __future__ import annotations

import re

import click

from ..core import initial_tokens
from ..core.db import db
from .common import echo, realm_by_slug
from .platform import clients_group

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``3600``, ``90m``, ``12h`` or ``7d`` as seconds."""
    match = re.fullmatch(r"\s*(\d+)\s*([smhd]?)\s*", text or "")
    if not match:
        raise click.BadParameter("a number of seconds, or e.g. 90m, 12h, 7d")
    return int(match.group(1)) * UNITS[match.group(2) or "s"]


@clients_group.command("initial-token")
@click.option("--realm", required=True)
@click.option("--expires", default="1d", show_default=True,
              help="Lifetime: seconds, or 90m, 12h, 7d.")
@click.option("--uses", default=1, show_default=True, type=int,
              help="How many registrations it allows.")
@click.option("--json", "as_json", is_flag=True)
def initial_token(realm: str, expires: str, uses: int, as_json: bool) -> None:
    """Issue an initial access token: an app registers itself with it at the realm's
    registration_endpoint (shown once)."""
    r = realm_by_slug(realm)
    try:
        issued = initial_tokens.issue(r.id, expires_in=parse_duration(expires), uses=uses,
                                      actor="cli")
    except initial_tokens.InitialTokenError as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    data = {"id": issued.id, "token": issued.token, "max_uses": issued.max_uses,
            "expires_at": issued.expires_at.isoformat(timespec="seconds") + "Z"}
    echo(data, as_json, f"initial access token: {issued.token}\n(shown once; "
         f"{issued.max_uses} use(s), expires {data['expires_at']})")
