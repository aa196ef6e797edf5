"""Console fixtures: the idp app with two customer realms, staff created with the CLI,
and a helper signing a staff member in through the real sign-in flow (password + TOTP)."""

from __future__ import annotations

import re
import time
import types
from urllib.parse import urlsplit

import pyotp
import pytest

from idp.core import totp
from idp.extensions import db
from tests.idp import conftest as idp_fixtures
from tests.idp.conftest import REALM, csrf_from, make_customer
from tests.support.realms import import_realm
from tests.support.sign_in import sign_in

# The idp's fixtures (app with its realm and clients, test client, CLI runner, customer).
app, client, runner, customer, flow = (idp_fixtures.app, idp_fixtures.client,
                                       idp_fixtures.runner, idp_fixtures.customer,
                                       idp_fixtures.flow)
OTHER = "lyon"
STAFF = "agency-staff"
PASSWORD = "Console-2026!x"


@pytest.fixture
def realms(app):
    with app.app_context():
        import_realm({"realm": OTHER, "display_name": "Lyon"})
    return REALM, OTHER


def create_staff(runner, email, *roles):
    result = runner.invoke(args=["admins", "create", "--email", email, *roles])
    assert result.exit_code == 0, result.output
    link = re.search(r"http://\S+/action/\S+", result.output).group(0)
    return urlsplit(link).path


class Staff:
    """One staff member's browser (a Flask test client)."""

    def __init__(self, client, email):
        self.client = client
        self.email = email
        self.secret = None
        self.recovery = []
        self.clock = CLOCK

    def code(self):
        # Each sign-in or step-up needs a fresh time step (a replayed code is refused):
        # the TOTP clock of the core moves on by one step.
        self.clock[0] += totp.STEP_SECONDS
        return pyotp.TOTP(self.secret).at(self.clock[0])

    def enrol(self, link_path):
        page = self.client.get(link_path)
        assert page.status_code == 200, page.text
        resp = self.client.post(link_path, data={"csrf_token": csrf_from(page.text),
                                                 "password": PASSWORD, "confirm": PASSWORD})
        assert resp.status_code == 200, resp.text
        resp = self.login()
        assert "/login-actions/configure-totp" in resp.headers["Location"], resp.headers
        page = self.client.get(resp.headers["Location"])
        self.secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page.text).group(1)
        self.secret = self.secret.replace(" ", "")
        assert "<svg" in page.text
        resp = self.client.post(f"/realms/{STAFF}/login-actions/configure-totp",
                                data={"csrf_token": csrf_from(page.text), "code": self.code()})
        assert resp.status_code == 200, resp.text
        self.recovery = re.findall(r"<code>([a-z2-7]{5}-[a-z2-7]{5})</code>", resp.text)
        assert len(self.recovery) == totp.RECOVERY_CODES
        resp = self.client.post(f"/realms/{STAFF}/login-actions/continue",
                                data={"csrf_token": csrf_from(resp.text)})
        assert resp.headers["Location"].endswith("/admin/console/"), resp.headers
        return resp

    def login(self, password=PASSWORD):
        return sign_in(self.client, self.email, password, realm=STAFF)

    def sign_in(self, code=None):
        resp = self.login()
        assert resp.headers["Location"].endswith("/login-actions/otp"), resp.headers
        page = self.client.get(resp.headers["Location"])
        return self.client.post(f"/realms/{STAFF}/login-actions/otp", data={
            "csrf_token": csrf_from(page.text), "code": code or self.code()})

    def post(self, path, data=None, page=None):
        """POST a console form with the CSRF token of ``page`` (default: the console home)."""
        html = self.client.get(page or "/admin/console/").text
        return self.client.post(path, data={"csrf_token": csrf_from(html), **(data or {})})


CLOCK = [time.time()]


@pytest.fixture(autouse=True)
def totp_clock(monkeypatch):
    """The core's TOTP clock, moved by the tests (no 30-second sleeps)."""
    CLOCK[0] = time.time()
    monkeypatch.setattr(totp, "time", types.SimpleNamespace(time=lambda: CLOCK[0]))
    return CLOCK


@pytest.fixture
def staff_factory(app, runner, realms):
    def make(email, *roles, enrol=True):
        link = create_staff(runner, email, *roles)
        member = Staff(app.test_client(), email)
        if enrol:
            member.enrol(link)
        member.link = link
        return member
    return make


@pytest.fixture
def boss(staff_factory):
    return staff_factory("boss@agence.example", "--super-admin")


@pytest.fixture
def paris_admin(staff_factory):
    return staff_factory("paris@agence.example", "--realm", REALM)


@pytest.fixture
def customers_in_both(runner, app, realms):
    make_customer(runner, "100001", given_name="Marie", family_name="Dupont")
    make_customer(runner, "100002", password=None, email=None, verified=False,
                  temporary_password="123456", given_name="Jean", family_name="Martin")
    result = runner.invoke(args=["customers", "create", "--realm", OTHER, "--identifier",
                                 "900001", "--password", "Lyon-2026!x"])
    assert result.exit_code == 0, result.output


def audit_events(app, event):
    from idp.core.models import AuditEvent

    with app.app_context():
        return [(e.realm_id, e.customer_id, dict(e.detail or {})) for e in db.session.execute(
            db.select(AuditEvent).filter_by(event=event)).scalars()]
