"""No secret ever reaches a log line; request ids are honoured and forwarded (issue 11, 7).

A real sign-in, token exchange, refresh, userinfo call and a mangled emailed link, through
the Flask test client, with every log record of every logger captured at DEBUG; then every
secret value seen on the wire is looked for in that text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
import secrets
import threading
import warnings
from collections.abc import Iterator
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from shared.logging_json import JsonFormatter

from .services import preserved_logging

REALM = "logs"
REDIRECT_URI = "https://app.example/cb"
PASSWORD = "Secret-Pass-" + secrets.token_urlsafe(8)
WRONG_PASSWORD = "Wrong-Pass-" + secrets.token_urlsafe(8)


class Capture(logging.Handler):
    """Keeps each record three ways: JSON line, plain message, and its raw arguments."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []
        self.json = JsonFormatter()

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.json.format(record))
        self.lines.append(f"{record.getMessage()} {record.args!r} {record.__dict__!r}")

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def capture() -> Iterator[Capture]:
    root = logging.getLogger()
    handler, level = Capture(), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def idp_app(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An idp set up only through its CLI (survives changes to its internals)."""
    from idp import create_app

    app = create_app({
        "TESTING": True, "SECRET_KEY": "logs-" + "k" * 40, "PUBLIC_URL": "http://idp.test",
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'idp.db'}",
        "RATELIMIT_ENABLED": False, "MAIL_SUPPRESS_SEND": True,
        "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1,
    })
    runner = app.test_cli_runner()
    realm = tmp_path / "realm.json"
    realm.write_text(json.dumps({"realm": REALM, "display_name": "Logs"}), encoding="utf-8")
    for args in (["db", "upgrade"], ["realms", "import", str(realm)],
                 ["customers", "create", "--realm", REALM, "--identifier", "400001",
                  "--email", "logs@example.test", "--email-verified", "--password", PASSWORD]):
        # Alembic's env.py uses a deprecated helper and reconfigures logging.
        with warnings.catch_warnings(), preserved_logging():
            warnings.simplefilter("ignore", DeprecationWarning)
            result = runner.invoke(args=args)
        assert result.exit_code == 0, result.output
    result = runner.invoke(args=["clients", "create", "--realm", REALM, "--client-id", "app",
                                 "--redirect-uri", REDIRECT_URI, "--grant-type",
                                 "authorization_code", "--grant-type", "refresh_token",
                                 "--scope", "openid profile offline_access", "--json"])
    assert result.exit_code == 0, result.output
    app.config["TEST_CLIENT_SECRET"] = json.loads(
        result.output[result.output.index("{"):])["client_secret"]
    yield app
    with app.app_context():
        from idp.extensions import db

        db.engine.dispose()


def _basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode())
            .decode()}


def test_no_secret_reaches_a_log_line(idp_app, capture: Capture) -> None:  # type: ignore[no-untyped-def]
    client = idp_app.test_client()
    client_secret = idp_app.config["TEST_CLIENT_SECRET"]
    wire: dict[str, str] = {"password": PASSWORD, "wrong password": WRONG_PASSWORD,
                            "client secret": client_secret}
    cookies: list[str] = []

    def remember_cookies(resp):  # type: ignore[no-untyped-def]
        for header in resp.headers.getlist("Set-Cookie"):
            cookies.extend(m.value for m in SimpleCookie(header).values() if m.value)
        return resp

    verifier = secrets.token_urlsafe(48)
    wire["code_verifier"] = verifier
    challenge = base64.urlsafe_b64encode(
        hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": "app", "redirect_uri": REDIRECT_URI, "response_type": "code",
                       "scope": "openid profile offline_access", "state": "st-1",
                       "nonce": "n-1", "code_challenge": challenge,
                       "code_challenge_method": "S256"})
    resp = remember_cookies(client.get(f"/realms/{REALM}/protocol/openid-connect/auth?{query}"))
    while resp.status_code in (302, 303) and not resp.headers["Location"].startswith(
            REDIRECT_URI):
        resp = remember_cookies(client.get(resp.headers["Location"]))
    login_url = resp.request.url
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', resp.text).group(1)
    wire["csrf token"] = csrf
    # A wrong password first, then the right one.
    bad = client.post(login_url, data={"login": "400001", "password": WRONG_PASSWORD,
                                       "csrf_token": csrf})
    assert bad.status_code == 401
    resp = remember_cookies(client.post(login_url, data={"login": "400001",
                                                         "password": PASSWORD,
                                                         "csrf_token": csrf}))
    while resp.status_code in (302, 303) and not resp.headers["Location"].startswith(
            REDIRECT_URI):
        resp = remember_cookies(client.get(resp.headers["Location"]))
    if resp.status_code == 200 and "csrf_token" in resp.text:  # a consent page
        form = dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', resp.text))
        resp = remember_cookies(client.post(resp.request.url, data={**form, "accept": "1"}))
    assert resp.status_code == 302, resp.text[:500]  # the idp redirects with 302 only
    params = parse_qs(urlsplit(resp.headers["Location"]).query)
    assert "code" in params, resp.headers["Location"]
    code = params["code"][0]
    wire["code"] = code

    token_url = f"/realms/{REALM}/protocol/openid-connect/token"
    refused = client.post(token_url, data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": REDIRECT_URI,
                                           "code_verifier": verifier},
                          headers=_basic("app", "not-the-secret-" + client_secret[:8]))
    assert refused.status_code == 401
    tokens = client.post(token_url, data={"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": REDIRECT_URI,
                                          "code_verifier": verifier},
                         headers=_basic("app", client_secret))
    assert tokens.status_code == 200, tokens.text
    body = tokens.json
    for name in ("access_token", "id_token", "refresh_token"):
        wire[name] = body[name]
    userinfo = client.get(f"/realms/{REALM}/protocol/openid-connect/userinfo",
                          headers={"Authorization": f"Bearer {body['access_token']}"})
    assert userinfo.status_code == 200
    refreshed = client.post(token_url, data={"grant_type": "refresh_token",
                                             "refresh_token": body["refresh_token"]},
                            headers=_basic("app", client_secret))
    assert refreshed.status_code == 200, refreshed.text
    wire["refreshed access_token"] = refreshed.json["access_token"]
    wire["refreshed refresh_token"] = refreshed.json["refresh_token"]
    # An emailed action link carries its secret in the path: it must be masked.
    link_secret = secrets.token_urlsafe(32)
    wire["action link secret"] = link_secret
    client.get(f"/realms/{REALM}/action/{link_secret}")
    client.get(f"/realms/{REALM}/action/{link_secret}/renew")
    for i, value in enumerate(cookies):
        wire[f"cookie {i}"] = value
    assert any(len(v) > 20 for v in cookies), "no session cookie captured"

    text = capture.text
    access = [json.loads(line) for line in capture.lines
              if line.startswith("{") and '"logger": "espace.access"' in line]
    assert len(access) >= 10  # one line per request
    assert all(line["request_id"] and line["path"].startswith("/") for line in access)
    assert any(line["path"] == f"/realms/{REALM}/action/***" for line in access)
    assert not any("?" in line["path"] for line in access)
    leaked = sorted(name for name, value in wire.items() if value and value in text)
    assert leaked == [], f"secrets found in logs: {leaked}"


def test_portal_logs_no_callback_code_and_forwards_the_request_id(tmp_path: Path,
                                                                   capture: Capture) -> None:
    from portal import create_app

    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("X-Request-ID"))
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        app = create_app({"TESTING": True, "SECRET_KEY": "portal-logs",
                          "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}",
                          "OIDC_ISSUER": f"http://127.0.0.1:{server.server_port}/realms/r"})
        with app.app_context():
            from portal.extensions import db

            db.create_all()
        code = secrets.token_urlsafe(32)
        resp = app.test_client().get(f"/auth/callback?code={code}&state=x",
                                     headers={"X-Request-ID": "from-the-balancer-1"})
        assert resp.headers["X-Request-ID"] == "from-the-balancer-1"
        assert code not in capture.text
        assert '"path": "/auth/callback"' in capture.text
        # A call to the idp made while serving a request carries that request's id.
        with app.test_request_context("/", headers={"X-Request-ID": "rid-7"}):
            app.preprocess_request()
            app.extensions["portal_oidc"].http.get(
                f"http://127.0.0.1:{server.server_port}/ping", timeout=5)
        assert seen[-1] == "rid-7"
        with app.app_context():
            db.engine.dispose()
    finally:
        server.shutdown()
        server.server_close()
