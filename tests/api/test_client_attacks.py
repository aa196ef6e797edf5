"""Issue 19, clients: the attacks found against a running idp, each refused at every entry
point that can reach the rule (admin API, Dynamic Client Registration, realm import, the
``idp clients`` commands; the console's are in tests/admin/test_console_client_rules.py).
The admin API's fixtures (tests/api/conftest.py): realms paris and lyon, service clients,
a super-admin and a Paris realm-admin.

Runs on SQLite, and on PostgreSQL with TEST_DATABASE_URL.
"""

from __future__ import annotations

import json
import threading

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from idp.core import logout, outbound
from idp.core.clients import find_client
from idp.core.realms import find_realm
from idp.extensions import db
from tests.api.conftest import (
    LYON,
    PARIS,
    bearer,
    service_client,
    service_token,
    staff_token,
)
from tests.support.realms import RealmImportError, import_realm

API = f"/admin/realms/{PARIS}/clients"
REG = f"/realms/{PARIS}/clients-registrations/openid-connect"
PREFIX_TRICKS = ("http://localhost.evil.example/cb", "http://127.0.0.1.evil.example/cb",
                 "http://127.0.0.1@evil.example/cb", "http://[::1].evil.example/cb",
                 "https://rp.example/cb#frag", "javascript:alert(1)", "ftp://rp.example/cb")
INTERNAL_CALLED = ("http://127.0.0.1:9911/bcl", "https://10.0.0.5/bcl", "https://[::1]/bcl",
                   "https://localhost/bcl", "https://localhost./bcl", "https://a.localhost/bcl",
                   "https://169.254.169.254/latest", "https://[fd00::1]/bcl",
                   "https://[::ffff:10.0.0.5]/bcl", "https://127.1/bcl",
                   "https://2130706433/bcl", "https://intranet/bcl", "https://0.0.0.0/bcl",
                   "https://224.0.0.1/bcl")


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def initial_token(client, crm) -> str:
    resp = client.post(f"/admin/realms/{PARIS}/clients-initial-access",
                       json={"expires_in": 3600, "uses": 5}, headers=crm)
    assert resp.status_code == 201, resp.text
    return resp.json["token"]


# --- one adapter per entry point: (accepted?, client_id) ------------------------------------

def via_api(app, client, crm, runner, field, value):
    body = {"client_id": "probe", "redirect_uris": ["https://probe.example/cb"], field: value}
    if field == "redirect_uris":
        body[field] = [value]
    resp = client.post(API, json=body, headers=crm)
    if resp.status_code != 201:
        assert resp.status_code == 422 and resp.json["code"] == "invalid", resp.text
    return resp.status_code == 201


def via_dcr(app, client, crm, runner, field, value):
    body = {"redirect_uris": ["https://probe.example/cb"], field: value}
    if field == "redirect_uris":
        body[field] = [value]
    if field == "jwks_uri":
        body["token_endpoint_auth_method"] = "private_key_jwt"
    token = initial_token(client, crm)
    resp = client.post(REG, json=body, headers=bearer(token))
    if resp.status_code != 201:
        assert resp.status_code == 400, resp.text
        assert resp.json["error"] in ("invalid_redirect_uri", "invalid_client_metadata")
    return resp.status_code == 201


def via_import(app, client, crm, runner, field, value):
    entry = {"client_id": "probe", "redirect_uris": ["https://probe.example/cb"],
             field: [value] if field == "redirect_uris" else value}
    with app.app_context():
        try:
            import_realm({"realm": PARIS, "clients": [entry]})
        except RealmImportError:
            db.session.rollback()
            return False
        return True


def via_cli(app, client, crm, runner, field, value):
    option = {"redirect_uris": "--redirect-uri",
              "backchannel_logout_uri": "--backchannel-logout-uri"}[field]
    args = ["clients", "create", "--realm", PARIS, "--client-id", "probe", option, value]
    if field != "redirect_uris":
        args += ["--redirect-uri", "https://probe.example/cb"]
    result = runner.invoke(args=args)
    return result.exit_code == 0


ENTRY_POINTS = {"api": via_api, "dcr": via_dcr, "import": via_import, "cli": via_cli}


def stored(app, client_id="probe"):
    with app.app_context():
        return find_client(find_realm(PARIS).id, client_id)


