"""Shared machinery of the fake providers: users, clients, codes, keys, serving.

The fakes are test doubles, not security software, but they *enforce* what the
real providers enforce (exact redirect URI, client credentials, single-use and
expiring codes, PKCE) because the point is to catch client bugs.

Test switches (documented in docs/federation.md), accepted on every authorize
endpoint so that a test can follow redirects with ``requests`` and no browser:

* ``auto=allow&login_hint=<user key>``: approve as that user without a page;
* ``auto=cancel``: behave as if the user pressed "Cancel";
* ``fake_id_token=<mode>`` (OIDC fakes): corrupt the id_token issued for this
  code: ``bad_signature``, ``wrong_nonce``, ``wrong_aud``, ``wrong_iss``,
  ``expired``, ``bad_at_hash``.

``GET /_fake/slow?seconds=N`` sleeps then answers 200 JSON, to test timeouts.
``GET /_fake/health`` answers 200 (used by the launcher to wait for startup).
"""

from __future__ import annotations

import argparse
import base64
import fnmatch
import hashlib
import html
import json
import secrets
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, request
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from joserfc.jws import JWSRegistry
from werkzeug.serving import make_server

#: Default test users.  Keys are what a test passes as ``login_hint``.
DEFAULT_USERS: dict[str, dict[str, Any]] = {
    "alice": {
        "name": "Alice Martin",
        "given_name": "Alice",
        "family_name": "Martin",
        "email": "alice.martin@example.com",
        "email_verified": True,
        "picture": "https://pictures.example.com/alice.png",
    },
    "bruno": {
        "name": "Bruno Petit",
        "given_name": "Bruno",
        "family_name": "Petit",
        "email": "bruno.petit@example.com",
        "email_verified": False,
    },
    "chloe": {
        "name": "Chloé Durand",
        "given_name": "Chloé",
        "family_name": "Durand",
        "email": None,
        "email_verified": False,
    },
}


def load_users(path: str | None) -> dict[str, dict[str, Any]]:
    """Users from a JSON file ``{"key": {name, given_name, ..., email, email_verified}}``."""
    if not path:
        return {k: dict(v) for k, v in DEFAULT_USERS.items()}
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not data:
        raise SystemExit(f"{path}: expected a non-empty JSON object of users")
    return data


def load_clients(path: str | None) -> list[dict[str, Any]] | None:
    """Clients from a JSON file ``[{client_id, client_secret, redirect_uris, ...}]``."""
    if not path:
        return None
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def default_redirect_uris(alias: str) -> list[str]:
    """Redirect URIs registered for the default client: the idp's broker endpoint on loopback.

    Patterns (fnmatch) stand for "whatever port the test picked"; the token step still
    requires the *exact* URI used at the authorize step, as the real providers do.
    """
    return [
        f"http://127.0.0.1:*/realms/*/broker/{alias}/endpoint",
        f"http://localhost:*/realms/*/broker/{alias}/endpoint",
        "http://127.0.0.1:*/callback",
    ]


def stable_id(provider: str, user_key: str, user: Mapping[str, Any], kind: str) -> str:
    """The provider's stable subject for a user: explicit ``sub``/``id`` or a hash of the key.

    Deterministic so that restarting a fake keeps identities (as the real ones do).
    """
    explicit = user.get("ids", {}).get(provider) if isinstance(user.get("ids"), dict) else None
    if explicit:
        return str(explicit)
    digest = hashlib.sha256(f"{provider}:{user_key}".encode()).hexdigest()
    if kind == "numeric":
        return str(int(digest, 16))[:17 if provider != "google" else 21]
    return base64.urlsafe_b64encode(bytes.fromhex(digest))[:10].decode()


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def at_hash(access_token: str) -> str:
    """OIDC ``at_hash`` for RS256: base64url of the left half of SHA-256(access_token)."""
    return b64url(hashlib.sha256(access_token.encode()).digest()[:16])


def pkce_matches(verifier: str | None, challenge: str, method: str) -> bool:
    if not verifier:
        return False
    if method == "plain":
        return secrets.compare_digest(verifier, challenge)
    return secrets.compare_digest(b64url(hashlib.sha256(verifier.encode()).digest()), challenge)


