"""The workloads of record: each prepares its state over HTTP, then hands ``wrk`` a Lua script.

Every workload runs on a fresh idp (fresh database) so one workload's rows never weigh on
another's. A workload yields a :class:`Load`: the server whose CPU is measured, the URL, the
Lua script (``bench_init``, ``request``, ``response``; ``response`` counts completed
operations in ``ops``) and ``params()``, called before each wrk run, whose values become Lua
globals (a refresh run gets freshly minted refresh tokens, for instance).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode, urlsplit

import requests

from . import floor_app, harness
from .harness import CUSTOMER, PASSWORD, REDIRECT_URI, Idp, Server

VERIFIER = "bench-pkce-verifier-" + "v" * 40
CHALLENGE = base64.urlsafe_b64encode(hashlib.sha256(VERIFIER.encode()).digest()).rstrip(b"=")
OWASP_ARGON2 = {"IDP_ARGON2_TIME_COST": "2", "IDP_ARGON2_MEMORY_COST": "19456",
                "IDP_ARGON2_PARALLELISM": "1"}


@dataclass
class Load:
    server: Server
    url: str
    script: str
    params: Callable[[], dict] = dict
    connections: int = 16


@dataclass
class Workload:
    name: str
    title: str
    prepare: Callable[[Idp, Path], Iterator[Load]]
    idp_env: dict = field(default_factory=dict)
    min_seconds: float = 0
    #: Runs without an idp (the floor, the peer): ``prepare`` gets ``None``.
    standalone: bool = False
    #: Whether it can run on this machine (the node peer is optional).
    available: Callable[[], bool] = lambda: True


# --- OIDC client side, over HTTP ---------------------------------------------------------


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def authorize_params(scope: str = "openid customer offline_access") -> dict:
    return {"client_id": "portal", "redirect_uri": REDIRECT_URI, "response_type": "code",
            "scope": scope, "state": "bench-state", "nonce": "bench-nonce",
            "code_challenge": CHALLENGE.decode(), "code_challenge_method": "S256"}


def login_form(session: requests.Session, url: str) -> str:
    """GET the sign-in page at ``url``; returns its CSRF token."""
    page = session.get(url, allow_redirects=False, timeout=30)
    page.raise_for_status()
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', page.text)
    if not match:
        raise RuntimeError(f"no CSRF token on {url}")
    return match.group(1)


def signed_in(idp: Idp) -> requests.Session:
    """A browser session that went through authorize → sign-in (an SSO session)."""
    session = requests.Session()
    base = idp.server.url
    resp = session.get(idp.endpoint("auth"), params=authorize_params(), allow_redirects=False,
                       timeout=30)
    login_url = requests.compat.urljoin(base, resp.headers["Location"])
    csrf = login_form(session, login_url)
    resp = session.post(login_url, data={"csrf_token": csrf, "login": CUSTOMER,
                                         "password": PASSWORD}, allow_redirects=False, timeout=30)
    if resp.status_code != 302:
        raise RuntimeError(f"sign-in failed: {resp.status_code}")
    return session


def code_flow(idp: Idp, session: requests.Session,
              scope: str = "openid customer offline_access") -> dict:
    """authorize (with the SSO session) → code → token; returns the token response."""
    resp = session.get(idp.endpoint("auth"), params=authorize_params(scope),
                       allow_redirects=False, timeout=30)
    match = re.search(r"[?&]code=([^&]+)", resp.headers.get("Location", ""))
    if not match:
        raise RuntimeError(f"authorize gave no code: {resp.status_code} {resp.headers}")
    token = requests.post(idp.endpoint("token"), timeout=30, data={
        "grant_type": "authorization_code", "code": match.group(1),
        "redirect_uri": REDIRECT_URI, "code_verifier": VERIFIER},
        auth=("portal", idp.secrets["portal"]))
    token.raise_for_status()
    return token.json()


def cookie_header(session: requests.Session) -> str:
    return "; ".join(f"{c.name}={c.value}" for c in session.cookies)


# --- Lua ---------------------------------------------------------------------------------

FIXED_REQUEST = """
function bench_init() end
function request() return wrk.format(METHOD, PATH, HEADERS, BODY) end
function response(status, headers, body)
  if status >= 200 and status < 400 then ops = ops + 1 end