# --- #7: redirect URIs compared exactly, everywhere ------------------------------------------

@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("uri", PREFIX_TRICKS)
def test_prefix_tricks_in_redirect_uris_are_refused(app, client, crm, runner, entry, uri):
    assert ENTRY_POINTS[entry](app, client, crm, runner, "redirect_uris", uri) is False
    assert stored(app) is None


@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("uri", ["http://127.0.0.1:8765/cb", "http://[::1]:8765/cb",
                                 "http://localhost/cb", "https://rp.example/cb"])
def test_loopback_http_and_https_redirect_uris_are_accepted(app, client, crm, runner, entry,
                                                            uri):
    assert ENTRY_POINTS[entry](app, client, crm, runner, "redirect_uris", uri) is True


# --- #6: URIs the idp calls: public https only, at registration ------------------------------

@pytest.mark.parametrize("entry", list(ENTRY_POINTS))
@pytest.mark.parametrize("uri", INTERNAL_CALLED)
def test_internal_backchannel_logout_uris_are_refused(app, client, crm, runner, entry, uri):
    assert ENTRY_POINTS[entry](app, client, crm, runner, "backchannel_logout_uri", uri) is False
    assert stored(app) is None


@pytest.mark.parametrize("entry", ["api", "dcr", "import"])
@pytest.mark.parametrize("uri", INTERNAL_CALLED)
def test_internal_jwks_uris_are_refused(app, client, crm, runner, entry, uri):
    assert ENTRY_POINTS[entry](app, client, crm, runner, "jwks_uri", uri) is False


# --- #6: at call time: resolved addresses, redirects, not awaited ----------------------------

@pytest.fixture
def resolve_to(monkeypatch):
    table: dict[str, list[str]] = {}
    monkeypatch.setattr(outbound, "resolver", lambda host, port: table[host])
    return table


@pytest.mark.parametrize("addresses", [["10.0.0.5"], ["127.0.0.1"], ["::1"], ["fd12::5"],
                                       ["169.254.169.254"], ["93.184.216.34", "192.168.1.2"],
                                       ["::ffff:127.0.0.1"]])
def test_a_name_resolving_to_an_internal_address_is_never_called(resolve_to, addresses):
    resolve_to["hooks.example"] = addresses
    with pytest.raises(outbound.OutboundRefused, match="non-public"):
        outbound.post_form("https://hooks.example/bcl", {"logout_token": "x"})


