"""Over real HTTP: an agency app registers itself with pyoidc (RFC 7591) and signs a
customer in after consent; the OpenAPI-only example script creates a customer and issues
a temporary code that then opens a première connexion."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from oic.oic import Client
from oic.oic.message import AuthorizationResponse
from oic.utils.authn.client import CLIENT_AUTHN_METHOD
from werkzeug.serving import make_server

from idp import create_app
from idp.extensions import db
from tests.api.conftest import ALL_SCOPES, PARIS, SECRET, service_client
from tests.interop.test_oic_client import free_port
from tests.support.realms import import_realm

ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "https://agence-app.example/cb"


@pytest.fixture
def live(idp_config):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app({**idp_config, "PUBLIC_URL": base, "TESTING": False})
    with app.app_context():
        db.create_all()
        import_realm({"realm": PARIS, "display_name": "Paris",
                      "clients": [service_client("crm", ALL_SCOPES)]})
    runner = app.test_cli_runner()
    result = runner.invoke(args=["customers", "create", "--realm", PARIS, "--identifier", "800",
                                 "--email", "live@example.test", "--email-verified",
                                 "--password", "Bonjour-2026!", "--given-name", "Ana"])
    assert result.exit_code == 0, result.output
    out = runner.invoke(args=["clients", "initial-token", "--realm", PARIS, "--json"])
    assert out.exit_code == 0, out.output
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, json.loads(out.output)["token"]
    server.shutdown()
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def browser(auth_url: str, login: str, password: str) -> tuple[requests.Session, str]:
    """Sign in, approve the consent screen, return the callback URL."""
    session = requests.Session()
    resp = session.get(auth_url)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', resp.text).group(1)
    resp = session.post(resp.url, data={"login": login, "password": password,
                                        "csrf_token": token})
    assert "consent-approve" in resp.text, resp.text[:500]
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', resp.text))
    action = re.search(r'<form method="post" action="([^"]+)"', resp.text).group(1)
    resp = session.post(requests.compat.urljoin(resp.url, action),
                        data={**fields, "consent": "approve"}, allow_redirects=False)
    assert resp.status_code == 302 and resp.headers["Location"].startswith(CALLBACK)
    return session, resp.headers["Location"]


def test_app_registers_with_pyoidc_then_signs_a_customer_in(live):
    base, initial = live
    issuer = f"{base}/realms/{PARIS}"
    rp = Client(client_authn_method=CLIENT_AUTHN_METHOD)
    provider = rp.provider_config(issuer)
    registration = rp.register(provider["registration_endpoint"], registration_token=initial,
                               redirect_uris=[CALLBACK], client_name="Appli agence",
                               grant_types=["authorization_code"], response_types=["code"],
                               token_endpoint_auth_method="client_secret_basic")
    assert registration["client_id"].startswith("dyn-")
    assert registration["registration_access_token"]
    request = rp.construct_AuthorizationRequest(request_args={
        "client_id": rp.client_id, "response_type": "code", "scope": "openid profile email",
        "state": "st-1", "nonce": "n-1", "redirect_uri": CALLBACK})
    _session, callback = browser(request.request(rp.authorization_endpoint), "800",
                                 "Bonjour-2026!")
    auth = rp.parse_response(AuthorizationResponse, info=urlsplit(callback).query,
                             sformat="urlencoded")
    tokens = rp.do_access_token_request(state="st-1", request_args={
        "code": auth["code"], "redirect_uri": CALLBACK}, authn_method="client_secret_basic")
    assert tokens["id_token"]["nonce"] == "n-1"
    assert rp.do_user_info_request(state="st-1")["email"] == "live@example.test"
    # The one-use initial token is spent.
    again = requests.post(provider["registration_endpoint"], json={"redirect_uris": [CALLBACK]},
                          headers={"Authorization": f"Bearer {initial}"}, timeout=5)
    assert again.status_code == 401


def test_openapi_only_script_creates_customer_and_code(live):
    base, _initial = live
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "admin_api_example.py"),
                          "--idp", base, "--realm", PARIS, "--client-id", "crm",
                          "--client-secret", SECRET, "--identifier", "900001",
                          "--email", "nouveau@example.test"],
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["identifier"] == "900001"
    assert result["status"] in ("migration_pending", "email_to_verify")
    code = result["temporary_code"]
    # The code opens the première connexion.
    session = requests.Session()
    page = session.get(f"{base}/realms/{PARIS}/login")
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    resp = session.post(f"{base}/realms/{PARIS}/login",
                        data={"login": "900001", "password": code, "csrf_token": csrf})
    assert resp.status_code == 200
    assert urlsplit(resp.url).path != f"/realms/{PARIS}/login", resp.text[:300]
    wrong = requests.Session()
    page = wrong.get(f"{base}/realms/{PARIS}/login")
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text).group(1)
    bad = wrong.post(f"{base}/realms/{PARIS}/login",
                     data={"login": "900001", "password": "000000" if code != "000000"
                           else "111111", "csrf_token": csrf})
    assert urlsplit(bad.url).path == f"/realms/{PARIS}/login"  # the code, not any code
    again = subprocess.run([sys.executable, str(ROOT / "scripts" / "admin_api_example.py"),
                            "--idp", base, "--realm", PARIS, "--client-id", "crm",
                            "--client-secret", SECRET, "--identifier", "900001"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert again.returncode != 0 and "409" in again.stderr
