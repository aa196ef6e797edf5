"""Se connecter avec un code reçu par email: every rule and refusal."""

from __future__ import annotations

from datetime import timedelta

from tests.idp.conftest import REALM, make_customer
from tests.idp.journey_helpers import audit_events, customer_row, post, set_realm_settings

from .helpers import HOME, browser, code_in, marie, request_code

CODE_PAGE = f"/realms/{REALM}/login/email-code"


def _send_and_submit(client, smtp, login="100001", email="marie@example.test", n=1):
    resp = request_code(client, login)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(
        "/login/email-code?sent=1")
    code = code_in(smtp.wait_for(email, n))
    return code, post(client, CODE_PAGE, {"code": code})


def test_sign_in_with_an_emailed_code(app, runner, smtp):
    marie(runner)
    client = browser(app)
    page = client.get(f"/realms/{REALM}/login")
    assert 'id="email-code"' in page.text and "Recevoir un code par email" in page.text
    code, resp = _send_and_submit(client, smtp)
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/")
    assert "100001" in client.get(HOME).text
    login = audit_events(app, "login")[-1]
    assert login.detail["amr"] == ["otp"] and login.detail["acr"] == "1"
    # Single use: the same code again does nothing.
    other = browser(app)
    request_code(other, "100001")  # within the cooldown: no new mail, same page
    again = post(other, CODE_PAGE, {"code": code})
    assert again.status_code == 400 and "incorrect ou a expiré" in again.text
    assert len(smtp.to("marie@example.test")) == 1


def test_wrong_code_is_refused_and_counted(app, runner, smtp):
    marie(runner)
    client = browser(app)
    request_code(client, "100001")
    code = code_in(smtp.wait_for("marie@example.test"))
    wrong = "000000" if code != "000000" else "111111"
    resp = post(client, CODE_PAGE, {"code": wrong})
    assert resp.status_code == 400 and "incorrect ou a expiré" in resp.text
    assert customer_row(app, "100001").failed_attempts == 1
    ok = post(client, CODE_PAGE, {"code": code})
    assert ok.status_code == 302 and ok.headers["Location"].endswith("/account/")
    assert customer_row(app, "100001").failed_attempts == 0


def test_expired_code_is_refused(app, runner, smtp):
    from idp.core.models import Customer
    from idp.extensions import db

    marie(runner)
    client = browser(app)
    request_code(client, "100001")
    code = code_in(smtp.wait_for("marie@example.test"))
    with app.app_context():
        row = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        row.email_code_expires_at -= timedelta(minutes=11)
        db.session.commit()
    resp = post(client, CODE_PAGE, {"code": code})
    assert resp.status_code == 400 and "incorrect ou a expiré" in resp.text


def test_a_new_code_supersedes_the_previous_one(app, runner, smtp):
    from idp.core.models import Customer
    from idp.extensions import db

    marie(runner)
    client = browser(app)
    request_code(client, "100001")
    first = code_in(smtp.wait_for("marie@example.test"))
    with app.app_context():  # past the resend cooldown
        row = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        row.email_code_sent_at -= timedelta(minutes=2)
        db.session.commit()
    request_code(client, "marie@example.test")
    second = code_in(smtp.wait_for("marie@example.test", 2))
    if first != second:
        stale = post(client, CODE_PAGE, {"code": first})
        assert stale.status_code == 400
    assert post(client, CODE_PAGE, {"code": second}).status_code == 302


def test_lockout_is_the_passwords(app, runner, smtp):
    marie(runner)
    client = browser(app)
    request_code(client, "100001")
    code = code_in(smtp.wait_for("marie@example.test"))
    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):  # failure_factor: 5
        post(client, CODE_PAGE, {"code": wrong})
    row = customer_row(app, "100001")
    assert row.locked_until is not None
    locked = post(client, CODE_PAGE, {"code": code})
    assert locked.status_code == 400 and "incorrect ou a expiré" in locked.text


def test_same_answer_and_no_mail_for_unknown_or_unverified(app, runner, smtp):
    marie(runner)
    make_customer(runner, identifier="100002", email="paul@example.test", verified=False)
    answers = []
    for login in ("100001", "999999", "nobody@example.test", "100002", "paul@example.test"):
        client = browser(app)
        resp = request_code(client, login)
        answers.append((resp.status_code, resp.headers["Location"]))
        page = client.get(resp.headers["Location"])
        assert "Si un compte avec une adresse email vérifiée correspond" in page.text
    assert len(set(answers)) == 1
    smtp.wait_for("marie@example.test")
    assert smtp.to("paul@example.test") == [] and len(smtp.messages) == 1
    reasons = {e.detail.get("reason") for e in audit_events(app, "email_code_refused")}
    assert reasons == {"unknown", "no_verified_email"}


def test_empty_identifier_keeps_the_form_with_a_message(app, runner, smtp):
    client = browser(app)
    resp = request_code(client, "")
    assert resp.status_code == 400
    assert "Saisissez d'abord votre identifiant" in resp.text


def test_realm_switch_and_english(app, runner, smtp):
    marie(runner)
    set_realm_settings(app, email_code_sign_in=False)
    client = browser(app)
    assert 'id="email-code"' not in client.get(f"/realms/{REALM}/login").text
    resp = request_code(client, "100001")
    assert resp.status_code == 400 and smtp.messages == []
    set_realm_settings(app, email_code_sign_in=True)
    client = browser(app)
    client.get(f"/realms/{REALM}/login?ui_locales=en")
    page = client.get(f"/realms/{REALM}/login", headers={"Accept-Language": "en"})
    assert "Get a code by email" in page.text


def test_not_offered_in_the_staff_realm(app, runner, smtp):
    from idp.core import email_code
    from idp.core.realms import find_realm

    with app.app_context():
        realm = find_realm(REALM)
        assert email_code.offered(realm, "agency-staff")
        assert not email_code.offered(realm, REALM)
