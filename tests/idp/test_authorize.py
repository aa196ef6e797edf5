"""Authorization endpoint: errors shown vs redirected, prompt, max_age, PKCE, form_post."""

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from .conftest import ISSUER, RP, pkce_pair
from .oidc_helpers import AUTH, TOKEN, basic


def query_of(resp) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(resp.headers["Location"]).query).items()}


@pytest.mark.parametrize("params", [
    {"client_id": "unknown"},
    {"redirect_uri": "https://evil.example/cb"},
    {"redirect_uri": "https://rp.example/cb/extra"},
    {"redirect_uri": "https://rp.example/cb2?bar=other"},
    {"redirect_uri": "__omit__"},
])
def test_bad_client_or_redirect_uri_is_shown_never_redirected(flow, params):
    resp = flow.authorize(**params)
    assert resp.status_code == 400
    assert "Location" not in resp.headers
    assert "<html" in resp.text


def test_unauthenticated_goes_to_login_page(flow):
    resp = flow.authorize()
    assert resp.status_code == 302
    assert "/realms/paris-ile-de-france/login" in resp.headers["Location"]


def test_code_response_has_state_and_iss(flow, customer):
    params = flow.code_flow(state="a b&c=d/é")
    assert params["state"] == "a b&c=d/é"
    assert params["iss"] == ISSUER
    assert len(params["code"]) >= 43


def test_registered_query_is_kept(flow, customer):
    params = flow.code_flow(redirect_uri="https://rp.example/cb2?bar=foo")
    assert params["bar"] == "foo"
    assert "code" in params


@pytest.mark.parametrize(("params", "error"), [
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"response_type": "__omit__"}, "invalid_request"),
    ({"request": "eyJhbGciOiJub25lIn0.e30."}, "request_not_supported"),
    ({"request_uri": "https://rp.example/req"}, "request_uri_not_supported"),
    ({"prompt": "none login"}, "invalid_request"),
    ({"code_challenge": "x" * 43, "code_challenge_method": "plain"}, "invalid_request"),
    ({"max_age": "-1"}, "invalid_request"),
    ({"claims": "{not json"}, "invalid_request"),
    ({"response_mode": "fragment"}, "invalid_request"),
])
def test_recoverable_errors_redirect_with_state(flow, params, error):
    resp = flow.authorize(**params)
    assert resp.status_code == 302
    q = query_of(resp)
    assert q["error"] == error
    assert q["state"] == "st"
    assert q["iss"] == ISSUER
    assert '"' not in q.get("error_description", "")


def test_public_client_requires_pkce(flow):
    resp = flow.authorize(client_id="spa", redirect_uri="https://spa.example/cb")
    assert query_of(resp)["error"] == "invalid_request"


def test_prompt_none_without_session(flow):
    q = query_of(flow.authorize(prompt="none"))
    assert q["error"] == "login_required"
    assert q["state"] == "st"


def test_prompt_none_with_session_gives_code(flow, customer):
    flow.code_flow()
    q = query_of(flow.authorize(prompt="none"))
    assert "code" in q


def test_prompt_login_forces_sign_in(flow, customer):
    flow.code_flow()
    resp = flow.authorize(prompt="login")
    assert "/login" in resp.headers["Location"]
    q = flow.code_flow(prompt="login")
    assert "code" in q


def test_max_age_forces_sign_in(app, flow, customer):
    flow.code_flow()
    assert "code" in query_of(flow.authorize(max_age="60"))
    _age_sessions(app, seconds=120)  # the clock moves, not the test
    resp = flow.authorize(max_age="60")
    assert "/login" in resp.headers["Location"]


def _age_sessions(app, seconds: int) -> None:
    from idp.core.db import db
    from idp.core.models import SsoSession

    with app.app_context():
        for row in db.session.execute(db.select(SsoSession)).scalars():
            row.auth_time -= seconds
        db.session.commit()


