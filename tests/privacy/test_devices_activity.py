"""Nouvelle connexion (known devices), Activité du compte, "Ce n'était pas moi"."""

from __future__ import annotations

from datetime import timedelta

from tests.idp.conftest import REALM
from tests.idp.journey_helpers import audit_events, post, sign_in, subject

from .helpers import (
    HOME,
    PASSWORD,
    UA_CHROME_WIN,
    UA_FIREFOX,
    browser,
    mail_about,
    marie,
    path_in,
    signed_in,
    text_of,
)

NEW_DEVICE = "Nouvelle connexion"


def _new_device_mails(smtp):
    return [m for m in smtp.to("marie@example.test") if NEW_DEVICE in subject(m)]


def test_first_browser_no_mail_second_browser_one_mail(app, runner, smtp):
    marie(runner)
    first = signed_in(app, ua=UA_FIREFOX)
    first.get(f"/realms/{REALM}/account/")
    sign_in(first, "100001", PASSWORD)  # the same browser again: known
    assert _new_device_mails(smtp) == []
    signed_in(app, ua=UA_CHROME_WIN)
    mail = mail_about(smtp, "marie@example.test", NEW_DEVICE)
    body = text_of(mail)
    assert "Chrome, Windows" in body and "127.0.0.1" in body and "Ce n'était pas moi" in body
    # A third sign-in from the first browser: still known, still one mail.
    sign_in(first, "100001", PASSWORD)
    assert len(_new_device_mails(smtp)) == 1


def test_at_most_one_mail_per_device_per_day(app, runner, smtp):
    from idp.core.models import KnownDevice
    from idp.extensions import db

    marie(runner)
    signed_in(app, ua=UA_FIREFOX)
    signed_in(app, ua=UA_CHROME_WIN)  # new: one mail
    mail_about(smtp, "marie@example.test", NEW_DEVICE)
    signed_in(app, ua=UA_CHROME_WIN)  # cookie cleared (a new test client): same kind, today
    assert len(_new_device_mails(smtp)) == 1
    with app.app_context():
        for row in db.session.execute(db.select(KnownDevice)).scalars():
            if row.last_mail_at:
                row.last_mail_at -= timedelta(days=1, minutes=1)
        db.session.commit()
    signed_in(app, ua=UA_CHROME_WIN)  # a day later: mailed again
    assert _wait_count(smtp, 2) == 2


def _wait_count(smtp, n, timeout=5.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and len(_new_device_mails(smtp)) < n:
        time.sleep(0.02)
    return len(_new_device_mails(smtp))


def test_no_mail_for_the_first_sign_in_of_a_premiere_connexion(app, runner, smtp):
    from tests.idp.conftest import make_customer

    make_customer(runner, identifier="200001", password=None, email=None, verified=False,
                  temporary_password="123456")
    client = browser(app, UA_CHROME_WIN)
    resp = sign_in(client, "200001", "123456")
    assert resp.status_code == 302
    assert audit_events(app, "new_device_signed_in") == []


def test_not_me_link_ends_sessions_and_starts_a_reset(app, runner, smtp):
    marie(runner)
    first = signed_in(app, ua=UA_FIREFOX)
    second = signed_in(app, ua=UA_CHROME_WIN)
    link = path_in(mail_about(smtp, "marie@example.test", NEW_DEVICE), "not-me")
    page = browser(app).get(link)
    assert page.status_code == 200 and "Fermer toutes les sessions" in page.text
    assert first.get(HOME).status_code == 200  # opening the link changed nothing
    done = post(browser(app), link)
    assert done.status_code == 200 and "sont fermées" in done.text
    assert first.get(HOME).status_code == 302 and second.get(HOME).status_code == 302
    mail_about(smtp, "marie@example.test", "Réinitialisation")
    assert [e.detail["where"] for e in audit_events(app, "not_me_reported")] == ["mail"]
    assert browser(app).get(link[:-3] + "abc").status_code == 410


def test_activity_lists_sign_ins_with_method_device_and_not_me(app, runner, smtp):
    marie(runner)
    signed_in(app, ua=UA_FIREFOX)
    client = signed_in(app, ua=UA_CHROME_WIN)
    page = client.get(HOME)
    assert "Activité du compte" in page.text
    assert page.text.count('data-event="login"') == 2
    assert "Chrome, Windows" in page.text and "Firefox, Linux" in page.text
    assert "Mot de passe" in page.text and page.text.count("class=\"link not-me\"") == 2
    done = post(client, "account/not-me")
    assert done.status_code == 200 and client.get(HOME).status_code == 302
    assert [e.detail["where"] for e in audit_events(app, "not_me_reported")] == ["account"]


def test_activity_keeps_the_last_twenty(app, runner, smtp):
    from idp.core import activity
    from idp.core.models import AuditEvent, Customer
    from idp.extensions import db

    marie(runner)
    with app.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        for i in range(30):
            db.session.add(AuditEvent(realm_id=c.realm_id, customer_id=c.id, event="login",
                                      ip=f"10.0.0.{i}", detail={"amr": ["pwd"]}))
        db.session.add(AuditEvent(realm_id=c.realm_id, customer_id=c.id,
                                  event="login_failed", detail={}))
        db.session.commit()
        entries = activity.recent(c)
        assert len(entries) == 20 and entries[0].ip == "10.0.0.29"
        assert all(e.event == "login" for e in entries)


def test_mails_in_english(app, runner, smtp):
    from .helpers import request_code

    marie(runner)
    signed_in(app, ua=UA_FIREFOX)
    english = browser(app, UA_CHROME_WIN)
    english.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    sign_in(english, "100001", PASSWORD)
    mail = mail_about(smtp, "marie@example.test", "New sign-in to your customer area")
    assert "It was not me" in text_of(mail) and "Browser and system: Chrome, Windows" in (
        text_of(mail))
    request_code(english, "100001")
    code_mail = mail_about(smtp, "marie@example.test", "Your sign-in code")
    assert "valid for 10 minutes" in text_of(code_mail)
    page = english.get(f"/realms/{REALM}/login/email-code")
    assert "Sign in with a code received by email" in page.text
