"""Verification links, resend and cooldown, other address, SMTP down, forgotten password."""

from __future__ import annotations

from datetime import timedelta

from . import journey_helpers as jh
from .conftest import REALM, make_customer
from .journey_helpers import (
    audit_events,
    customer_row,
    link_in,
    post,
    set_realm_settings,
    sign_in,
    subject,
    submit,
)

smtp = jh.smtp
idp_config = jh.idp_config
VERIFY = f"/realms/{REALM}/login-actions/verify-email"


def start(client, runner, email="jean@example.test"):
    make_customer(runner, identifier="100002", password=None, email=None, verified=False,
                  temporary_password="123456")
    sign_in(client, "100002", "123456")
    return submit(client, "login-actions/email", {"email": email})


def test_resend_cooldown_then_resend(app, client, runner, smtp):
    start(client, runner)
    resp = post(client, VERIFY + "/resend")
    page = client.get(resp.headers["Location"])
    assert "Veuillez patienter" in page.text and len(smtp.to("jean@example.test")) == 1
    set_realm_settings(app, resend_cooldown=0)
    page = client.get(post(client, VERIFY + "/resend").headers["Location"])
    assert "Un nouveau courriel a été envoyé" in page.text
    second = smtp.wait_for("jean@example.test", 2)
    # The first link is superseded by the resend.
    first_link = link_in(smtp.to("jean@example.test")[0])
    resp = post(client, first_link)
    assert resp.status_code == 410 and "remplacé" in resp.text and 'id="renew"' in resp.text
    assert post(client, link_in(second)).headers["Location"].endswith("/login-actions/password")


def test_other_address(app, client, runner, smtp):
    set_realm_settings(app, resend_cooldown=0)
    start(client, runner, "typo@exmple.test")
    form = client.get(f"/realms/{REALM}/login-actions/email")
    assert 'value="typo@exmple.test"' in form.text and "autre adresse" in form.text
    submit(client, "login-actions/email", {"email": "jean@example.test"})
    old = link_in(smtp.wait_for("typo@exmple.test"))
    new = link_in(smtp.wait_for("jean@example.test"))
    assert post(client, old).status_code == 410
    post(client, new)
    assert customer_row(app, "100002").email == "jean@example.test"


def test_expired_link_gets_a_new_one(app, client, runner, smtp):
    set_realm_settings(app, resend_cooldown=0)
    start(client, runner)
    from idp.core.models import ActionToken
    from idp.extensions import db

    with app.app_context():
        for row in db.session.execute(db.select(ActionToken)).scalars():
            row.expires_at -= timedelta(minutes=10)
        db.session.commit()
    link = link_in(smtp.wait_for("jean@example.test"))
    page = client.get(link)
    assert page.status_code == 410 and "expiré" in page.text
    resp = post(client, link + "/renew")
    assert resp.status_code == 200 and "Un nouveau lien" in resp.text
    post(app.test_client(), link_in(smtp.wait_for("jean@example.test", 2)))
    assert customer_row(app, "100002").email_verified


def test_link_in_another_browser_then_sign_in(app, client, runner, smtp):
    start(client, runner)
    other = app.test_client()
    resp = post(other, link_in(smtp.wait_for("jean@example.test")))
    assert resp.status_code == 200 and "Connectez-vous" in resp.text
    # The first browser continues where it was.
    resp = client.get(VERIFY)
    assert resp.headers["Location"].endswith("/login-actions/password")
    # Used link: clear page, no renew (already verified).
    again = post(other, link_in(smtp.to("jean@example.test")[0]))
    assert again.status_code == 410 and "déjà été utilisé" in again.text
    assert 'id="renew"' not in again.text


def test_smtp_down_keeps_what_was_typed(app, client, runner, smtp):
    app.extensions["mail"].port = jh.free_port()  # nobody listens there
    resp = start(client, runner)
    page = client.get(resp.headers["Location"])
    assert "pas pu être envoyé" in page.text and "jean@example.test" in page.text
    assert audit_events(app, "mail_failed")
    app.extensions["mail"].port = smtp.port
    page = client.get(post(client, VERIFY + "/resend").headers["Location"])
    assert "Un nouveau courriel a été envoyé" in page.text  # no cooldown after a failure
    smtp.wait_for("jean@example.test")


def test_password_policy_names_each_rule(client, runner, smtp):
    start(client, runner)
    post(client, link_in(smtp.wait_for("jean@example.test")))
    resp = submit(client, "login-actions/password", {"password": "abc", "confirm": "abd"})
    assert resp.status_code == 400
    for msg in ("au moins 8 caractères", "au moins 1 majuscule", "au moins 1 chiffre",
                "au moins 1 caractère spécial", "ne sont pas identiques"):
        assert msg in resp.text
    resp = submit(client, "login-actions/password", {"password": "100002", "confirm": "100002"})
    assert "votre identifiant" in resp.text
    resp = submit(client, "login-actions/password",
                  {"password": "jean@example.test", "confirm": "jean@example.test"})
    assert "votre adresse email" in resp.text
    assert 'value="jean@example.test"' not in resp.text  # passwords are never echoed


def test_forgot_password_same_answer_and_reset(app, client, runner, smtp):
    make_customer(runner, identifier="100001", password="Bonjour-2026!",
                  email="marie@example.test")
    known = submit(client, "forgot-password", {"login": "100001"})
    unknown = submit(client, "forgot-password", {"login": "999999"})
    assert known.status_code == unknown.status_code == 200
    strip = lambda r, s: r.text.replace(s, "")  # noqa: E731
    assert strip(known, "100001") == strip(unknown, "999999")
    assert "communiqué aucune adresse mail ?" in known.text
    mail = smtp.wait_for("marie@example.test")
    assert "Réinitialisation" in subject(mail)
    link = link_in(mail)
    page = client.get(link)
    assert "Nouveau mot de passe" in page.text
    sso_client = app.test_client()
    sign_in(sso_client, "100001", "Bonjour-2026!")
    resp = post(client, link, {"password": "Nouveau-2026!", "confirm": "Nouveau-2026!"})
    assert resp.status_code == 200 and "toutes vos sessions" in resp.text
    assert sso_client.get(f"/realms/{REALM}/account/").status_code == 302  # ended
    assert "modifié" in subject(smtp.wait_for("marie@example.test", 2))
    assert post(client, link, {"password": "X-2026!abc", "confirm": "X-2026!abc"}
                ).status_code == 410
    assert sign_in(app.test_client(), "100001", "Nouveau-2026!").status_code == 302


def test_forgot_without_email_sends_nothing(client, runner, smtp):
    make_customer(runner, identifier="100002", password=None, email=None, verified=False,
                  temporary_password="123456")
    resp = submit(client, "forgot-password", {"login": "100002"})
    assert resp.status_code == 200 and "Première connexion" in resp.text
    assert smtp.messages == []
    assert "Veuillez saisir" in submit(client, "forgot-password", {"login": ""}).text
