"""Supprimer mon compte: request, grace period, cancel (sign-in, link), refusal, purge."""

from __future__ import annotations

import pytest

from tests.idp.conftest import REALM
from tests.idp.journey_helpers import audit_events, customer_row, post, sign_in

from .helpers import (
    HOME,
    PASSWORD,
    age_session,
    browser,
    mail_about,
    marie,
    move_deletion_back,
    path_in,
    signed_in,
    text_of,
)

DELETE = f"/realms/{REALM}/account/delete"


def _request_deletion(app, client):
    page = client.get(DELETE)
    assert page.status_code == 200
    assert "marie@example.test" in page.text and "Marie Dupont" in page.text
    return post(client, DELETE)


def test_request_needs_a_fresh_proof(app, runner, smtp):
    marie(runner)
    client = signed_in(app)
    age_session(app, client)
    resp = client.get(DELETE)
    assert resp.status_code == 302 and "/account/confirm" in resp.headers["Location"]
    refused = post(client, DELETE)
    assert refused.status_code == 302 and "/account/confirm" in refused.headers["Location"]
    assert customer_row(app, "100001").deletion_requested_at is None


def test_request_ends_sessions_mails_a_cancel_link_and_blocks_sign_in(app, runner, smtp):
    marie(runner)
    other = signed_in(app)
    client = signed_in(app)
    done = _request_deletion(app, client)
    assert done.status_code == 200 and "sera supprimé le" in done.text
    assert customer_row(app, "100001").deletion_requested_at is not None
    # Every session ended, this one and the other browser's.
    assert other.get(HOME).status_code == 302 and client.get(HOME).status_code == 302
    mail = mail_about(smtp, "marie@example.test", "Demande de suppression")
    # Signing in offers to cancel and does not complete otherwise.
    resp = sign_in(browser(app), "100001", PASSWORD)
    assert resp.headers["Location"].endswith("/login-actions/deletion-pending")
    third = browser(app)
    sign_in(third, "100001", PASSWORD)
    page = third.get(f"/realms/{REALM}/login-actions/deletion-pending")
    assert "Annuler la suppression et me connecter" in page.text
    keep = post(third, "login-actions/deletion-pending", {"choice": "keep"})
    assert keep.status_code == 302 and third.get(HOME).status_code == 302
    # The mail's link cancels (after a confirming button).
    link = path_in(mail, "account-deletion/cancel")
    assert "Garder mon compte" in browser(app).get(link).text
    assert customer_row(app, "100001").deletion_requested_at is not None
    assert post(browser(app), link).status_code == 200
    assert customer_row(app, "100001").deletion_requested_at is None
    assert browser(app).get(link).status_code == 410  # used: nothing pending any more
    assert signed_in(app).get(HOME).status_code == 200


def test_cancel_by_signing_in(app, runner, smtp):
    marie(runner)
    _request_deletion(app, signed_in(app))
    client = browser(app)
    sign_in(client, "100001", PASSWORD)
    resp = post(client, "login-actions/deletion-pending", {"choice": "cancel"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/account/")
    assert client.get(HOME).status_code == 200
    assert customer_row(app, "100001").deletion_requested_at is None
    assert [e.detail["how"] for e in audit_events(app, "customer_deletion_cancelled")] == [
        "sign_in"]


def test_purge_erases_personal_data_and_records_the_event(app, runner, smtp):
    from idp.core import passkeys as pk
    from idp.core.models import AuditEvent, Customer, SsoSession
    from idp.extensions import db

    marie(runner)
    _request_deletion(app, signed_in(app))
    with app.app_context():
        c = db.session.execute(db.select(Customer).filter_by(identifier="100001")).scalar_one()
        db.session.add(pk.Passkey(realm_id=c.realm_id, customer_id=c.id,
                                  credential_id=b"cred", public_key=b"key", name="iPhone"))
        db.session.commit()
        sub = c.sub
    nothing = runner.invoke(args=["customers", "purge-deleted"])
    assert "nothing to purge" in nothing.output
    move_deletion_back(app, "100001", 31)
    result = runner.invoke(args=["customers", "purge-deleted"])
    assert result.exit_code == 0 and "100001" in result.output
    row = customer_row(app, "100001")
    assert row.deleted_at is not None and row.identifier == "100001"
    assert (row.email, row.given_name, row.family_name, row.password_hash) == (
        None, None, None, None)
    assert not row.enabled
    with app.app_context():
        assert db.session.execute(db.select(pk.Passkey)).first() is None
        assert db.session.execute(db.select(SsoSession)).first() is None
        trail = db.session.execute(db.select(AuditEvent).filter_by(customer_id=row.id)
                                   .where(AuditEvent.event != "customer_deleted")).scalars()
        assert all(e.ip is None and e.detail == {} for e in trail)
    [event] = audit_events(app, "customer_deleted")
    assert event.detail["sub"] == sub and event.detail["identifier"] == "100001"
    resp = sign_in(browser(app), "100001", PASSWORD)
    assert resp.status_code == 401
    again = runner.invoke(args=["customers", "purge-deleted"])
    assert "nothing to purge" in again.output


def test_agency_refuses_with_a_reason_shown_to_the_customer(app, runner, smtp):
    from idp.core import operations as ops
    from idp.core.realms import find_realm
    from idp.core.staff import PermissionDenied, Principal
    from idp.extensions import db
    from idp.web.mail import deliver_now

    marie(runner)
    _request_deletion(app, signed_in(app))
    with app.app_context():
        realm = find_realm(REALM)
        other = Principal(actor="staff:other", realms=frozenset({"lyon"}))
        with pytest.raises(PermissionDenied):
            ops.refuse_deletion(other, realm, "100001", "Bail en cours")
        boss = Principal(actor="staff:boss", super_admin=True)
        assert [c.identifier for c in ops.pending_deletions(boss, realm)] == ["100001"]
        with pytest.raises(ops.AdminError) as refused:
            ops.refuse_deletion(boss, realm, "100001", "   ")
        assert refused.value.code == "reason_required"
        row = ops.refuse_deletion(boss, realm, "100001", "Bail en cours jusqu'au 30/06")
        db.session.commit()
        assert deliver_now(row)
    refused = mail_about(smtp, "marie@example.test", "suppression a été refusée")
    assert "Bail en cours" in text_of(refused)
    client = signed_in(app)
    assert "Bail en cours jusqu&#39;au 30/06" in client.get(HOME).text