end
"""

REFRESH_CHAIN = """
-- Each successful rotation hands back the next refresh token of its chain: a queue per
-- thread, seeded with one freshly minted token per connection (and a few spare).
local queue = {}
function bench_init()
  local i = 0
  for tok in string.gmatch(SEEDS, "[^,]+") do
    if i % BENCH_THREADS + 1 == bench_thread_no then table.insert(queue, tok) end
    i = i + 1
  end
end
function request()
  local tok = table.remove(queue, 1) or "exhausted"
  return wrk.format("POST", PATH, HEADERS, "grant_type=refresh_token&refresh_token=" .. tok)
end
function response(status, headers, body)
  if status == 200 then
    local tok = string.match(body, '"refresh_token": *"([^"]+)"')
    if tok then
      table.insert(queue, tok)
      ops = ops + 1
    end
  end
end
"""

CODE_FLOW = """
-- A connection that finds a code waiting redeems it, else it starts a new authorization:
-- the two halves of the flow interleave over the connections.
local codes = {}
function bench_init() end
function request()
  local code = table.remove(codes)
  if code then
    return wrk.format("POST", TOKEN_PATH, TOKEN_HEADERS, TOKEN_BODY .. code)
  end
  return wrk.format("GET", AUTH_PATH, AUTH_HEADERS)
end
function response(status, headers, body)
  if status == 302 then
    local code = string.match(headers["Location"] or headers["location"] or "",
                              "[?&]code=([^&]+)")
    if code then table.insert(codes, code) end
  elseif status == 200 and string.find(body, '"access_token"', 1, true) then
    ops = ops + 1
  end