@dataclass
class Grant:
    """What an authorization code stands for."""

    client_id: str
    redirect_uri: str
    user_key: str
    scope: list[str]
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    switches: dict[str, str] = field(default_factory=dict)
    expires_at: float = 0.0


@dataclass
class AccessToken:
    client_id: str
    user_key: str
    scope: list[str]
    expires_at: float


class FakeState:
    """Thread-safe in-memory store of users, clients, codes, tokens and signing keys."""

    def __init__(
        self,
        provider: str,
        users: Mapping[str, Mapping[str, Any]] | None,
        clients: list[dict[str, Any]],
        code_ttl: float,
    ) -> None:
        self.provider = provider
        self.users: dict[str, dict[str, Any]] = {
            k: dict(v) for k, v in (users or DEFAULT_USERS).items()
        }
        self.clients = {c["client_id"]: c for c in clients}
        self.code_ttl = code_ttl
        self.lock = threading.Lock()
        self.codes: dict[str, Grant] = {}
        self.used_codes: set[str] = set()
        self.tokens: dict[str, AccessToken] = {}
        self.keys: list[RSAKey] = []
        #: ``--demo``: label every page "fournisseur de démonstration / demo provider" and
        #: speak French first, because people then meet these pages in ``make demo``.
        self.demo = False
        self.rotate_key()

    # -- keys -------------------------------------------------------------------------
    def rotate_key(self) -> str:
        """Add a new signing key (the old ones stay published, as Google does)."""
        kid = secrets.token_hex(8)
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256"})
        with self.lock:
            self.keys.append(key)
            self.keys = self.keys[-2:]
        return kid

    @property
    def signing_key(self) -> RSAKey:
        return self.keys[-1]

    def jwks(self, with_use: bool = True) -> dict[str, Any]:
        out = KeySet(self.keys).as_dict(private=False)
        for key in out["keys"]:
            if with_use:
                key["use"] = "sig"
            else:
                key.pop("use", None)
        return out

    def sign(self, claims: Mapping[str, Any], extra_header: Mapping[str, Any] | None = None,
             bad_signature: bool = False) -> str:
        key = self.signing_key
        header = {"alg": "RS256", "kid": key.kid, "typ": "JWT", **(extra_header or {})}
        token = jwt.encode(header, dict(claims), key,
                           registry=JWSRegistry(strict_check_header=False))
        if bad_signature:
            head, payload, sig = token.split(".")
            raw = bytearray(base64.urlsafe_b64decode(sig + "=" * (-len(sig) % 4)))
            raw[0] ^= 0xFF
            token = f"{head}.{payload}.{b64url(bytes(raw))}"
        return token

    # -- clients ----------------------------------------------------------------------
    def client(self, client_id: str | None) -> dict[str, Any] | None:
        return self.clients.get(client_id or "")

    def redirect_allowed(self, client: Mapping[str, Any], redirect_uri: str | None) -> bool:
        if not redirect_uri:
            return False
        return any(
            redirect_uri == pattern
            or ("*" in pattern and fnmatch.fnmatchcase(redirect_uri, pattern))
            for pattern in client.get("redirect_uris", [])
        )

    def secret_ok(self, client: Mapping[str, Any], secret: str | None) -> bool:
        return bool(secret) and secrets.compare_digest(str(client["client_secret"]), secret)

    # -- codes and tokens -------------------------------------------------------------
    def issue_code(self, grant: Grant) -> str:
        code = secrets.token_urlsafe(24)
        grant.expires_at = time.time() + self.code_ttl
        with self.lock:
            self.codes[code] = grant
        return code

    def redeem_code(self, code: str | None) -> tuple[Grant | None, str]:
        """Pop a code: ``(grant, "")`` or ``(None, "used" | "expired" | "unknown")``."""
        with self.lock:
            if not code:
                return None, "unknown"
            grant = self.codes.pop(code, None)
            if grant is None:
                return None, "used" if code in self.used_codes else "unknown"
            self.used_codes.add(code)
        if grant.expires_at < time.time():
            return None, "expired"
        return grant, ""

    def issue_token(self, grant: Grant, prefix: str, ttl: int) -> str:
        token = prefix + secrets.token_urlsafe(32)
        with self.lock:
            self.tokens[token] = AccessToken(grant.client_id, grant.user_key, grant.scope,
                                             time.time() + ttl)
        return token

    def lookup_token(self, token: str | None) -> AccessToken | None:
        if not token:
            return None
        with self.lock:
            at = self.tokens.get(token)
        if at is None or at.expires_at < time.time():
            return None
        return at


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return None


