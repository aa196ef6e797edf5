"""The portal as a real process next to the idp process (on top of ``tests/e2e/conftest.py``).

``portal_server`` wires the portal the way ``scripts/demo.sh`` does, on free loopback ports:

- the demo realm (``config/demo/realm.json``) is loaded into the idp with the ``portal``
  client's redirect, post-logout and back-channel URIs pointing at this portal and a fresh
  client secret;
- the demo customers are created with the ``idp`` command as ``config/demo/load_demo.sh``
  does (100001 active with a password, 100002 and 100003 from ``customers.csv``);
- the portal gets its own database (a SQLite file, or a fresh PostgreSQL database on
  ``TEST_PORTAL_DATABASE_URL``'s server), ``portal db upgrade``, and the demo data of
  ``config/demo/portal-data.json`` imported with the issuer rewritten to this idp;
- then it runs under the server of record (``config/serve.py``) until the end of the session.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import BIN, IdpServer, free_port, fresh_database, stop, wait_up

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "config" / "demo"
CLIENT_ID = "portal"
PASSWORD = "Demo-2026!"


def demo_realm() -> dict:
    return json.loads((DEMO / "realm.json").read_text(encoding="utf-8"))


def demo_data() -> dict:
    return json.loads((DEMO / "portal-data.json").read_text(encoding="utf-8"))


@dataclass
class PortalServer:
    """A running portal: its ``url``, the idp it trusts, the realm, and its database."""

    url: str
    idp: IdpServer
    realm: str
    env: dict[str, str]
    data: dict

    @property
    def issuer(self) -> str:
        return self.idp.realm_url(self.realm).rstrip("/")

    def page_url(self, path: str = "/") -> str:
        return self.url + path

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([str(BIN / "portal"), *args], env=self.env,
                                capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise AssertionError(f"portal {' '.join(args)}: {result.stdout}{result.stderr}")
        return result

    def customer_data(self, customer_id: str) -> dict:
        return next(c for c in self.data["customers"] if c["customer_id"] == customer_id)

    def session_count(self, customer_id: str) -> int:
        """Rows of ``server_session`` for this customer (the portal's server-side sessions)."""
        from sqlalchemy import create_engine, text

        engine = create_engine(self.env["PORTAL_SQLALCHEMY_DATABASE_URI"])
        try:
            with engine.connect() as conn:
                return conn.execute(
                    text("SELECT count(*) FROM server_session WHERE customer_id = :c"),
                    {"c": customer_id},
                ).scalar_one()
        finally:
            engine.dispose()


def _load_realm(idp: IdpServer, portal_url: str, secret: str) -> str:
    realm = demo_realm()
    for client in realm["clients"]:
        if client["client_id"] == CLIENT_ID:
            client.update(
                client_secret=secret,
                redirect_uris=[f"{portal_url}/auth/callback"],
                post_logout_redirect_uris=[f"{portal_url}/"],
                backchannel_logout_uri=f"{portal_url}/auth/backchannel-logout",
            )
    return idp.load_realm(realm)


def _create_customers(idp: IdpServer, realm: str) -> None:
    idp.cli("customers", "create", "--realm", realm, "--identifier", "100001",
            "--email", "marie.dupont@example.test", "--email-verified", "--password", PASSWORD,
            "--given-name", "Marie", "--family-name", "Dupont")
    idp.cli("customers", "import", "--realm", realm, str(DEMO / "customers.csv"))


@pytest.fixture(scope="session", name="portal_server")
def portal_server_fixture(idp_server: IdpServer, tmp_path_factory) -> Iterator[PortalServer]:
    tmp = tmp_path_factory.mktemp("portal")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    secret = secrets.token_urlsafe(32)
    realm = _load_realm(idp_server, url, secret)
    _create_customers(idp_server, realm)

    uri, drop = fresh_database(tmp, "TEST_PORTAL_DATABASE_URL", "portal-e2e")
    issuer = idp_server.realm_url(realm).rstrip("/")
    env = {
        **os.environ,
        "PORTAL_OIDC_ISSUER": issuer,
        "PORTAL_OIDC_CLIENT_ID": CLIENT_ID,
        "PORTAL_OIDC_CLIENT_SECRET": secret,
        "PORTAL_PUBLIC_URL": url,
        "PORTAL_SQLALCHEMY_DATABASE_URI": uri,
        "PORTAL_SECRET_KEY": "e2e-portal-" + uuid.uuid4().hex,
        "FLASK_DEBUG": "0",
    }
    data = demo_data()
    data["issuer"] = issuer
    for customer in data["customers"]:
        if "issuer" in customer:
            customer["issuer"] = issuer
    data_file = tmp / "portal-data.json"
    data_file.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    server = PortalServer(url=url, idp=idp_server, realm=realm, env=env, data=data)
    log_path = tmp / "portal.log"
    log = log_path.open("w")
    proc = None
    try:
        server.cli("db", "upgrade")
        server.cli("data", "import", str(data_file))
        proc = subprocess.Popen(
            [str(BIN / "python"), str(ROOT / "config" / "serve.py"), "portal.wsgi:app",
             "--bind", f"127.0.0.1:{port}", "--workers", "1"],
            env=env, stdout=log, stderr=subprocess.STDOUT, cwd=str(ROOT),
        )
        wait_up(url + "/a-propos", proc, "portal", log_path)
        yield server
    finally:
        if proc is not None:
            stop(proc)
        log.close()
        if drop:
            drop()
