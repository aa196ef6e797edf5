"""Attack #1 in the staff realm: a password alone (the TOTP step still owed) must not
register a passkey through the sign-in's offer endpoints."""

from __future__ import annotations

from idp.core import passkeys as pk
from idp.core.models import Customer
from idp.extensions import db

from .conftest import STAFF, csrf_from


def test_no_passkey_before_the_second_factor(app, staff_factory):
    member = staff_factory("paris@agence.example", "--realm", "paris-ile-de-france")
    resp = member.login()
    assert resp.headers["Location"].endswith("/login-actions/otp")
    member.client.set_cookie("passkey_capable", "1")
    page = member.client.get(f"/realms/{STAFF}/login-actions/otp")
    headers = {"X-CSRFToken": csrf_from(page.text), "Accept": "application/json"}
    for step in ("options", "verify"):
        refused = member.client.post(f"/realms/{STAFF}/passkeys/offer/{step}", json={},
                                     headers=headers)
        assert refused.status_code == 400, refused.text
        assert refused.json["error"] == "sign_in_incomplete"
    with app.app_context():
        account = db.session.execute(
            db.select(Customer).filter_by(email_normalized="paris@agence.example")
        ).scalar_one()
        assert pk.list_passkeys(account) == []