end
"""

FORM = "application/x-www-form-urlencoded"


# --- workloads -----------------------------------------------------------------------------


@contextmanager
def client_credentials(idp: Idp, _tmp: Path) -> Iterator[Load]:
    url = idp.endpoint("token")
    yield Load(idp.server, url, FIXED_REQUEST, lambda: {
        "METHOD": "POST", "PATH": path_of(url), "BODY": "grant_type=client_credentials",
        "HEADERS": {"Authorization": basic("svc", idp.secrets["svc"]), "Content-Type": FORM}})


@contextmanager
def client_credentials_es256(idp: Idp, _tmp: Path) -> Iterator[Load]:
    """The same grant for a client whose access tokens are ES256
    (``access_token_signed_response_alg``)."""
    url = idp.endpoint("token")
    yield Load(idp.server, url, FIXED_REQUEST, lambda: {
        "METHOD": "POST", "PATH": path_of(url), "BODY": "grant_type=client_credentials",
        "HEADERS": {"Authorization": basic("svc_es", idp.secrets["svc_es"]),
                    "Content-Type": FORM}})


@contextmanager
def refresh(idp: Idp, _tmp: Path) -> Iterator[Load]:
    url = idp.endpoint("token")
    session = signed_in(idp)
    connections = 16

    def params() -> dict:
        seeds = [code_flow(idp, session)["refresh_token"] for _ in range(connections + 8)]
        return {"PATH": path_of(url), "SEEDS": ",".join(seeds), "HEADERS": {
            "Authorization": basic("portal", idp.secrets["portal"]), "Content-Type": FORM}}

    yield Load(idp.server, url, REFRESH_CHAIN, params, connections)


@contextmanager
def code_flows(idp: Idp, _tmp: Path) -> Iterator[Load]:
    session = signed_in(idp)
    auth_url = idp.endpoint("auth") + "?" + urlencode(authorize_params())
    body = urlencode({"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI,
                      "code_verifier": VERIFIER}) + "&code="
    yield Load(idp.server, auth_url, CODE_FLOW, lambda: {
        "AUTH_PATH": path_of(auth_url), "AUTH_HEADERS": {"Cookie": cookie_header(session)},
        "TOKEN_PATH": path_of(idp.endpoint("token")), "TOKEN_BODY": body,
        "TOKEN_HEADERS": {"Authorization": basic("portal", idp.secrets["portal"]),
                          "Content-Type": FORM}})


@contextmanager
def sign_in(idp: Idp, _tmp: Path) -> Iterator[Load]:
    """POST the sign-in form (identifier + password): one password check and a new session.

    The form's cookie and CSRF token are fetched once; the cookie is signed, not stored, so
    every request replays the same pre-sign-in state. The requests also carry the device
    cookie of a browser already known (from one sign-in during preparation): a customer
    mostly signs in from a browser used before, so that is the case measured. Without it
    every request would be a new browser (a new device row each time; their cost stays
    constant, see ``idp/core/devices.py``, but it is the rare case, not the common one).
    """
    url = f"{idp.issuer}/login"
    first = requests.Session()
    resp = first.post(url, data={"csrf_token": login_form(first, url), "login": CUSTOMER,
                                 "password": PASSWORD}, allow_redirects=False, timeout=30)
    device_name = f"idp_device_{harness.REALM_SLUG}"
    device = first.cookies.get(device_name)
    if resp.status_code != 302 or not device:
        raise RuntimeError(f"preparation sign-in gave no device cookie: {resp.status_code}")
    session = requests.Session()
    csrf = login_form(session, url)
    body = f"csrf_token={quote(csrf)}&login={CUSTOMER}&password={quote(PASSWORD)}"
    yield Load(idp.server, url, FIXED_REQUEST, lambda: {
        "METHOD": "POST", "PATH": path_of(url), "BODY": body,
        "HEADERS": {"Cookie": f"{cookie_header(session)}; {device_name}={device}",
                    "Content-Type": FORM}}, connections=4)


@contextmanager
def portal_api(idp: Idp, tmp: Path) -> Iterator[Load]:
    """``GET /api/v1/me`` on the portal (its own server on CPU 0, the idp idle beside it)
    with an idp-issued RS256 access token verified locally against the cached JWKS."""
    access_token = code_flow(idp, signed_in(idp), "openid customer")["access_token"]
    kind = "sqlite" if idp.env["IDP_SQLALCHEMY_DATABASE_URI"].startswith("sqlite") else "pg"
    with harness.database(kind, tmp, "portal") as db_url:
        env = {k: v for k, v in idp.env.items() if not k.startswith("IDP_")}
        port = harness.free_port()
        env.update({
            "FLASK_APP": "portal.wsgi:app",
            "PORTAL_SECRET_KEY": "bench-" + "p" * 40,
            "PORTAL_SQLALCHEMY_DATABASE_URI": db_url,
            "PORTAL_PUBLIC_URL": f"http://127.0.0.1:{port}",
            "PORTAL_OIDC_ISSUER": idp.issuer,
            "PORTAL_OIDC_CLIENT_ID": "portal",
            "PORTAL_OIDC_CLIENT_SECRET": idp.secrets["portal"],
        })
        harness.run_cli("portal", env, "db", "upgrade")
        data = tmp / "portal-data.json"
        data.write_text(json.dumps({"version": 1, "issuer": idp.issuer, "customers": [
            {"customer_id": CUSTOMER, "display_name": "Marie Bench", "ledger": [
                {"ref": "E-1", "date": "2025-01-05", "label": "Appel de fonds",
                 "debit": "612.50", "credit": None}]}]}), encoding="utf-8")
        harness.run_cli("portal", env, "data", "import", data)
        with harness.serving("portal.wsgi:app", env, port, "/api/v1/openapi.json") as portal:
            url = f"{portal.url}/api/v1/me"
            check = requests.get(url, headers={"Authorization": f"Bearer {access_token}"},
                                 timeout=30)
            if check.status_code != 200:
                raise RuntimeError(f"portal API refused the token: {check.status_code} "
                                   f"{check.text[:300]}")
            yield Load(portal, url, FIXED_REQUEST, lambda: {
                "METHOD": "GET", "PATH": path_of(url), "BODY": "",
                "HEADERS": {"Authorization": f"Bearer {access_token}"}})


@contextmanager
def _floor(path: str, method: str = "POST") -> Iterator[Load]:
    """The bare Flask app of ``bench/floor_app.py``, served like the idp (same server,
    same settings, same core): the ceiling of this run for each kind of request."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IDP_", "PORTAL_"))}
    env["PYTHONPATH"] = str(harness.ROOT)
    with harness.serving("bench.floor_app:app", env) as server:
        body = "grant_type=client_credentials" if method == "POST" else ""
        yield Load(server, server.url + path, FIXED_REQUEST, lambda: {
            "METHOD": method, "PATH": path, "BODY": body,
            "HEADERS": {"Authorization": basic(*floor_app.CLIENT), "Content-Type": FORM}})


