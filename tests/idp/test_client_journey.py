"""A client application's view of a première connexion, end to end through the Flask
client: authorize → temporary code → set email → verification link → new password →
the client's request resumed → code → tokens. Also: the sign-in state is server-side,
completed once, and follows ``ui_locales`` on every screen and mail."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from . import journey_helpers as jh
from .conftest import REALM, RP, make_customer, pkce_pair
from .journey_helpers import link_in, parts, post, sign_in, subject, submit
from .oidc_helpers import AUTH, TOKEN, basic, verify

smtp = jh.smtp
idp_config = jh.idp_config


def _authorize(client, **extra):
    verifier, challenge = pkce_pair()
    query = {"client_id": "rp", "redirect_uri": RP, "response_type": "code", "scope":
             "openid customer email", "state": "s-1", "nonce": "n-1",
             "code_challenge": challenge, "code_challenge_method": "S256", **extra}
    return verifier, client.get(AUTH, query_string=query)


def _first_connection(client, smtp, email="jean@example.test"):
    resp = sign_in(client, "100002", "123456")
    assert resp.headers["Location"].endswith("/login-actions/email")
    resp = submit(client, "login-actions/email", {"email": email})
    assert resp.headers["Location"].endswith("/login-actions/verify-email")
    client.get(resp.headers["Location"])
    mail = smtp.wait_for(email)
    resp = post(client, link_in(mail))
    assert resp.headers["Location"].endswith("/login-actions/password")
    return mail, submit(client, "login-actions/password",
                        {"password": "Nouveau-2026!", "confirm": "Nouveau-2026!"})


def test_client_view_of_a_first_connection(client, runner, smtp):
    make_customer(runner, identifier="100002", password=None, email=None, verified=False,
                  temporary_password="123456")
    verifier, resp = _authorize(client)
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]
    cookie = client.get_cookie("idp_session")
    assert cookie is not None and "authz" not in cookie.value  # only an id, no request
    _mail, resp = _first_connection(client, smtp)
    resumed = resp.headers["Location"]
    assert "/protocol/openid-connect/auth" in resumed and "_ix=" in resumed
    back = client.get(resumed)
    assert back.status_code == 302
    target = urlsplit(back.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(target.query).items()}
    assert f"{target.scheme}://{target.netloc}{target.path}" == RP
    assert query["state"] == "s-1" and query["iss"].endswith(f"/realms/{REALM}")
    tokens = client.post(TOKEN, data={"grant_type": "authorization_code", "code": query["code"],
                                      "redirect_uri": RP, "code_verifier": verifier},
                         headers=basic())
    assert tokens.status_code == 200, tokens.json
    claims = verify(client, tokens.json["id_token"])[1]
    assert claims["customer_id"] == "100002" and claims["nonce"] == "n-1"
    assert claims["amr"] == ["pwd"]
    # The completed sign-in resumes once: replaying the redirect gives no second code.
    replay = client.get(resumed)
    assert replay.status_code == 400 and "déjà été utilisée" in replay.text


def test_ui_locales_follows_every_screen_and_the_mail(client, runner, smtp):
    make_customer(runner, identifier="100002", password=None, email=None, verified=False,
                  temporary_password="123456")
    _verifier, resp = _authorize(client, ui_locales="en")
    login = client.get(resp.headers["Location"])
    assert 'lang="en"' in login.text and "Password" in login.text
    resp = sign_in(client, "100002", "123456")
    form = client.get(resp.headers["Location"])
    assert 'lang="en"' in form.text
    resp = submit(client, "login-actions/email", {"email": "jean@example.test"})
    screen = client.get(resp.headers["Location"])
    assert 'lang="en"' in screen.text
    mail = smtp.wait_for("jean@example.test")
    assert subject(mail) == "My customer space - Verification of your email address"
    text, _html = parts(mail)
    assert "Confirm my email address" in text
    resp = post(client, link_in(mail))
    password_page = client.get(resp.headers["Location"])
    assert 'lang="en"' in password_page.text and "At least 8 characters" in password_page.text


def test_internationalised_email_is_accepted_and_bad_ones_are_explained(client, runner, smtp):
    make_customer(runner, identifier="100002", password=None, email=None, verified=False,
                  temporary_password="123456")
    sign_in(client, "100002", "123456")
    bad = submit(client, "login-actions/email", {"email": "jean@exemple"})
    assert bad.status_code == 400 and "domaine" in bad.text
    assert 'value="jean@exemple"' in bad.text  # what was typed is kept
    spaces = submit(client, "login-actions/email", {"email": "jean dupont@exemple.fr"})
    assert spaces.status_code == 400 and "caractères" in spaces.text
    ok = submit(client, "login-actions/email", {"email": "élodie@exemple.fr"})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/verify-email")
    client.get(ok.headers["Location"])
    assert smtp.wait_for("élodie@exemple.fr")


def test_token_errors_carry_a_description(client):
    reused = client.post(TOKEN, data={"grant_type": "refresh_token", "refresh_token": "x" * 43},
                         headers=basic())
    assert reused.json["error"] == "invalid_grant" and reused.json["error_description"]
    unknown = client.post(TOKEN, data={"grant_type": "password"}, headers=basic())
    assert unknown.json["error"] == "unsupported_grant_type"
    assert "grant_type" in unknown.json["error_description"]
    missing = client.post(TOKEN, data={}, headers=basic())
    assert missing.json["error_description"] == "The grant_type parameter is missing"
    revoke = client.post(f"/realms/{REALM}/protocol/openid-connect/revoke", data={},
                         headers=basic())
    assert revoke.status_code == 400
    assert revoke.json["error_description"] == "The token parameter is missing"
    for resp in (reused, unknown, missing, revoke):
        assert "x" * 43 not in resp.text
