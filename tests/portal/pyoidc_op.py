"""A second, independent OpenID Provider for the portal's interop tests: pyoidc's ``Provider``.

The idp is built on Authlib and ``fake_op`` is this suite's own hand-written provider; this
one is the OpenID Provider of another library (``oic``), so the portal meets choices it did
not make: opaque access tokens, no ``sid`` in id_tokens, profile claims in UserInfo only,
back-channel logout tokens of pyoidc's making, its own ``prompt=none`` and end-session code.

What is ours here is only the glue a deployment writes around pyoidc: the HTTP routes, a
password form, the client registration, and a policy on ``offline_access`` without
``prompt=consent`` (``offline_access`` attribute):

- ``"ignore"`` (default): OIDC Core §11, the scope is dropped, no refresh token;
- ``"grant"``: consent implied, a refresh token (our idp's exception for first-party apps);
- ``"reject"``: stock pyoidc, stricter than §11: ``invalid_request``.
"""

from __future__ import annotations

import html
import json
import secrets
import tempfile
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode

from flask import Flask, Response, request
from oic.oic.provider import Provider
from oic.utils.authn.authn_context import AuthnBroker
from oic.utils.authn.client import verify_client
from oic.utils.authn.user import UserAuthnMethod
from oic.utils.authz import AuthzHandling
from oic.utils.http_util import Response as OicResponse
from oic.utils.http_util import SeeOther
from oic.utils.keyio import build_keyjar
from oic.utils.sdb import create_session_db
from oic.utils.userinfo import UserInfo
from werkzeug.serving import make_server

CLIENT_ID = "espace-client"
CLIENT_SECRET = secrets.token_urlsafe(24)
CUSTOMER_CLAIM = "numero_client"  # not customer_id: the portal must follow its setting
PASSWORD = "Interop-2026!"
PASSWORD_ACR = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"

PEOPLE = {
    "100001": {"given_name": "Marie", "family_name": "Dupont", "name": "Marie Dupont",
               "email": "marie@example.org", "email_verified": True},
    "100002": {"given_name": "Jean", "family_name": "Martin", "name": "Jean Martin",
               "email": "jean@example.org", "email_verified": True},
}


class PasswordForm(UserAuthnMethod):
    """The OP's sign-in page: a plain form; success sets pyoidc's authentication cookie.

    ``signed_in`` is the OP-side truth behind the cookie, so that signing out (or the OP
    forgetting its sessions) really ends the SSO session, whatever cookie the browser keeps.
    """

    def __init__(self) -> None:
        super().__init__(None)
        self.secure = False  # loopback is plain http: the browser must send it back
        self.signed_in: set[str] = set()

    def authenticated_as(self, cookie: Any = None, **kwargs: Any) -> tuple[Any, int]:
        """pyoidc's cookie check, for users still signed in at this OP."""
        identity, when = super().authenticated_as(cookie, **kwargs)
        if not identity or identity.get("uid") not in self.signed_in:
            return None, 0
        return identity, when

    def __call__(self, **kwargs: Any) -> OicResponse:
        """Show the form; the authorization request rides along in a hidden field."""
        query = html.escape(kwargs.get("query", ""), quote=True)
        page = (
            '<!doctype html><title>Sign in</title><form method="post" action="/login">'
            f'<input type="hidden" name="query" value="{query}">'
            '<input name="login"><input name="password" type="password">'
            "<button>Sign in</button></form>"
        )
        return OicResponse(page)

    def verify(self, form: dict[str, str]) -> OicResponse:
        """Check the password; on success go back to the authorization endpoint."""
        login = form.get("login", "")
        if login not in PEOPLE or form.get("password") != PASSWORD:
            return OicResponse("bad credentials", status_code=401)
        self.signed_in.add(login)
        cookie = self.create_cookie(login, "upm")
        return SeeOther(f"{self.srv.baseurl}/authorization?{form.get('query', '')}",
                        headers=[cookie])