def basic_credentials() -> tuple[str, str] | None:
    """``(client_id, secret)`` from HTTP Basic, form-urldecoded per RFC 6749 §2.3.1."""
    auth = request.authorization
    if auth is None or auth.type != "basic":
        return None
    return auth.username or "", auth.password or ""


def add_test_routes(app: Flask, state: FakeState) -> None:
    """Routes every fake has: health, slow endpoint (timeouts), key rotation."""

    @app.get("/_fake/health")
    def _health() -> Response:
        return jsonify(provider=state.provider, ok=True)

    @app.route("/_fake/slow", methods=["GET", "POST"])
    def _slow() -> Response:
        seconds = min(float(request.args.get("seconds", "5")), 30.0)
        time.sleep(seconds)
        return jsonify(slept=seconds)

    @app.post("/_fake/rotate-keys")
    def _rotate() -> Response:
        return jsonify(kid=state.rotate_key())

    @app.get("/")
    def _home() -> str:
        """Someone who opens the printed URL learns what this is and who can sign in."""
        return home_page(state)


#: Display names of the fakes, for the pages a person sees.
PROVIDER_NAMES = {"google": "Google", "linkedin": "LinkedIn", "facebook": "Facebook", "x": "X"}

DEMO_STYLE = (
    "<style>body{font-family:system-ui,sans-serif;max-width:34rem;margin:2rem auto;"
    "padding:0 1rem;color:#1b1b1b}.demo-banner{background:#fff3cd;border:2px dashed #8a6d00;"
    "padding:.6rem .9rem;border-radius:.4rem;font-weight:600}"
    "button{font:inherit;padding:.4rem 1rem;margin:.2rem .3rem 0 0}</style>"
)


def demo_banner(provider_name: str) -> str:
    """The label that tells a demo visitor this is not the real provider (French first)."""
    name = html.escape(provider_name)
    return (
        '<p class="demo-banner" role="note">'
        f'<span lang="fr">{name} : fournisseur de démonstration.</span> '
        f'<span lang="en">{name}: demo provider.</span></p>'
        '<p><span lang="fr">Cette page remplace le vrai site pour la démonstration ; '
        "aucun vrai compte n’est utilisé.</span> "
        '<span lang="en">This page stands in for the real site in the demo; '
        "no real account is used.</span></p>"
    )


def _user_label(user: Mapping[str, Any], key: str, demo: bool) -> str:
    email = user.get("email") or ("sans email / no email" if demo else "sans email")
    return f"{user.get('name', key)} ({email})"


def home_page(state: FakeState) -> str:
    """``GET /``: what this server is and its test accounts."""
    name = PROVIDER_NAMES.get(state.provider, state.provider)
    users = "".join(f"<li>{html.escape(_user_label(u, k, state.demo))}</li>"
                    for k, u in state.users.items())
    if state.demo:
        return (
            '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(name)} : fournisseur de démonstration / demo provider</title>"
            f"{DEMO_STYLE}</head><body><h1>{html.escape(name)}</h1>{demo_banner(name)}"
            "<h2>Comptes de test / Test accounts</h2>"
            f"<ul>{users}</ul></body></html>"
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(name)} (fake)</title></head><body>"
        f"<h1>{html.escape(name)} (fake)</h1><ul>{users}</ul></body></html>"
    )


