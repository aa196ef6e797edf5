"""Admin API fixtures: two customer realms with service clients, a staff realm with a
super-admin and a realm-admin, tokens from the real token endpoint (service clients) or
signed by the staff realm's keys as a staff sign-in would (staff members)."""

from __future__ import annotations

import base64
import time
from datetime import timedelta

import pytest

from idp.api.auth import ADMIN_API_AUDIENCE
from idp.core import staff, tokens
from idp.core.models import Customer, Token, utcnow
from idp.core.realms import find_realm
from idp.extensions import db
from tests.e2e.conftest import (  # noqa: F401 (the browser test's fixtures, lazily started)
    browser_type_launch_args,
    desktop_page,
    idp_server,
    smtp,
)
from tests.support.realms import fresh_idp, import_realm

PARIS = "paris"
LYON = "lyon"
STAFF = "agency-staff"
SECRET = "svc-secret-" + "s" * 40
ALL_SCOPES = ("admin:customers:read admin:customers:write admin:clients admin:realm "
              "admin:events:read admin:migration:read")


def service_client(client_id: str, scope: str, **extra) -> dict:
    return {"client_id": client_id, "client_secret": SECRET,
            "grant_types": ["client_credentials"], "response_types": [],
            "scope": scope, "first_party": True, **extra}


@pytest.fixture
def app(idp_config):
    with fresh_idp(idp_config) as application:
        with application.app_context():
            import_realm({"realm": PARIS, "display_name": "Paris", "clients": [
                service_client("crm", ALL_SCOPES),
                service_client("crm-read", "admin:customers:read"),
                service_client("plain", "openid"),
                {"client_id": "rp", "client_secret": SECRET,
                 "redirect_uris": ["https://rp.example/cb"], "first_party": True},
            ]})
            import_realm({"realm": LYON, "display_name": "Lyon", "clients": [
                service_client("lyon-crm", ALL_SCOPES)]})
            import_realm({"realm": STAFF, "display_name": "Agence",
                          "clients": [{"client_id": "console", "client_secret": SECRET,
                                       "redirect_uris": ["https://console.example/cb"],
                                       "audiences": [ADMIN_API_AUDIENCE],
                                       "first_party": True},
                                      {"client_id": "wiki", "client_secret": SECRET,
                                       "redirect_uris": ["https://wiki.example/cb"],
                                       "first_party": True}]})
            cfg = application.extensions["idp.settings"]
            staff_info = find_realm(STAFF)
            staff.create_member(cfg, staff_info, "boss@agence.example", super_admin=True)
            staff.create_member(cfg, staff_info, "paris-admin@agence.example", realms=[PARIS])
            db.session.commit()
        yield application


@pytest.fixture
def client(app):
    return app.test_client()


def service_token(client, client_id: str = "crm", realm: str = PARIS,
                  scope: str | None = None) -> str:
    """A client-credentials access token from the real token endpoint."""
    basic = base64.b64encode(f"{client_id}:{SECRET}".encode()).decode()
    # The client's registered scopes filter what is asked for (Authlib grants nothing
    # when nothing is asked for).
    data = {"grant_type": "client_credentials", "scope": scope or ALL_SCOPES}
    resp = client.post(f"/realms/{realm}/protocol/openid-connect/token", data=data,
                       headers={"Authorization": f"Basic {basic}"})
    assert resp.status_code == 200, resp.text
    return resp.json["access_token"]


def staff_token(app, email: str, *, otp_age: int | None = 10, client_id: str = "console"
                ) -> str:
    """An access token of a staff-realm client (``console``: the one meant for the admin
    API) for ``email``, as the code flow would issue it after password + TOTP
    (``otp_age`` seconds ago; None: no TOTP)."""
    with app.app_context():
        realm = find_realm(STAFF)
        account = db.session.execute(db.select(Customer).filter_by(
            realm_id=realm.id, identifier=email)).scalar_one()
        from idp.core.clients import find_client

        console = find_client(realm.id, client_id)
        token, jti, _exp = tokens.access_token(
            realm.id, f"http://idp.test/realms/{STAFF}", client_id=client_id,
            audience=[client_id, *(console.get("audiences") or [])], subject=account.sub,
            scope="openid", lifetime=300)
        now = int(time.time())
        db.session.add(Token(realm_id=realm.id, client_pk=console.pk, customer_id=account.id,
                             scope="openid", access_jti=jti,
                             access_expires_at=utcnow() + timedelta(seconds=300),
                             auth_time=now - (otp_age or 0),
                             amr=["pwd", "otp", "mfa"] if otp_age is not None else ["pwd"]))
        db.session.commit()
        return token


def bearer(token: str, **headers) -> dict:
    return {"Authorization": f"Bearer {token}", **headers}


@pytest.fixture
def crm(client):
    return bearer(service_token(client))


def make_customer(client, headers, identifier="200001", realm=PARIS, **fields):
    body = {"identifier": identifier, **fields}
    resp = client.post(f"/admin/realms/{realm}/customers", json=body, headers=headers)
    assert resp.status_code == 201, resp.text
    return resp.json
