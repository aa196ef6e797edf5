"""Issue 9, item 8: linking a social account from Mon compte re-asks the password and
mails the customer; a pending link never rides on another sign-in."""

from __future__ import annotations

from idp.core.models import OutboxMail
from idp.extensions import db
from tests.idp.conftest import REALM, make_customer
from tests.idp.federation_support import PASSWORD, Social, csrf_from, events, links_of

SOCIAL = f"/realms/{REALM}/account/social"


def _signed_in(social_app, runner) -> Social:
    make_customer(runner, identifier="700001", email="marie@example.test")
    web = Social(social_app.test_client())
    assert web.password_login("700001").status_code == 302
    return web


def test_linking_from_mon_compte_needs_the_current_password(social_app, runner):
    """Before: whoever held the session (a shared computer, a stolen cookie) linked their
    own Google account with one click, and the customer was never told. Now the link
    button asks the current password first (a wrong one goes nowhere, counted like a
    sign-in failure) and the customer is mailed once it is linked."""
    web = _signed_in(social_app, runner)
    page = web.get(SOCIAL)
    direct = web.post(f"{SOCIAL}/google/link", data={"csrf_token": csrf_from(page.text)})
    assert direct.status_code == 200 and 'id="link-confirm"' in direct.text
    wrong = web.post(f"{SOCIAL}/google/link", data={"csrf_token": csrf_from(direct.text),
                                                   "current_password": "not-it"})
    assert wrong.status_code == 401 and "Location" not in wrong.headers
    with social_app.app_context():
        assert events("federated_link_reauth_failed")
    right = web.post(f"{SOCIAL}/google/link", data={"csrf_token": csrf_from(direct.text),
                                                   "current_password": PASSWORD})
    assert right.status_code == 302 and not web.internal(right.headers["Location"])
    back = web.callback(web.at_provider(right.headers["Location"]))
    assert back.status_code == 302
    with social_app.app_context():
        assert [r.provider for r in links_of("700001")] == ["google"]
        mail = db.session.query(OutboxMail).filter_by(template="account_linked").one()
        assert mail.recipient == "marie@example.test"


def test_pending_link_dies_with_its_sign_in_state(social_app, runner):
    """Before: an unknown social identity waited 15 minutes in the cookie and was attached
    to the next sign-in completed in that browser (a shared computer linked the attacker's
    Google account to the next customer). Now it lives in the sign-in state, which the
    next sign-in replaces."""
    make_customer(runner, identifier="700002", email="next@example.test")
    web = Social(social_app.test_client())
    assert web.social("google", user="bruno").status_code == 302  # unknown: link page
    final = web.follow(web.authorize())  # the next customer starts a client sign-in
    assert final.status_code == 200
    web.follow(web.password_login("700002"))
    with social_app.app_context():
        assert links_of("700002") == []

