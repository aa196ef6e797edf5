"""Issue 10: the statements that replaced read-then-write under concurrent requests, on
PostgreSQL through a real threaded server (tests/security covers one winner per code and
per refresh token; these cover what the rewrite added)."""

from __future__ import annotations

import base64

import requests

from idp.core.models import SessionClient, Token
from idp.extensions import db
from tests.support.realms import import_realm

from .conftest import PASSWORD, REALM, RP, RP_SECRET, Browser, all_at_once, make_customer

BASE = f"/realms/{REALM}/protocol/openid-connect"
TOKEN, REVOKE, INTROSPECT = f"{BASE}/token", f"{BASE}/revoke", f"{BASE}/token/introspect"
BASIC = {"Authorization": "Basic " + base64.b64encode(f"rp:{RP_SECRET}".encode()).decode()}


def test_simultaneous_revocations_of_a_stateless_token_deny_it_once(live):
    with live.app.app_context():
        import_realm({"realm": REALM, "display_name": "Paris", "clients": [
            {"client_id": "rp", "client_secret": RP_SECRET, "redirect_uris": [RP],
             "first_party": True, "grant_types": ["client_credentials"]}]})
    at = requests.post(live.url(TOKEN), headers=BASIC, timeout=30,
                       data={"grant_type": "client_credentials"}).json()["access_token"]

    def revoke(_i: int) -> int:
        return requests.post(live.url(REVOKE), headers=BASIC, timeout=60,
                             data={"token": at}).status_code

    assert all_at_once(8, revoke) == [200] * 8
    with live.app.app_context():
        (row,) = db.session.execute(db.select(Token)).scalars().all()
        assert row.revoked_at is not None
    info = requests.post(live.url(INTROSPECT), headers=BASIC, timeout=30, data={"token": at})
    assert info.json() == {"active": False}


def test_codes_of_one_session_redeemed_at_once_link_the_session_once(live):
    """The session-to-client link is an ``INSERT … ON CONFLICT DO NOTHING``: codes of one
    SSO session redeemed at the same moment all succeed and leave one link."""
    make_customer(live.app.test_cli_runner(), identifier="300010")
    browser = Browser(live.app.test_client())
    codes = [browser.code_flow(login="300010", password=PASSWORD, scope="openid")["code"]
             for _ in range(6)]

    def redeem(i: int) -> int:
        return requests.post(live.url(TOKEN), headers=BASIC, timeout=60, data={
            "grant_type": "authorization_code", "code": codes[i],
            "redirect_uri": RP}).status_code

    assert all_at_once(len(codes), redeem) == [200] * len(codes)
    with live.app.app_context():
        assert len(db.session.execute(db.select(SessionClient)).scalars().all()) == 1
        assert len(db.session.execute(db.select(Token)).scalars().all()) == len(codes)