def consent_page(provider_name: str, state: FakeState, params: Mapping[str, str],
                 action: str, extra_buttons: list[tuple[str, str]] | None = None) -> str:
    """The browser-facing page: choose a test user, then "Allow" or "Cancel".

    The original authorize parameters ride along as hidden fields so the POST
    carries everything the GET had.
    """
    hidden = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items() if k not in {"auto", "login_hint"}
    )
    hint = params.get("login_hint", "")
    options = []
    for i, (key, user) in enumerate(state.users.items()):
        checked = " checked" if key == hint or (not hint and i == 0) else ""
        options.append(
            f'<p><label><input type="radio" name="login_hint" value="{html.escape(key)}"{checked}> '
            f"{html.escape(_user_label(user, key, state.demo))}</label></p>"
        )
    if state.demo:
        return demo_consent_page(provider_name, hidden, options, action, extra_buttons)
    buttons = [("allow", "Allow"), ("cancel", "Cancel"), *(extra_buttons or [])]
    button_html = " ".join(
        f'<button type="submit" name="auto" value="{v}">{html.escape(label)}</button>'
        for v, label in buttons
    )
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(provider_name)} (fake) sign in</title></head><body>"
        f"<h1>{html.escape(provider_name)} (fake)</h1>"
        f'<form method="post" action="{html.escape(action)}">{hidden}'
        f"<fieldset><legend>Sign in as</legend>{''.join(options)}</fieldset>"
        f"{button_html}</form></body></html>"
    )


#: French labels of the consent buttons, shown first in demo mode.
DEMO_BUTTON_LABELS = {"allow": "Autoriser", "cancel": "Annuler",
                      "cancel_authorize": "Refuser l’accès"}


def demo_consent_page(provider_name: str, hidden: str, options: list[str], action: str,
                      extra_buttons: list[tuple[str, str]] | None) -> str:
    """The consent page as a demo visitor sees it: labelled, French first, English second.

    The buttons keep their ``auto`` values, so the protocol is exactly the test one.
    """
    buttons = [("allow", "Allow"), ("cancel", "Cancel"), *(extra_buttons or [])]
    button_html = " ".join(
        f'<button type="submit" name="auto" value="{v}">'
        f"{html.escape(DEMO_BUTTON_LABELS.get(v, label))} / {html.escape(label)}</button>"
        for v, label in buttons
    )
    name = html.escape(provider_name)
    return (
        '<!doctype html><html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{name} : fournisseur de démonstration / demo provider</title>{DEMO_STYLE}"
        f"</head><body><h1>{name}</h1>{demo_banner(provider_name)}"
        f'<form method="post" action="{html.escape(action)}">{hidden}'
        "<fieldset><legend>Se connecter en tant que / Sign in as</legend>"
        f"{''.join(options)}</fieldset>{button_html}</form></body></html>"
    )


def authorize_params() -> dict[str, str]:
    """Authorize parameters from the query (GET) or the consent form (POST)."""
    source = request.form if request.method == "POST" else request.args
    return {k: v for k, v in source.items()}


def redirect_to(uri: str, params: Mapping[str, str], fragment: str = "") -> Response:
    sep = "&" if "?" in uri else "?"
    resp = Response(status=302)
    resp.headers["Location"] = f"{uri}{sep}{urlencode(params)}{fragment}"
    return resp


def error_page(message: str, status: int = 400) -> Response:
    """What a provider shows when it cannot trust the redirect URI: a page, never a redirect."""
    body = (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title>"
            f"</head><body><h1>Error</h1><p>{html.escape(message)}</p></body></html>")
    return Response(body, status=status, mimetype="text/html")


def serve_main(provider: str, factory: Callable[..., Flask], argv: list[str] | None = None) -> None:
    """Command line of every fake: ``--port N`` (0 = pick one), ``--users``, ``--clients``.

    Prints ``LISTENING <base url>`` on stdout once bound, so a launcher using
    ``--port 0`` learns the port without a race.
    """
    parser = argparse.ArgumentParser(prog=f"python -m tests.fakes.{provider}",
                                     description=f"Fake {provider} provider for tests")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--users", help="JSON file of test users")
    parser.add_argument("--clients", help="JSON file of registered clients")
    parser.add_argument("--demo", action="store_true",
                        help="label the pages 'fournisseur de démonstration / demo provider'")
    args = parser.parse_args(argv)

    server = make_server(args.host, args.port, Flask("placeholder"), threaded=True)
    base = f"http://{args.host}:{server.server_port}"
    server.app = factory(base, users=load_users(args.users), clients=load_clients(args.clients))
    server.app.extensions["fake_state"].demo = args.demo
    print(f"LISTENING {base}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()
