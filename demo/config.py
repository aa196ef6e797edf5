"""The demo's realm and portal data, with this run's ports and the portal's secret.

``config/demo/realm.json`` and ``portal-data.json`` name the default demo ports
(idp 5100 and portal 5101 on ``localhost``, demo providers 5111–5114 on ``127.0.0.1``).
When ``make demo`` (or the screenshot script) runs on other ports, every loopback URL of
those files is rewritten here, so the redirect URIs, the providers' endpoints and the
portal data's issuer stay consistent.

``python -m demo.config OUT_DIR`` reads the ports from the environment (``IDP_PORT``,
``PORTAL_PORT``, ``FACEBOOK_PORT``, ``LINKEDIN_PORT``, ``GOOGLE_PORT``, ``X_PORT``) and the
portal's client secret from ``OUT_DIR/portal-secret``; it writes ``OUT_DIR/realm.json`` and
``OUT_DIR/portal-data.json``.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

CONFIG = Path(__file__).resolve().parents[1] / "config" / "demo"

#: The port each service has in the files under ``config/demo``.
DEFAULT_PORTS: dict[str, int] = {
    "idp": 5100, "portal": 5101,
    "facebook": 5111, "linkedin": 5112, "google": 5113, "x": 5114,
}
#: The host of the pages a visitor opens (idp, portal, inbox): ``localhost``, because
#: browsers refuse WebAuthn (passkeys) on an IP address. The demo providers' endpoints,
#: called by the idp too, stay on ``127.0.0.1``.
HOST = "localhost"
LOOPBACK_URL = re.compile(r"//(127\.0\.0\.1|localhost):(\d+)")
#: The demo's social providers, in the sign-in page's order.
PROVIDERS = ("facebook", "linkedin", "google", "x")


def ports_from_env(env: Mapping[str, str]) -> dict[str, int]:
    """``{service: port}`` from ``<SERVICE>_PORT`` variables, defaults otherwise."""
    return {name: int(env.get(f"{name.upper()}_PORT") or port)
            for name, port in DEFAULT_PORTS.items()}


def _rewrite(text: str, ports: Mapping[str, int]) -> str:
    """Every loopback URL (``localhost`` or ``127.0.0.1``) on a default port moved to this
    run's port for the same service, its host kept (one pass: swapped ports cannot
    collide)."""
    by_port = {str(port): name for name, port in DEFAULT_PORTS.items()}

    def moved(match: re.Match[str]) -> str:
        name = by_port.get(match.group(2))
        return f"//{match.group(1)}:{ports[name]}" if name else match.group(0)

    return LOOPBACK_URL.sub(moved, text)


def demo_realm(ports: Mapping[str, int], portal_secret: str | None = None) -> dict[str, Any]:
    """The demo realm for these ports, with the portal's secret when given."""
    realm = json.loads(_rewrite((CONFIG / "realm.json").read_text(encoding="utf-8"), ports))
    if portal_secret:
        for client in realm["clients"]:
            if client["client_id"] == "portal":
                client["client_secret"] = portal_secret
    return realm


def demo_portal_data(ports: Mapping[str, int]) -> dict[str, Any]:
    """The portal's demo data, keyed by the issuer of the idp on these ports."""
    return json.loads(_rewrite((CONFIG / "portal-data.json").read_text(encoding="utf-8"),
                               ports))


def provider_urls(ports: Mapping[str, int]) -> dict[str, str]:
    """``{alias: base URL}`` of the demo providers."""
    return {alias: f"http://127.0.0.1:{ports[alias]}" for alias in PROVIDERS}


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m demo.config OUT_DIR")
    out = Path(args[0])
    ports = ports_from_env(os.environ)
    secret_file = out / "portal-secret"
    secret = secret_file.read_text(encoding="utf-8").strip() if secret_file.exists() else None
    (out / "realm.json").write_text(
        json.dumps(demo_realm(ports, secret), ensure_ascii=False, indent=1), encoding="utf-8")
    (out / "portal-data.json").write_text(
        json.dumps(demo_portal_data(ports), ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
