"""``idp keys reencrypt`` and ``idp keys new-data-key``: secrets at rest (docs/security.md).

Signing keys' private JWKs and social providers' client secrets are sealed with
``IDP_DATA_KEY`` (:mod:`idp.core.crypto`). Rotation: put a new key first in
``IDP_DATA_KEY`` (the old one after it, comma-separated), restart, run ``reencrypt``, then
remove the old key. The same command seals rows written before encryption existed.
"""

from __future__ import annotations

import click

from ..core import audit, crypto, keys
from ..core.db import db
from .common import echo
from .platform import keys_group


@keys_group.command("reencrypt")
@click.option("--json", "as_json", is_flag=True)
def reencrypt(as_json: bool) -> None:
    """Seal every stored signing key and social client secret with the current data key
    (plaintext rows and rows sealed with an older key). Idempotent."""
    done = keys.reencrypt_all()
    audit.record("admin_secrets_reencrypted", key_id=crypto.current_key_id(), **done)
    db.session.commit()
    keys.clear_cache()
    echo({"key_id": crypto.current_key_id(), **done}, as_json,
         f"data key {crypto.current_key_id()}: {done['signing_keys']} signing key(s), "
         f"{done['identity_providers']} provider secret(s) sealed")


@keys_group.command("new-data-key")
def new_data_key() -> None:
    """Print a fresh random data key for IDP_DATA_KEY."""
    click.echo(crypto.generate_key())