class PyoidcOP:
    """pyoidc's provider on a loopback HTTP server, with the portal registered as a client."""

    def __init__(self, portal_url: str, *, token_lifetime: int = 3600) -> None:
        self.portal_url = portal_url.rstrip("/")
        self.token_lifetime = token_lifetime
        self.server: Any = make_server("127.0.0.1", 0, self._wsgi, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.provider = self._build_provider()
        self.app = self._build_app()
        self.publish_account_page = True
        self.offline_access = "ignore"  # | "grant" | "reject", see the module docstring
        self.requests: list[tuple[str, dict[str, list[str]]]] = []  # (path, query) seen

    def _wsgi(self, environ: dict, start_response: Any) -> Any:
        return self.app(environ, start_response)

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> PyoidcOP:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _offline_access_policy(self, query: str) -> str:
        """Apply ``self.offline_access`` to an authorization request's query string."""
        params = parse_qsl(query)
        args = dict(params)
        scopes = args.get("scope", "").split()
        prompt = args.get("prompt", "").split()
        if "offline_access" not in scopes or "consent" in prompt or self.offline_access == "reject":
            return query
        if self.offline_access == "ignore":
            scope = " ".join(s for s in scopes if s != "offline_access")
            return urlencode([(k, scope if k == "scope" else v) for k, v in params])
        if not prompt:  # "grant": consent is implied for this client
            return urlencode([*params, ("prompt", "consent")])
        return query

    def hits(self, path: str) -> list[dict[str, list[str]]]:
        """The query strings of the requests the OP received on ``path``."""
        return [query for seen, query in self.requests if seen == path]

    def forget_sessions(self) -> None:
        """The OP's sessions run out (idle timeout, restart): prompt=none must fail."""
        for sid in list(self.provider.sdb._db.storage):
            del self.provider.sdb[sid]
        self.password_form.signed_in.clear()

    def sign_out_everywhere(self, uid: str) -> dict:
        """The user signs out at the OP from another app: back-channel logout to the portal."""
        sid = self.provider.sdb.get_by_uid(uid)[-1]
        self.password_form.signed_in.discard(uid)
        return self.provider.do_verified_logout(sid, CLIENT_ID, alla=True)

    # -- pyoidc wiring ------------------------------------------------------------------
    def _build_provider(self) -> Provider:
        sdb = create_session_db(
            self.issuer, secrets.token_hex(16), secrets.token_hex(16),
            token_expires_in=self.token_lifetime,
        )
        # pyoidc 1.7 calls a misspelt method when a request carries id_token_hint (a
        # crash, not a refusal); a deployment would patch it the same way.
        sdb.get__by_sub = sdb.get_by_sub  # type: ignore[attr-defined]
        broker = AuthnBroker()
        self.password_form = password_form = PasswordForm()
        broker.add(PASSWORD_ACR, password_form, 10, self.issuer)
        provider = Provider(
            self.issuer, sdb, {}, broker, UserInfo(self._userinfo()), AuthzHandling(),
            verify_client, secrets.token_hex(8), baseurl=self.issuer,
            extra_claims=[CUSTOMER_CLAIM],
            extra_scope_dict={"customer": [CUSTOMER_CLAIM]},
        )
        password_form.init_srv(provider)
        # A key file of its own (pyoidc would otherwise write "pyoidc" into the cwd).
        key_file = Path(tempfile.mkdtemp(prefix="pyoidc-op-")) / "op.pem"
        _jwks, keyjar, _kids = build_keyjar([{"type": "RSA", "key": str(key_file),
                                              "use": ["sig"]}])
        provider.keyjar.issuer_keys[""] = keyjar.issuer_keys[""]
        provider.keyjar.issuer_keys[self.issuer] = keyjar.issuer_keys[""]
        provider.jwks_uri = f"{self.issuer}/jwks"
        provider.logout_verify_url = f"{self.issuer}/logout/done"
        provider.cdb[CLIENT_ID] = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "client_salt": secrets.token_hex(8),
            "token_endpoint_auth_method": "client_secret_basic",
            "redirect_uris": [(f"{self.portal_url}/auth/callback", None)],
            "post_logout_redirect_uris": [(f"{self.portal_url}/", None)],
            "backchannel_logout_uri": f"{self.portal_url}/auth/backchannel-logout",
            "response_types": ["code"],
        }
        return provider

    @staticmethod
    def _userinfo() -> dict[str, dict[str, Any]]:
        return {uid: {"sub": uid, CUSTOMER_CLAIM: uid, **who} for uid, who in PEOPLE.items()}

    def _build_app(self) -> Flask:
        app = Flask("pyoidc_op")
        op = self.provider

        def answer(resp: OicResponse) -> Response:
            """pyoidc's responses are WSGI apps: run one for this request."""
            return Response.from_app(resp, request.environ, buffered=True)

        @app.before_request
        def _record() -> None:
            self.requests.append((request.path, parse_qs(request.query_string.decode())))

        @app.get("/.well-known/openid-configuration")
        def discovery() -> Response:
            document = json.loads(answer(op.providerinfo_endpoint()).get_data(as_text=True))
            document["backchannel_logout_supported"] = True  # pyoidc does it, says it not
            if self.publish_account_page:
                document["account_management_uri"] = f"{self.issuer}/account"
            return Response(json.dumps(document), content_type="application/json")

        @app.get("/jwks")
        def jwks() -> Response:
            return Response(json.dumps(op.keyjar.export_jwks()), content_type="application/json")

        @app.get("/authorization")
        def authorization() -> Response:
            return answer(op.authorization_endpoint(
                request=self._offline_access_policy(request.query_string.decode()),
                cookie=request.headers.get("Cookie"),
            ))

        @app.post("/login")
        def login() -> Response:
            return answer(op.authn_broker[0][0].verify(request.form.to_dict()))

        @app.post("/token")
        def token() -> Response:
            return answer(op.token_endpoint(
                request=request.get_data(as_text=True),
                authn=request.headers.get("Authorization", ""),
            ))

        @app.route("/userinfo", methods=["GET", "POST"])
        def userinfo() -> Response:
            return answer(op.userinfo_endpoint(
                request=request.get_data(as_text=True) or request.query_string.decode(),
                authn=request.headers.get("Authorization", ""),
            ))

        @app.get("/end_session")
        def end_session() -> Response:
            return answer(op.end_session_endpoint(
                request=request.query_string.decode(), cookie=request.headers.get("Cookie")
            ))

        @app.get("/logout/done")
        def logout_done() -> Response:
            """End the user's sessions (back-channel logout included) and go back."""
            payload = op.unpack_signed_jwt(request.args["sjwt"])
            sid = payload.get("sid") or op.sdb.get_by_uid(payload["uid"])[-1]
            result = op.do_verified_logout(sid, payload["client_id"], alla=True)
            target = payload["redirect_uri"]
            if payload.get("state"):
                target += "?" + urlencode({"state": payload["state"]})
            out = Response(status=303, headers={"Location": target})
            self.password_form.signed_in.discard(payload["uid"])
            for _name, value in result.get("cookie", []):
                out.headers.add("Set-Cookie", value)
            return out

        return app


def form_fields(page: str) -> dict[str, str]:
    """The hidden fields of the OP's sign-in page (for the test's "browser")."""
    marker = 'name="query" value="'
    start = page.index(marker) + len(marker)
    return {"query": html.unescape(page[start:page.index('"', start)])}
