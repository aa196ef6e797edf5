"""Première connexion through the Flask client, with a real SMTP server on loopback."""

from __future__ import annotations

from . import journey_helpers as jh
from .conftest import REALM, make_customer
from .journey_helpers import customer_row, link_in, parts, post, sign_in, subject, submit

smtp = jh.smtp
idp_config = jh.idp_config


def temp_customer(runner, identifier="100002", code="123456"):
    return make_customer(runner, identifier=identifier, password=None, email=None,
                         verified=False, temporary_password=code)


def test_full_first_login_with_temporary_code(app, client, runner, smtp):
    temp_customer(runner)
    resp = sign_in(client, "100002", "123456")
    assert resp.headers["Location"].endswith(f"/realms/{REALM}/login-actions/email")
    form = client.get(resp.headers["Location"])
    assert "Soumettre" in form.text and 'lang="fr"' in form.text
    resp = submit(client, "login-actions/email", {"email": "jean@example.test"})
    assert resp.headers["Location"].endswith("/login-actions/verify-email")
    screen = client.get(resp.headers["Location"])
    assert "Vous devez vérifier votre courriel pour activer votre compte." in screen.text
    assert "pour renvoyer le courriel" in screen.text
    assert "Vous voulez indiquer une autre adresse email ?" in screen.text
    mail = smtp.wait_for("jean@example.test")
    assert subject(mail) == "Mon espace client - Vérification de votre adresse de messagerie"
    assert "no-reply@monespaceclient.test" in mail["From"]
    text, html = parts(mail)
    for body in (text, html):
        assert "Paris Île-de-France" in body
        assert "Confirmer mon adresse email" in body
        assert "Ce lien expire dans 5 minute(s)." in body
        assert "Sinon, veuillez ignorer ce message." in body
    # A refresh does not send another mail.
    client.get(f"/realms/{REALM}/login-actions/verify-email")
    assert len(smtp.to("jean@example.test")) == 1
    link = link_in(mail)
    landing = client.get(link)
    assert landing.status_code == 200 and "Confirmer mon adresse email" in landing.text
    resp = post(client, link)
    assert resp.headers["Location"].endswith("/login-actions/password")
    pw_page = client.get(resp.headers["Location"])
    for rule in ("Au moins 8 caractères", "Au moins 1 majuscule", "Au moins 1 chiffre",
                 "Au moins 1 caractère spécial", "Confirmation du mot de passe"):
        assert rule in pw_page.text
    resp = submit(client, "login-actions/password",
                  {"password": "Nouveau-2026!", "confirm": "Nouveau-2026!"})
    assert resp.headers["Location"].endswith(f"/realms/{REALM}/account/")
    home = client.get(resp.headers["Location"])
    assert "100002" in home.text and "jean@example.test" in home.text
    row = customer_row(app, "100002")
    assert row.required_actions == [] and row.email_verified and row.activated_at
    assert row.temporary_code_hash is None and row.password_hash.startswith("$argon2id$")
    # The temporary code is dead; the new password works.
    other = app.test_client()
    assert sign_in(other, "100002", "123456").status_code == 401
    assert sign_in(other, "100002", "Nouveau-2026!").headers["Location"].endswith("/account/")


def test_wrong_temporary_code_gets_the_usual_message(client, runner):
    temp_customer(runner)
    resp = sign_in(client, "100002", "654321")
    assert resp.status_code == 401
    unknown = sign_in(client, "999999", "654321")
    assert "Identifiant ou mot de passe incorrect." in resp.text
    assert resp.text.count("incorrect") == unknown.text.count("incorrect")


def test_first_button_page(client):
    resp = client.get(f"/realms/{REALM}/login?first=1")
    assert "Première connexion" in resp.text and "Annuler" in resp.text


def test_legacy_bcrypt_goes_straight_in_after_verification(app, client, runner, smtp):
    import bcrypt

    from idp.core.models import Customer, Realm
    from idp.extensions import db

    with app.app_context():
        realm = db.session.execute(db.select(Realm)).scalars().first()
        c = Customer(realm_id=realm.id, identifier="100003", required_actions=["VERIFY_EMAIL"],
                     legacy_hash=bcrypt.hashpw(b"Ancien-mdp1", bcrypt.gensalt(4)).decode())
        c.set_email("sophie@example.test", verified=False)
        db.session.add(c)
        db.session.commit()
    resp = sign_in(client, "100003", "Ancien-mdp1")
    assert resp.headers["Location"].endswith("/login-actions/verify-email")
    client.get(resp.headers["Location"])
    link = link_in(smtp.wait_for("sophie@example.test"))
    resp = post(client, link)
    assert resp.headers["Location"].endswith("/account/")
    row = customer_row(app, "100003")
    assert row.legacy_hash is None and row.password_hash.startswith("$argon2id$")


def test_set_email_rejects_bad_address_and_keeps_it(client, runner, smtp):
    temp_customer(runner)
    sign_in(client, "100002", "123456")
    resp = submit(client, "login-actions/email", {"email": "jean@@example"})
    assert resp.status_code == 400, resp.text
    assert "pas valide" in resp.text and 'value="jean@@example"' in resp.text
    resp = submit(client, "login-actions/email", {"email": ""})
    assert "Veuillez saisir votre adresse email." in resp.text
    assert smtp.messages == []


def test_actions_need_a_pending_flow(client):
    for path in ("login-actions/email", "login-actions/verify-email", "login-actions/password"):
        resp = client.get(f"/realms/{REALM}/{path}")
        assert resp.status_code == 302 and resp.headers["Location"].endswith("/login")


def test_english_second(client, runner, smtp):
    temp_customer(runner)
    client.get(f"/realms/{REALM}/login?ui_locales=en")
    sign_in(client, "100002", "123456")
    submit(client, "login-actions/email", {"email": "jean@example.test"})
    page = client.get(f"/realms/{REALM}/login-actions/verify-email")
    assert "You need to verify your email to activate your account." in page.text
    mail = smtp.wait_for("jean@example.test")
    assert subject(mail) == "My customer space - Verification of your email address"
    assert "This link expires in 5 minute(s)." in parts(mail)[0]