@pytest.fixture
def local_server():
    """A real HTTP server on loopback recording the paths it is asked for."""
    hits: list[str] = []
    replies: dict[str, Response] = {}

    @Request.application
    def wsgi(request):
        hits.append(request.path)
        return replies.get(request.path) or Response("ok")

    server = make_server("127.0.0.1", 0, wsgi, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.port, hits, replies
    server.shutdown()


def test_jwks_uri_whose_name_resolves_to_loopback_is_not_fetched(app, client, resolve_to,
                                                                   local_server):
    """The name passes registration; at call time it resolves to 127.0.0.1, where a key
    server answers: the idp refuses before connecting, the client is not authenticated."""
    port, hits, _ = local_server
    resolve_to["keys.example"] = ["127.0.0.1"]
    with app.app_context():
        import_realm({"realm": PARIS, "clients": [{
            "client_id": "signed", "token_endpoint_auth_method": "private_key_jwt",
            "grant_types": ["client_credentials"], "response_types": [],
            "jwks_uri": f"https://keys.example:{port}/jwks"}]})
    from joserfc import jwt
    from joserfc.jwk import RSAKey

    key = RSAKey.generate_key(2048, private=True)
    assertion = jwt.encode({"alg": "RS256"}, {
        "iss": "signed", "sub": "signed", "jti": "j1", "exp": 4102444800,
        "aud": f"http://idp.test/realms/{PARIS}/protocol/openid-connect/token"}, key)
    resp = client.post(f"/realms/{PARIS}/protocol/openid-connect/token", data={
        "grant_type": "client_credentials", "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})
    # Authlib answers 400 for a client authenticated in the body (RFC 6749 §5.2).
    assert resp.status_code == 400 and resp.json["error"] == "invalid_client", resp.text
    assert hits == []


def test_redirects_are_not_followed(monkeypatch, local_server):
    port, hits, replies = local_server
    monkeypatch.setattr("idp.core.clients.uris._loopback_allowed", True)  # development allowance
    replies["/bcl"] = Response("", status=307, headers={"Location": "/inner"})
    with pytest.raises(outbound.OutboundRefused, match="redirect"):
        outbound.post_form(f"http://127.0.0.1:{port}/bcl", {"logout_token": "x"})
    assert hits == ["/bcl"]


def test_loopback_is_refused_without_the_development_allowance(local_server):
    port, hits, _ = local_server
    with pytest.raises(outbound.OutboundRefused):
        outbound.post_form(f"http://127.0.0.1:{port}/bcl", {"logout_token": "x"})
    assert hits == []


def test_backchannel_logout_is_not_awaited_on_the_request(monkeypatch):
    """The customer's logout answers while the client's endpoint is still hanging."""
    release = threading.Event()
    started = threading.Event()

    def slow_post(uri, token):
        started.set()
        release.wait(10)
        return True

    monkeypatch.setattr(logout, "_post", slow_post)
    logout._submit("https://rp.example/bcl", "token")  # what end_session does per client
    assert started.wait(10)
    assert not release.is_set()  # the caller went on while the POST is pending
    release.set()
    logout.wait_for_deliveries()


# --- #3: nobody grants a scope they do not hold ---------------------------------------------

def clients_only(app, client) -> dict:
    with app.app_context():
        import_realm({"realm": PARIS, "clients": [service_client("cli-admin", "admin:clients")]})
    return bearer(service_token(client, "cli-admin", scope="admin:clients"))


def test_admin_clients_cannot_create_a_customers_admin(app, client):
    headers = clients_only(app, client)
    resp = client.post(API, json={
        "client_id": "evil", "grant_types": ["client_credentials"], "response_types": [],
        "scope": "admin:customers:read admin:customers:write"}, headers=headers)
    assert resp.status_code == 403 and resp.json["code"] == "insufficient_scope", resp.text
    assert stored(app, "evil") is None
    # The scope it holds, it may hand on.
    ok = client.post(API, json={"client_id": "peer", "grant_types": ["client_credentials"],
                                "response_types": [], "scope": "admin:clients"},
                     headers=headers)
    assert ok.status_code == 201, ok.text


def test_the_admin_api_audience_is_granted_like_an_admin_scope(app):
    """A client whose ``audiences`` list the admin API's gets staff-realm tokens the API
    accepts: a service principal holding every client action may not hand that out (the
    API's schema has no such field; the operation refuses it whoever calls)."""
    from idp.core import operations as ops
    from idp.core import staff

    with app.app_context():
        cfg, realm = app.extensions["idp.settings"], find_realm(PARIS)
        data = {"grant_types": ["client_credentials"], "response_types": [],
                "scope": "openid", "audiences": ["urn:espace-client:admin-api"]}
        service = staff.service_principal("crm", PARIS, list(staff.Action))
        with pytest.raises(staff.PermissionDenied) as refused:
            ops.create_client(service, cfg, realm, "aud", dict(data))
        assert refused.value.reason == "audience_not_held"
        assert ops.create_client(staff.SYSTEM_PRINCIPAL, cfg, realm, "aud", dict(data))
        db.session.commit()
    assert stored(app, "aud") is not None


def test_admin_clients_cannot_add_an_admin_scope_by_update(app, client):
    headers = clients_only(app, client)
    url = f"{API}/plain"
    etag = client.get(url, headers=headers).headers["ETag"]
    resp = client.put(url, json={"grant_types": ["client_credentials"], "response_types": [],
                                 "scope": "openid admin:realm"},
                      headers={**headers, "If-Match": etag})
    assert resp.status_code == 403, resp.text
    assert stored(app, "plain").get("scope") == "openid"


def test_dcr_never_grants_an_admin_scope(client, crm):
    token = initial_token(client, crm)
    resp = client.post(REG, json={"redirect_uris": ["https://a.example/cb"],
                                  "scope": "openid admin:customers:read"},
                       headers=bearer(token))
    assert resp.status_code == 400 and resp.json["error"] == "invalid_client_metadata"


# --- #4: removing authentication needs what rotation needs ---------------------------------

@pytest.mark.parametrize("change", [{"token_endpoint_auth_method": "none"},
                                    {"token_endpoint_auth_method": "client_secret_post"},
                                    {"token_endpoint_auth_method": "private_key_jwt",
                                     "jwks_uri": "https://keys.example/jwks"}])
def test_service_client_cannot_change_authentication_without_step_up(app, client, crm,
                                                                      change):
    url = f"{API}/rp"
    assert client.post(f"{url}/client-secret", headers=crm).status_code == 403
    etag = client.get(url, headers=crm).headers["ETag"]
    resp = client.put(url, json={"redirect_uris": ["https://rp.example/cb"],
                                 "first_party": True, **change},
                      headers={**crm, "If-Match": etag})
    assert resp.status_code == 403 and resp.json["code"] == "step_up_required", resp.text
    info = stored(app, "rp")
    assert info.get("token_endpoint_auth_method") == "client_secret_basic"
    assert info.secret_hash


def test_staff_with_a_fresh_second_factor_may_change_authentication(app, client):
    url = f"{API}/rp"
    stale = bearer(staff_token(app, "boss@agence.example", otp_age=3600))
    etag = client.get(url, headers=stale).headers["ETag"]
    body = {"redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "none"}
    refused = client.put(url, json=body, headers={**stale, "If-Match": etag})
    assert refused.status_code == 403 and refused.json["code"] == "step_up_required"
    fresh = bearer(staff_token(app, "boss@agence.example", otp_age=10))
    done = client.put(url, json=body, headers={**fresh, "If-Match": etag})
    assert done.status_code == 200, done.text
    info = stored(app, "rp")
    assert info.is_public and info.secret_hash is None


def test_other_edits_need_no_step_up(app, client, crm):
    url = f"{API}/rp"
    etag = client.get(url, headers=crm).headers["ETag"]
    resp = client.put(url, json={"redirect_uris": ["https://rp.example/cb2"],
                                 "first_party": True}, headers={**crm, "If-Match": etag})
    assert resp.status_code == 200, resp.text
    assert stored(app, "rp").get("redirect_uris") == ["https://rp.example/cb2"]


# --- #5: a registered client cannot turn itself back on ------------------------------------

def test_dcr_client_cannot_reenable_itself_or_raise_its_standing(app, client, crm):
    token = initial_token(client, crm)
    reg = client.post(REG, json={"redirect_uris": ["https://app.example/cb"]},
                      headers=bearer(token)).json
    client_id, manage = reg["client_id"], bearer(reg["registration_access_token"])
    uri = reg["registration_client_uri"].removeprefix("http://idp.test")
    # The agency disables it (the CLI calls the same operation as the console and API).
    result = app.test_cli_runner().invoke(args=["clients", "disable", "--realm", PARIS,
                                                client_id])
    assert result.exit_code == 0, result.output
    assert stored(app, client_id) is None  # disabled: unknown to the OAuth machinery
    put = client.put(uri, json={"client_id": client_id,
                                "redirect_uris": ["https://app.example/cb2"],
                                "enabled": True, "first_party": True,
                                "admin_realms": [PARIS, LYON]}, headers=manage)
    assert put.status_code == 200, put.text
    assert "enabled" not in put.json and put.json["first_party"] is False
    with app.app_context():
        from idp.core.clients import row_of

        row = row_of(find_realm(PARIS).id, client_id)
        assert row.meta["enabled"] is False
        assert row.meta["first_party"] is False and "admin_realms" not in row.meta
        assert row.meta["redirect_uris"] == ["https://app.example/cb2"]


# --- a realm-admin of A reaching B through a client's admin_realms --------------------------

def test_realm_admin_cannot_point_a_client_at_another_realm(app, client):
    paris_admin = bearer(staff_token(app, "paris-admin@agence.example"))
    resp = client.post(API, json={"client_id": "bridge", "grant_types": ["client_credentials"],
                                  "response_types": [], "scope": "admin:customers:read",
                                  "admin_realms": [LYON]}, headers=paris_admin)
    assert resp.status_code == 403, resp.text
    assert stored(app, "bridge") is None
    boss = bearer(staff_token(app, "boss@agence.example"))
    ok = client.post(API, json={"client_id": "bridge", "grant_types": ["client_credentials"],
                                "response_types": [], "scope": "admin:customers:read",
                                "admin_realms": [PARIS, LYON]}, headers=boss)
    assert ok.status_code == 201, ok.text


def test_realm_admin_cannot_borrow_a_bridge_clients_reach(app, client):
    """A client a super-admin made to administer Paris and Lyon: the Paris realm-admin may
    neither rotate its secret (and use it on Lyon) nor edit or delete it."""
    with app.app_context():
        import_realm({"realm": PARIS, "clients": [service_client(
            "bridge", "admin:customers:write", admin_realms=[PARIS, LYON])]})
    paris_admin = bearer(staff_token(app, "paris-admin@agence.example", otp_age=10))
    url = f"{API}/bridge"
    assert client.post(f"{url}/client-secret", headers=paris_admin).status_code == 403
    etag = client.get(url, headers=paris_admin).headers["ETag"]
    put = client.put(url, json={"grant_types": ["client_credentials"], "response_types": [],
                                "scope": "admin:customers:write", "admin_realms": [PARIS]},
                     headers={**paris_admin, "If-Match": etag})
    assert put.status_code == 403
    assert client.delete(url, headers=paris_admin).status_code == 403
    assert stored(app, "bridge").get("admin_realms") == [PARIS, LYON]


# --- smaller items ----------------------------------------------------------------------------

def test_dcr_checks_the_initial_access_token_before_the_body(client):
    resp = client.post(REG, json={"redirect_uris": ["http://evil.example/cb"]},
                       headers=bearer("not-a-token"))
    assert resp.status_code == 401 and resp.json["error"] == "invalid_token"
    not_json = client.post(REG, data="{", content_type="application/json",
                           headers=bearer("not-a-token"))
    assert not_json.status_code == 401


def test_large_bodies_are_refused_with_413_in_json(client, crm):
    big = "x" * (1024 * 1024 + 10)
    token = client.post(f"/realms/{PARIS}/protocol/openid-connect/token",
                        data={"grant_type": "client_credentials", "pad": big})
    assert token.status_code == 413
    assert token.json["error"] == "request_entity_too_large"
    api = client.post(API, data=json.dumps({"client_id": "x", "client_name": big}),
                      content_type="application/json", headers=crm)
    assert api.status_code == 413 and api.json["code"] == "payload_too_large"
    reg = client.post(REG, data=json.dumps({"client_name": big}),
                      content_type="application/json", headers=crm)
    assert reg.status_code == 401  # no valid initial token: refused before the body is read


def test_max_content_length_is_a_typed_setting(idp_config):
    from tests.support.realms import fresh_idp

    with fresh_idp({**idp_config, "MAX_CONTENT_LENGTH": "2048"}) as small:
        with small.app_context():
            import_realm({"realm": "small"})
        assert small.config["MAX_CONTENT_LENGTH"] == 2048
        assert small.extensions["idp.settings"].max_content_length == 2048
        resp = small.test_client().post("/realms/small/protocol/openid-connect/token",
                                        data={"grant_type": "client_credentials",
                                              "pad": "y" * 4096})
        assert resp.status_code == 413
        assert resp.json["error"] == "request_entity_too_large"


@pytest.mark.parametrize("logo", ["https://x.example;frame-ancestors *;/l.png",
                                  "https://x.example;frame-ancestors%20*;/l.png",
                                  "https://x.example\r\nX-Evil: 1/l.png"])
def test_a_stored_logo_uri_never_injects_into_the_consent_csp(app, client, logo):
    """A logo_uri stored before the schema (an old row): the schema refuses it today, and
    the consent page rebuilds the origin from a checked host or shows no logo at all."""
    from idp.core import clients
    from tests.api.test_consent import authorize, setup_third_party, sign_in

    setup_third_party(app, client)
    with app.app_context():
        realm_id = find_realm(PARIS).id
        row = clients.row_of(realm_id, "tiers")
        clients.store(b"", realm_id, "tiers", {**row.meta, "logo_uri": logo})
        db.session.commit()
        with pytest.raises(clients.ClientMetadataError):
            clients.validate({**row.meta, "logo_uri": logo})
    authorize(client)
    page = sign_in(client)
    assert page.status_code == 200 and "Appli Tiers" in page.text
    csp = page.headers["Content-Security-Policy"]
    assert "frame-ancestors *" not in csp and "x.example" not in csp
    assert "X-Evil" not in page.headers
    assert "img-src 'self' data:;" in csp.replace(" ;", ";")
