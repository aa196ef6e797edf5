"""The fakes enforce what the real providers enforce (so the adapters are tested for real)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests

from .conftest import CREDENTIALS, ROOT, authorize, redirect_uri


def authorize_url(base: str, path: str, alias: str, **params: str) -> str:
    query = {"client_id": CREDENTIALS[alias][0], "redirect_uri": redirect_uri(alias),
             "response_type": "code", "state": "st", **params}
    return f"{base}{path}?{urlencode(query)}"


def test_consent_page_lists_users_and_allow_cancel(fakes) -> None:
    url = authorize_url(fakes["google"], "/o/oauth2/v2/auth", "google", scope="openid email")
    page = requests.get(url, timeout=5)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    for text in ('value="alice"', 'value="chloe"', ">Allow<", ">Cancel<", 'method="post"'):
        assert text in page.text
    # pressing the buttons posts the form back
    form = dict(parse_qsl(urlsplit(url).query), login_hint="bruno", auto="allow")
    resp = requests.post(url.split("?")[0], data=form, allow_redirects=False, timeout=5)
    assert resp.status_code == 302 and "code=" in resp.headers["Location"]
    resp = requests.post(url.split("?")[0], data={**form, "auto": "cancel"},
                         allow_redirects=False, timeout=5)
    assert "error=access_denied" in resp.headers["Location"]


def test_unregistered_redirect_uri_is_an_error_page_not_a_redirect(fakes) -> None:
    paths = {"google": "/o/oauth2/v2/auth", "linkedin": "/oauth/v2/authorization",
             "facebook": "/v24.0/dialog/oauth", "x": "/i/oauth2/authorize"}
    for alias, path in paths.items():
        url = authorize_url(fakes[alias], path, alias, scope="openid",
                            redirect_uri="https://evil.example.com/cb", auto="allow",
                            login_hint="alice", code_challenge="c" * 43,
                            code_challenge_method="S256")
        resp = requests.get(url, allow_redirects=False, timeout=5)
        assert resp.status_code == 400, alias
        assert "Location" not in resp.headers


def test_token_redirect_uri_must_match_exactly(fakes) -> None:
    base = fakes["google"]
    args = authorize(authorize_url(base, "/o/oauth2/v2/auth", "google", scope="openid"))
    cid, secret = CREDENTIALS["google"]
    resp = requests.post(f"{base}/token", timeout=5, data={
        "grant_type": "authorization_code", "code": args["code"], "client_id": cid,
        "client_secret": secret, "redirect_uri": redirect_uri("google") + "/"})
    assert resp.status_code == 400 and resp.json()["error"] == "redirect_uri_mismatch"


def test_google_accepts_basic_auth_and_expands_scope(fakes) -> None:
    base = fakes["google"]
    args = authorize(authorize_url(base, "/o/oauth2/v2/auth", "google",
                                   scope="openid email profile"))
    assert args["iss"] == base and args["authuser"] == "0"
    resp = requests.post(f"{base}/token", auth=CREDENTIALS["google"], timeout=5, data={
        "grant_type": "authorization_code", "code": args["code"],
        "redirect_uri": redirect_uri("google")})
    body = resp.json()
    assert resp.status_code == 200
    assert "https://www.googleapis.com/auth/userinfo.email" in body["scope"]


def test_linkedin_rejects_basic_auth_and_pkce(fakes) -> None:
    base = fakes["linkedin"]
    cid, secret = CREDENTIALS["linkedin"]
    for extra in ({"auth": (cid, secret), "data": {}},
                  {"data": {"client_id": cid, "client_secret": secret,
                            "code_verifier": "v" * 50}}):
        args = authorize(authorize_url(base, "/oauth/v2/authorization", "linkedin",
                                       scope="openid,profile,email"))
        data = {"grant_type": "authorization_code", "code": args["code"],
                "redirect_uri": redirect_uri("linkedin"), **extra["data"]}
        resp = requests.post(f"{base}/oauth/v2/accessToken", data=data,
                             auth=extra.get("auth"), timeout=5)
        assert resp.status_code == 401
        assert resp.json() == {"error": "invalid_client",
                               "error_description": "Client authentication failed"}


def test_facebook_me_requires_appsecret_proof(fakes) -> None:
    base = fakes["facebook"]
    cid, secret = CREDENTIALS["facebook"]
    args = authorize(authorize_url(base, "/v24.0/dialog/oauth", "facebook", scope="email"))
    token = requests.get(f"{base}/v24.0/oauth/access_token", timeout=5, params={
        "client_id": cid, "client_secret": secret, "redirect_uri": redirect_uri("facebook"),
        "code": args["code"]}).json()
    assert token["token_type"] == "bearer"
    at = token["access_token"]
    missing = requests.get(f"{base}/v24.0/me", params={"access_token": at}, timeout=5)
    assert missing.status_code == 400 and missing.json()["error"]["code"] == 100
    wrong = requests.get(f"{base}/v24.0/me", timeout=5,
                         params={"access_token": at, "appsecret_proof": "0" * 64})
    assert "Invalid appsecret_proof" in wrong.json()["error"]["message"]

    proof = hmac.new(secret.encode(), at.encode(), hashlib.sha256).hexdigest()
    ok = requests.get(f"{base}/v24.0/me", timeout=5,
                      params={"access_token": at, "appsecret_proof": proof})
    assert ok.json() == {"id": ok.json()["id"], "name": "Alice Martin"}  # default fields


def test_x_requires_pkce_and_basic(fakes) -> None:
    base = fakes["x"]
    resp = requests.get(authorize_url(base, "/i/oauth2/authorize", "x",
                                      scope="users.read tweet.read", auto="allow",
                                      login_hint="alice"), allow_redirects=False, timeout=5)
    assert "error=invalid_request" in resp.headers["Location"]
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    args = authorize(authorize_url(base, "/i/oauth2/authorize", "x",
                                   scope="users.read tweet.read",
                                   code_challenge=challenge.rstrip(b"=").decode(),
                                   code_challenge_method="S256"))
    cid, secret = CREDENTIALS["x"]
    data = {"grant_type": "authorization_code", "code": args["code"],
            "redirect_uri": redirect_uri("x"), "code_verifier": verifier}
    no_basic = requests.post(f"{base}/2/oauth2/token", timeout=5,
                             data={**data, "client_id": cid, "client_secret": secret})
    assert no_basic.status_code == 401 and no_basic.json()["error"] == "unauthorized_client"
    ok = requests.post(f"{base}/2/oauth2/token", auth=(cid, secret), data=data, timeout=5)
    assert ok.status_code == 200 and "refresh_token" not in ok.json()
    me = requests.get(f"{base}/2/users/me", timeout=5,
                      headers={"Authorization": f"Bearer {ok.json()['access_token']}"}).json()
    assert set(me["data"]) == {"id", "name", "username"}


def test_fake_runs_by_hand_with_a_users_file(tmp_path) -> None:
    users = tmp_path / "users.json"
    users.write_text(json.dumps({"zoe": {"name": "Zoé Roux", "email": "zoe@example.com",
                                         "email_verified": True}}), encoding="utf-8")
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.x", "--port", "0",
                             "--users", str(users)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("LISTENING http://127.0.0.1:")
        base = line.split()[1]
        page = requests.get(authorize_url(base, "/i/oauth2/authorize", "x",
                                          scope="users.read tweet.read",
                                          code_challenge="c" * 43,
                                          code_challenge_method="S256"), timeout=5)
        assert 'value="zoe"' in page.text and 'value="alice"' not in page.text
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        if proc.stdout is not None:
            proc.stdout.close()


def test_x_codes_expire() -> None:
    """X codes live 30 s; in-process fake with a zero TTL shows the expiry is enforced."""
    from tests.fakes import x as fake_x

    app = fake_x.create_app("http://127.0.0.1:1", code_ttl=0.0)
    client = app.test_client()
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    resp = client.get("/i/oauth2/authorize?" + urlencode({
        "client_id": "x-client-id", "redirect_uri": redirect_uri("x"), "response_type": "code",
        "state": "s", "scope": "users.read tweet.read", "code_challenge_method": "S256",
        "code_challenge": challenge.rstrip(b"=").decode(), "auto": "allow",
        "login_hint": "alice"}))
    code = dict(parse_qsl(urlsplit(resp.headers["Location"]).query))["code"]
    token = client.post("/2/oauth2/token", headers={
        "Authorization": "Basic " + base64.b64encode(b"x-client-id:x-client-secret").decode()},
        data={"grant_type": "authorization_code", "code": code,
              "redirect_uri": redirect_uri("x"), "code_verifier": verifier})
    assert token.status_code == 400
    assert token.get_json()["error_description"].startswith("Value passed for the authorization")
