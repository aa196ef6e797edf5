"""Sign-in, refresh, sign-out and back-channel logout against the fake provider over HTTP."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlsplit

import pytest

from portal.extensions import db
from portal.models import ServerSession

from .conftest import local_path, sign_in, start_login
from .fake_op import new_rsa_key

NNBSP, NBSP = "\u202f", "\u00a0"


def session_row(app, client):
    cookie = client.get_cookie("portal_session")
    assert cookie is not None
    import hashlib

    with app.app_context():
        return db.session.get(ServerSession, hashlib.sha256(cookie.value.encode()).hexdigest())


def test_login_redirect_carries_pkce_state_nonce_and_scopes(client, op):
    response = client.get("/auth/login")
    assert response.status_code == 302
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) == 43
    assert query["scope"] == ["openid profile email customer offline_access"]
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == ["http://127.0.0.1:5101/auth/callback"]
    assert query["ui_locales"] == ["fr"]


def test_sign_in_lands_on_home_with_balance_and_open_interventions(app, client, op):
    anonymous = client.get("/")
    assert "Se connecter" in anonymous.get_data(as_text=True)
    client.get("/?lang=fr")
    before = client.get_cookie("portal_session").value
    response = sign_in(client, op, "100001")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    cookie = client.get_cookie("portal_session")
    assert cookie.value != before, "session id must be renewed at sign-in"
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure
    html = client.get("/").get_data(as_text=True)
    assert f"Vos comptes <strong class=\"amount\">1{NNBSP}234,56{NBSP}€</strong>" in html
    assert 'En cours <strong class="count">1</strong>' in html
    assert "Voir les interventions" in html and "Marie Dupont" in html
    row = session_row(app, client)
    assert row.sub == "sub-100001" and row.customer_id == "100001" and row.sid
    assert row.data["refresh_token"] and row.data["access_token"]


def test_next_parameter_is_honoured_but_not_offsite(client, op):
    response = client.get(start_login(client, next_url="/comptes"))
    assert response.headers["Location"] == "/comptes"
    response = client.get(start_login(client, next_url="//evil.example/"))
    assert response.headers["Location"] == "/"


def test_page_requires_sign_in(client):
    response = client.get("/comptes")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/login?next=/comptes")


def test_state_mismatch_is_rejected(client, op):
    callback = start_login(client)
    tampered = callback.replace("state=", "state=x")
    response = client.get(tampered)
    assert response.status_code == 400
    assert "Demande de connexion expirée" in response.get_data(as_text=True)
    assert client.get("/comptes").status_code == 302


def test_callback_without_pending_login_is_rejected(client):
    response = client.get("/auth/callback?code=abc&state=nothing")
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Demande de connexion expirée" in html and "<code>invalid_state</code>" in html


def test_wrong_iss_in_authorization_response_is_rejected(client, op):
    op.response_iss = "http://127.0.0.1:1/realms/other"
    response = client.get(start_login(client))
    assert response.status_code == 400
    assert "invalid_issuer" in response.get_data(as_text=True)
    assert op.token_requests == [], "the code must not be redeemed after a mix-up"


def test_missing_iss_is_rejected_when_provider_announces_it(client, op):
    callback = start_login(client)
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items() if k != "iss"}
    from urllib.parse import urlencode

    response = client.get(f"{parts.path}?{urlencode(query)}")
    assert response.status_code == 400
    assert "<code>invalid_issuer</code>" in response.get_data(as_text=True)
    assert op.token_requests == [], "the code must not be redeemed without the issuer"


@pytest.mark.parametrize("error,text", [
    ("access_denied", "Connexion annulée"),
    ("login_required", "Vous devez vous reconnecter"),
    ("consent_required", "Autorisation nécessaire"),
    ("server_error", "La connexion a échoué"),
])
def test_provider_errors_get_a_french_page(client, op, error, text):
    op.authorize_error = error
    response = client.get(start_login(client))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert text in html and 'lang="fr"' in html and "Traceback" not in html


def _tamper_nonce(claims, header):
    claims["nonce"] = "someone-else"


def _tamper_aud(claims, header):
    claims["aud"] = "another-client"
    claims["azp"] = "another-client"


def _tamper_exp(claims, header):
    claims["exp"] = int(time.time()) - 3600
    claims["iat"] = int(time.time()) - 7200


def _tamper_iss(claims, header):
    claims["iss"] = "http://127.0.0.1:1/realms/evil"


def _tamper_azp(claims, header):
    claims["aud"] = ["portal", "other"]
    claims["azp"] = "other"


def _tamper_iat_future(claims, header):
    claims["iat"] = int(time.time()) + 3600


def _tamper_signature(claims, header):
    header["kid"] = "key-1"  # claims to be the published key, signed by another one
    return new_rsa_key("key-1")


@pytest.mark.parametrize("tamper,cause", [
    (_tamper_nonce, "nonce mismatch"), (_tamper_aud, "wrong audience"),
    (_tamper_exp, "token expired"), (_tamper_iss, "wrong issuer"),
    (_tamper_azp, "wrong authorized party"), (_tamper_iat_future, "token issued in the future"),
    (_tamper_signature, "invalid signature"),
])
def test_invalid_id_tokens_are_rejected(client, op, tamper, cause, caplog):
    op.id_token_tamper = tamper
    with caplog.at_level("WARNING", logger="portal.auth"):
        response = client.get(start_login(client))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "La connexion a échoué" in html and "<code>invalid_token</code>" in html
    assert f"id_token rejected: {cause}" in caplog.text  # refused for the right reason
    assert client.get("/comptes").status_code == 302, "must not be signed in"


def test_idp_down_gives_a_clear_page(app, client):
    app.extensions["portal_oidc"].issuer = "http://127.0.0.1:9/realms/none"
    app.extensions["portal_oidc"]._metadata = None
    response = client.get("/auth/login")
    assert response.status_code == 503
    assert "Service de connexion indisponible" in response.get_data(as_text=True)


def test_quiet_refresh_rotates_the_refresh_token(app, signed_in, op):
    with app.app_context():
        row = db.session.scalars(db.select(ServerSession)).one()
        old_refresh = row.data["refresh_token"]
        row.data = {**row.data, "expires_at": time.time() + 10}
        db.session.commit()
    response = signed_in.get("/biens")
    assert response.status_code == 200
    assert old_refresh in op.spent_refresh_tokens
    row = session_row(app, signed_in)
    assert row.data["refresh_token"] != old_refresh
    assert row.data["expires_at"] > time.time() + 200


def test_refused_refresh_falls_back_to_a_silent_round_trip(app, signed_in, op):
    op.refresh_tokens.clear()  # the refresh token is no longer honoured
    with app.app_context():
        row = db.session.scalars(db.select(ServerSession)).one()
        row.data = {**row.data, "expires_at": time.time() - 1}
        db.session.commit()
    response = signed_in.get("/biens")
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}".startswith(op.issuer)
    query = parse_qs(target.query)
    assert query["prompt"] == ["none"] and query["id_token_hint"]
    assert "refresh_token" not in session_row(app, signed_in).data


def _csrf_token(client, path="/biens"):
    html = client.get(path).get_data(as_text=True)
    marker = 'name="csrf_token" type="hidden" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def test_logout_ends_portal_session_and_redirects_to_end_session(app, signed_in, op):
    id_token = session_row(app, signed_in).data["id_token"]
    token = _csrf_token(signed_in)
    response = signed_in.post("/auth/logout", data={"csrf_token": token})
    assert response.status_code == 302
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}".startswith(op.issuer)
    query = parse_qs(target.query)
    assert query["id_token_hint"] == [id_token]
    assert query["post_logout_redirect_uri"] == ["http://127.0.0.1:5101/"]
    assert query["state"][0]
    assert signed_in.get("/comptes").status_code == 302
    with app.app_context():
        assert db.session.scalars(db.select(ServerSession)).all() == []


def test_logout_requires_csrf_token(signed_in):
    response = signed_in.post("/auth/logout")
    assert response.status_code == 400
    assert "Formulaire expiré" in response.get_data(as_text=True)
    assert signed_in.get("/comptes").status_code == 200


def test_backchannel_logout_by_sid_ends_session_at_once(app, signed_in, op):
    sid = session_row(app, signed_in).sid
    response = signed_in.post("/auth/backchannel-logout",
                              data={"logout_token": op.logout_token(sid=sid, sub="sub-100001")})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert signed_in.get("/comptes").status_code == 302


def test_backchannel_logout_by_sub_only_ends_that_users_sessions(app, op):
    marie, jean = app.test_client(), app.test_client()
    sign_in(marie, op, "100001")
    sign_in(jean, op, "100002")
    response = marie.post("/auth/backchannel-logout",
                          data={"logout_token": op.logout_token(sub="sub-100002")})
    assert response.status_code == 200
    assert jean.get("/comptes").status_code == 302
    assert marie.get("/comptes").status_code == 200


@pytest.mark.parametrize("make_token,cause", [
    (lambda op: op.logout_token(sid="x", typ="JWT"), "token type must be logout+jwt"),
    (lambda op: op.logout_token(sid="x", nonce="n"), "logout token must not contain a nonce"),
    (lambda op: op.logout_token(sid="x", events={}), "missing back-channel logout event"),
    (lambda op: op.logout_token(), "logout token needs sid or sub"),
    (lambda op: op.logout_token(sid="x", aud="someone-else"), "wrong audience"),
    (lambda op: op.logout_token(sid="x", iss="http://127.0.0.1:1/evil"), "wrong issuer"),
    (lambda op: "not-a-jwt", "malformed token"),
])
def test_invalid_logout_tokens_get_400_and_end_nothing(app, signed_in, op, make_token, cause):
    response = signed_in.post("/auth/backchannel-logout", data={"logout_token": make_token(op)})
    assert response.status_code == 400
    assert response.get_json() == {"error": "invalid_request", "error_description": cause}
    assert signed_in.get("/comptes").status_code == 200


def test_replayed_logout_token_is_refused(app, signed_in, op):
    token = op.logout_token(sid="unknown-sid")
    assert signed_in.post("/auth/backchannel-logout", data={"logout_token": token}).status_code \
        == 200
    assert signed_in.post("/auth/backchannel-logout", data={"logout_token": token}).status_code \
        == 400


def test_key_rotation_with_unknown_kid_works_without_restart(app, client, op):
    sign_in(client, op, "100001")
    fetches = app.extensions["portal_oidc"].verifier.fetch_count
    op.rotate_keys(keep_old=False)
    other = app.test_client()
    response = sign_in(other, op, "100002")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert app.extensions["portal_oidc"].verifier.fetch_count == fetches + 1
    assert "Jean Martin" in other.get("/").get_data(as_text=True)


def test_post_logout_return_shows_signed_out_notice(client):
    html = client.get("/?state=abc").get_data(as_text=True)
    assert "Vous êtes déconnecté" in html


def test_local_path_helper():
    assert local_path("http://127.0.0.1:5101/auth/callback?a=1") == "/auth/callback?a=1"