def test_id_token_hint_of_someone_else_forces_login(app, client, flow, customer, runner):
    """A real, valid id_token of another customer: this browser's session is not theirs."""
    from .conftest import Browser, make_customer

    make_customer(runner, identifier="100009", email="other@example.test")
    other = Browser(app.test_client())
    code = other.code_flow(login="100009")["code"]
    their_token = client.post(TOKEN, data={"grant_type": "authorization_code", "code": code,
                                           "redirect_uri": RP}, headers=basic()).json["id_token"]
    flow.code_flow()
    resp = flow.authorize(id_token_hint=their_token, prompt="none")
    assert query_of(resp)["error"] == "login_required"
    own = flow.authorize(prompt="none")
    assert "code" in query_of(own)


def test_form_post_response(flow, customer, client):
    flow.code_flow()
    resp = flow.authorize(response_mode="form_post")
    assert resp.status_code == 200
    assert f'action="{RP}"' in resp.text
    assert 'name="code"' in resp.text and 'name="iss"' in resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    assert "form-action https://rp.example" in resp.headers["Content-Security-Policy"]


def test_post_authorization_request(flow, customer, client):
    flow.code_flow()
    resp = client.post(AUTH, data={"client_id": "rp", "redirect_uri": RP, "response_type": "code",
                                   "scope": "openid", "state": "p"})
    assert resp.status_code == 302
    assert "code" in query_of(resp)


def test_third_party_client_asks_consent(flow, customer, client):
    flow.code_flow()
    resp = flow.authorize(client_id="third", redirect_uri="https://third.example/cb")
    assert resp.status_code == 200
    assert "Appli tierce" in resp.text
    q = query_of(flow.authorize(client_id="third", redirect_uri="https://third.example/cb",
                                prompt="none"))
    assert q["error"] == "consent_required"


def test_consent_deny_and_approve(flow, customer, client):
    from .conftest import csrf_from

    flow.code_flow()
    page = flow.authorize(client_id="third", redirect_uri="https://third.example/cb")
    base = {"client_id": "third", "redirect_uri": "https://third.example/cb",
            "response_type": "code", "scope": "openid", "state": "s",
            "csrf_token": csrf_from(page.text)}
    denied = client.post(AUTH, data={**base, "consent": "deny"})
    assert query_of(denied)["error"] == "access_denied"
    approved = client.post(AUTH, data={**base, "consent": "approve"})
    assert "code" in query_of(approved)
    again = flow.authorize(client_id="third", redirect_uri="https://third.example/cb",
                           prompt="none")
    assert "code" in query_of(again)


def test_consent_post_without_csrf_is_refused(flow, customer, client):
    flow.code_flow()
    resp = client.post(AUTH, data={"client_id": "third", "redirect_uri": "https://third.example/cb",
                                   "response_type": "code", "scope": "openid",
                                   "consent": "approve"})
    assert resp.status_code == 400
    assert "Location" not in resp.headers


def test_claims_parameter_must_be_object(flow):
    q = query_of(flow.authorize(claims=json.dumps([1, 2])))
    assert q["error"] == "invalid_request"


def test_pkce_s256_round_trip(flow, customer, client):
    from .oidc_helpers import TOKEN

    verifier, challenge = pkce_pair()
    q = flow.code_flow(client_id="spa", redirect_uri="https://spa.example/cb",
                       code_challenge=challenge, code_challenge_method="S256")
    bad = client.post(TOKEN, data={"grant_type": "authorization_code", "code": q["code"],
                                   "redirect_uri": "https://spa.example/cb", "client_id": "spa",
                                   "code_verifier": "wrong" * 10})
    assert bad.status_code == 400 and bad.json["error"] == "invalid_grant"
    q = flow.code_flow(client_id="spa", redirect_uri="https://spa.example/cb",
                       code_challenge=challenge, code_challenge_method="S256")
    ok = client.post(TOKEN, data={"grant_type": "authorization_code", "code": q["code"],
                                  "redirect_uri": "https://spa.example/cb", "client_id": "spa",
                                  "code_verifier": verifier})
    assert ok.status_code == 200, ok.json
    assert "id_token" in ok.json
