"""Configuration loading shared by the idp and the portal.

Order (later wins): built-in defaults, an optional file named by ``{PREFIX}_CONFIG_FILE``,
the environment (``{PREFIX}_X`` sets ``X``), then the explicit test mapping.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from typing import Any

from flask import Flask


def load_config(
    app: Flask, prefix: str, defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None
) -> None:
    """Fill ``app.config`` from defaults, a config file, the environment and overrides."""
    app.config.from_mapping(defaults)
    config_file = os.environ.get(f"{prefix}_CONFIG_FILE")
    if config_file:
        app.config.from_pyfile(config_file)
    app.config.from_prefixed_env(prefix)
    if overrides:
        app.config.from_mapping(overrides)
    if not app.config.get("SECRET_KEY"):
        if app.config.get("PRODUCTION"):
            raise RuntimeError(f"{prefix}_SECRET_KEY must be set in production")
        # Development only: a random key means sessions do not survive a restart.
        app.logger.warning("%s_SECRET_KEY is not set: using a random key", prefix)
        app.config["SECRET_KEY"] = secrets.token_urlsafe(32)


def is_https(url: str | None) -> bool:
    """Whether a public URL is served over TLS (decides the Secure cookie flag)."""
    return bool(url) and url.lower().startswith("https://")
