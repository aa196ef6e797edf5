"""private_key_jwt client authentication (RFC 7523), generic errors and security headers."""

import time
import uuid

from joserfc import jwt
from joserfc.jwk import RSAKey

from idp.extensions import db
from tests.support.realms import import_realm

from .conftest import ISSUER, REALM
from .oidc_helpers import TOKEN


def assertion(key, client_id="signed", aud=ISSUER + "/protocol/openid-connect/token", jti=None):
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60,
              "jti": jti or uuid.uuid4().hex}
    return jwt.encode({"alg": "RS256", "kid": "k1"}, claims, key)


def test_private_key_jwt(app, client):
    key = RSAKey.generate_key(2048, private=True, parameters={"kid": "k1"})
    with app.app_context():
        import_realm({"realm": REALM, "clients": [{
            "client_id": "signed", "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"], "redirect_uris": [],
            "jwks": {"keys": [key.as_dict(private=False)]}}]})
        db.session.remove()
    base = {"grant_type": "client_credentials",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
    jti = uuid.uuid4().hex
    ok = client.post(TOKEN, data={**base, "client_assertion": assertion(key, jti=jti)})
    assert ok.status_code == 200, ok.json
    replay = client.post(TOKEN, data={**base, "client_assertion": assertion(key, jti=jti)})
    # RFC 6749 §5.2: 401 only when the client used the Authorization header.
    assert replay.status_code == 400
    assert replay.json["error"] == "invalid_client", replay.json
    other = RSAKey.generate_key(2048, private=True, parameters={"kid": "k1"})
    forged = client.post(TOKEN, data={**base, "client_assertion": assertion(other)})
    assert forged.json["error"] == "invalid_client"
    wrong_aud = client.post(TOKEN, data={**base, "client_assertion": assertion(
        key, aud="https://elsewhere.example/token")})
    assert wrong_aud.json["error"] == "invalid_client"


def test_security_headers_and_cookie(client):
    resp = client.get(f"/realms/{REALM}/login")
    assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    cookie = resp.headers.get("Set-Cookie", "")
    assert cookie.startswith("idp_session=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_unexpected_error_is_generic(idp_config, monkeypatch):
    from idp import create_app

    app = create_app({**idp_config, "TESTING": False, "PROPAGATE_EXCEPTIONS": False})
    with app.app_context():
        db.create_all()
        import_realm({"realm": REALM, "display_name": "P"})

    def boom(*_a, **_k):
        raise RuntimeError("SELECT secret FROM token WHERE x='leak'")

    monkeypatch.setattr("idp.oidc.discovery.keys.jwks", boom)
    test_client = app.test_client()
    resp = test_client.get(f"/realms/{REALM}/protocol/openid-connect/certs")
    assert resp.status_code == 500
    assert resp.json == {"error": "server_error",
                         "error_description": "An unexpected error occurred"}
    monkeypatch.setattr("idp.flow.views.social_buttons", boom)
    page = test_client.get(f"/realms/{REALM}/login")
    assert page.status_code == 500
    assert "leak" not in page.text and "Traceback" not in page.text
    with app.app_context():
        db.session.remove()
        db.drop_all()


def test_internet_explorer_gets_unsupported_page(client):
    ie11 = "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko"
    resp = client.get(f"/realms/{REALM}/login", headers={"User-Agent": ie11,
                                                          "Accept-Language": "fr"})
    assert resp.status_code == 200
    assert "Navigateur non compatible" in resp.text
    assert "Firefox" in resp.text and "Edge" in resp.text
    assert 'name="password"' not in resp.text
    normal = client.get(f"/realms/{REALM}/login", headers={"Accept-Language": "fr"})
    assert 'name="password"' in normal.text


def test_private_key_jwt_with_jwks_uri_is_fetched_once(app, client, monkeypatch):
    import json
    import threading

    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request, Response

    key = RSAKey.generate_key(2048, private=True, parameters={"kid": "k1"})
    fetches = []

    @Request.application
    def jwks_app(request):
        fetches.append(request.path)
        return Response(json.dumps({"keys": [key.as_dict(private=False)]}),
                        mimetype="application/json")


    monkeypatch.setattr("idp.core.clients.uris._loopback_allowed", True)  # IDP_OUTBOUND_LOOPBACK
    server = make_server("127.0.0.1", 0, jwks_app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with app.app_context():
            import_realm({"realm": REALM, "clients": [{
                "client_id": "signed", "token_endpoint_auth_method": "private_key_jwt",
                "grant_types": ["client_credentials"], "redirect_uris": [],
                "jwks_uri": f"http://127.0.0.1:{server.port}/jwks"}]})
            db.session.remove()
        base = {"grant_type": "client_credentials",
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}
        for _ in range(3):
            resp = client.post(TOKEN, data={**base, "client_assertion": assertion(key)})
            assert resp.status_code == 200, resp.json
        assert fetches == ["/jwks"]
    finally:
        server.shutdown()
