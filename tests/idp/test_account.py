"""Mon compte: email change with re-verification, password change, sessions."""

from __future__ import annotations

import re

from . import journey_helpers as jh
from .conftest import REALM, make_customer
from .journey_helpers import customer_row, link_in, post, sign_in, subject, submit

smtp = jh.smtp
idp_config = jh.idp_config
HOME = f"/realms/{REALM}/account/"


def signed_in(app, runner=None):
    c = app.test_client()
    sign_in(c, "100001", "Bonjour-2026!")
    return c


def test_home_shows_identifier_email_and_sessions(app, client, runner):
    make_customer(runner)
    assert client.get(HOME).status_code == 302
    sign_in(client, "100001", "Bonjour-2026!")
    page = client.get(HOME)
    assert "100001" in page.text and "marie@example.test" in page.text
    assert "Mes sessions" in page.text and "cette session" in page.text


def test_change_email_reverified_and_old_notified(app, client, runner, smtp):
    make_customer(runner)
    sign_in(client, "100001", "Bonjour-2026!")
    bad = submit(client, "account/email", {"email": "new@example.test",
                                           "current_password": "wrong"})
    assert bad.status_code == 400 and "Mot de passe incorrect." in bad.text
    assert 'value="new@example.test"' in bad.text
    resp = submit(client, "account/email", {"email": "new@example.test",
                                            "current_password": "Bonjour-2026!"})
    assert resp.status_code == 302
    assert "new@example.test" in client.get(HOME).text
    assert customer_row(app, "100001").email == "marie@example.test"  # not before the link
    post(client, link_in(smtp.wait_for("new@example.test")))
    row = customer_row(app, "100001")
    assert row.email == "new@example.test" and row.email_verified
    notice = smtp.wait_for("marie@example.test")
    assert "modifiée" in subject(notice)


def test_change_password_requires_current_and_policy(app, client, runner, smtp):
    make_customer(runner)
    sign_in(client, "100001", "Bonjour-2026!")
    other = signed_in(app)
    resp = submit(client, "account/password", {"current_password": "nope",
                                               "password": "Autre-2026!", "confirm": "Autre-2026!"})
    assert resp.status_code == 400 and "Mot de passe incorrect." in resp.text
    resp = submit(client, "account/password", {"current_password": "Bonjour-2026!",
                                               "password": "faible", "confirm": "faible"})
    assert "au moins 8 caractères" in resp.text
    resp = submit(client, "account/password", {"current_password": "Bonjour-2026!",
                                               "password": "Autre-2026!", "confirm": "Autre-2026!"})
    assert resp.status_code == 302
    assert client.get(HOME).status_code == 200       # this session stays
    assert other.get(HOME).status_code == 302        # the others are ended
    smtp.wait_for("marie@example.test")


def test_end_a_session(app, client, runner):
    make_customer(runner)
    sign_in(client, "100001", "Bonjour-2026!")
    other = signed_in(app)
    page = client.get(HOME).text
    sids = re.findall(r"/account/sessions/([^/]+)/end", page)
    assert len(sids) == 2
    for sid in sids:
        if "cette session" not in page.split(sid)[0].rsplit("<li>", 1)[-1]:
            post(client, f"{HOME}sessions/{sid}/end")
    assert sum(c.get(HOME).status_code == 200 for c in (client, other)) == 1