@contextmanager
def floor_json(_idp: None, _tmp: Path) -> Iterator[Load]:
    with _floor("/json", "GET") as load:
        yield load


@contextmanager
def floor_rs256(_idp: None, _tmp: Path) -> Iterator[Load]:
    with _floor("/rs256") as load:
        yield load


@contextmanager
def floor_es256(_idp: None, _tmp: Path) -> Iterator[Load]:
    with _floor("/es256") as load:
        yield load


PEER_DIR = Path(__file__).resolve().parent / "peer"
PEER_SECRET = "peer-secret-" + "0123456789abcdef" * 2


def peer_available() -> bool:
    """node and ``npm install`` done in ``bench/peer`` (optional: skipped otherwise)."""
    return bool(shutil.which("node")) and (PEER_DIR / "node_modules" / "oidc-provider").is_dir()


@contextmanager
def peer_client_credentials(_idp: None, _tmp: Path) -> Iterator[Load]:
    """node ``oidc-provider`` (bench/peer/server.mjs) answering the same grant on the same
    core: a maintained provider's figure beside ours in every run."""
    server = Server("oidc-provider", dict(os.environ), health="!/token",
                    argv=lambda port: ["node", PEER_DIR / "server.mjs", port, PEER_SECRET])
    server.start()
    try:
        yield Load(server, server.url + "/token", FIXED_REQUEST, lambda: {
            "METHOD": "POST", "PATH": "/token", "BODY": "grant_type=client_credentials",
            "HEADERS": {"Authorization": basic("svc", PEER_SECRET), "Content-Type": FORM}})
    finally:
        server.stop()


#: Each hot path's floor: the bare-Flask request it is compared with in the report.
FLOOR_OF = {"client_credentials": "floor_rs256", "client_credentials_es256": "floor_es256",
            "refresh": "floor_es256", "code_flow": "floor_es256", "sign_in": "floor_json",
            "sign_in_owasp": "floor_json", "portal_api": "floor_json"}

WORKLOADS = [
    Workload("floor_json", "floor: bare Flask, GET small JSON", floor_json, standalone=True),
    Workload("floor_rs256", "floor: bare Flask, form + Basic -> RS256 JWT", floor_rs256,
             standalone=True),
    Workload("floor_es256", "floor: bare Flask, form + Basic -> ES256 JWT", floor_es256,
             standalone=True),
    Workload("peer_client_credentials", "node oidc-provider, client-credentials (peer)",
             peer_client_credentials, standalone=True, available=peer_available),
    Workload("client_credentials", "client-credentials grants", client_credentials),
    Workload("client_credentials_es256", "client-credentials grants, ES256 access token",
             client_credentials_es256),
    Workload("refresh", "refresh grants (rotation)", refresh),
    Workload("code_flow", "code flows, SSO session, PKCE", code_flows),
    Workload("sign_in", "password sign-ins (default argon2id)", sign_in, min_seconds=15),
    Workload("sign_in_owasp", "password sign-ins (argon2id m=19MiB t=2 p=1)", sign_in,
             OWASP_ARGON2, min_seconds=15),
    Workload("portal_api", "portal API calls, local JWT check", portal_api),
]
