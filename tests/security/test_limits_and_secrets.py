"""Issue 9, items 4 and 10: failure budget and spray detector on Flask-Limiter's storage
(memory and Redis), forwarded headers only from trusted proxies, locks lifted, secrets
encrypted at rest, link secrets kept out of logs."""

from __future__ import annotations

import logging
import os
import secrets

import pytest

from idp import create_app
from idp.core import crypto, keys
from idp.core.models import AuditEvent, IdentityProvider, SigningKey
from idp.extensions import db
from tests.idp.conftest import make_customer

from .conftest import PASSWORD, REALM, csrf_from, customer_of, events, login, set_brute_force

REDIS = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")


@pytest.fixture(params=["memory", "redis"])
def limited(request, idp_config):
    """``RATELIMIT_ENABLED`` with the failure budget on memory, then on Redis (a db
    number of its own, keys under a random prefix)."""
    storage = "memory://" if request.param == "memory" else f"{REDIS}/11"
    return {**idp_config, "RATELIMIT_ENABLED": True, "RATELIMIT_STORAGE_URI": storage,
            "RATELIMIT_KEY_PREFIX": secrets.token_hex(6), "LOGIN_RATE_LIMIT": "1000/minute",
            "FAILURE_RATE_LIMIT": "10/minute;50/hour", "RATELIMIT_SWALLOW_ERRORS": False,
            "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": False}


def _app(config):
    from tests.support.realms import import_realm

    application = create_app(config)
    with application.app_context():
        db.create_all()
        import_realm({"realm": REALM, "display_name": "Paris"})
    return application


@pytest.fixture
def limited_app(limited):
    application = _app(limited)
    yield application
    with application.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def _as(application, ip: str):
    browser = application.test_client()
    browser.environ_base["REMOTE_ADDR"] = ip
    return browser


def test_failure_budget_counts_failures_across_customers(limited_app):
    """Before: 50 wrong passwords from one address, spread over ten customers, met no
    limit (60/minute counted requests). Now the 11th failure in a minute from an address
    is refused before any check, even with the right password; another address is not."""
    runner = limited_app.test_cli_runner()
    for i in range(5):
        make_customer(runner, identifier=f"60000{i}", email=None, verified=False)
    attacker = _as(limited_app, "203.0.113.7")
    for i in range(10):
        assert login(attacker, f"60000{i % 5}", "wrong").status_code == 401
    refused = login(attacker, "600000", PASSWORD)
    assert refused.status_code == 401 and "60000" not in refused.headers.get("Location", "")
    assert login(_as(limited_app, "198.51.100.9"), "600000", PASSWORD).status_code == 302


def test_ipv6_addresses_share_their_64(limited_app):
    """An IPv6 subscriber owns a /64: rotating the low bits does not buy a new budget."""
    make_customer(limited_app.test_cli_runner(), identifier="600010", email=None,
                  verified=False)
    set_brute_force(limited_app, failure_factor=1000)  # the address budget, not the lock
    for i in range(10):
        login(_as(limited_app, f"2001:db8:1:2::{i + 1:x}"), "600010", "wrong")
    assert login(_as(limited_app, "2001:db8:1:2::ffff"), "600010", PASSWORD).status_code == 401
    assert login(_as(limited_app, "2001:db8:1:3::1"), "600010", PASSWORD).status_code == 302


def test_spray_is_audited_and_halves_the_budget(limited, monkeypatch):
    """Before: the spray event was added to a session nobody committed (lost), and the
    halved budget was read from counters nobody spent (never exhausted). Now the event is
    in the audit log and an address past half its budget is refused during a spray."""
    application = _app({**limited, "SPRAY_RATE_LIMIT": "6/minute"})
    make_customer(application.test_cli_runner(), identifier="600020", email=None,
                  verified=False)
    set_brute_force(application, failure_factor=1000)
    for i in range(7):  # seven addresses, one failure each: the realm sees a spray
        login(_as(application, f"192.0.2.{i + 1}"), "600020", "wrong")
    slow = _as(application, "192.0.2.50")
    for _ in range(5):
        login(slow, "600020", "wrong")
    assert login(slow, "600020", PASSWORD).status_code == 401  # 5 = half of 10
    with application.app_context():
        assert len(events("password_spray_suspected")) == 1
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_forwarded_for_only_from_a_trusted_proxy(idp_config):
    """Before: IDP_PROXY_FIX trusted X-Forwarded-For from anyone reaching the port (the
    shipped docker-compose published it): every client chose its own address for the
    limits and the audit. Now only IDP_TRUSTED_PROXIES are believed."""
    with pytest.raises(RuntimeError, match="IDP_TRUSTED_PROXIES"):
        create_app({**idp_config, "PROXY_FIX": True})
    application = _app({**idp_config, "PROXY_FIX": True, "TRUSTED_PROXIES": "10.0.0.0/24"})
    make_customer(application.test_cli_runner(), identifier="600030", email=None,
                  verified=False)
    for peer in ("203.0.113.5", "10.0.0.2"):
        browser = _as(application, peer)
        page = browser.get(f"/realms/{REALM}/login")
        browser.post(f"/realms/{REALM}/login", headers={"X-Forwarded-For": "1.2.3.4"},
                     data={"login": "600030", "password": "bad",
                           "csrf_token": csrf_from(page.text)})
    with application.app_context():
        ips = [e.ip for e in db.session.query(AuditEvent).filter_by(event="login_failed")
               .order_by(AuditEvent.id)]
        assert ips == ["203.0.113.5", "1.2.3.4"]
        db.session.remove()
        db.drop_all()
        db.engine.dispose()


def test_a_lock_from_wrong_temporary_codes_is_lifted_by_the_agency(app, client, runner):
    """A wrong-code spree must not lock a customer out for good: the agency lifts it."""
    make_customer(runner, identifier="600040", password=None, email=None, verified=False)
    runner.invoke(args=["customers", "set-temporary-password", "--realm", REALM,
                        "--identifier", "600040", "--code", "246810"])
    set_brute_force(app, failure_factor=1000, temporary_code_max_failures=3)
    for _ in range(3):
        login(client, "600040", "000000")
    assert login(client, "600040", "246810").status_code == 401
    with app.app_context():
        assert customer_of("600040").locked_permanently
        assert [e.detail for e in events("account_locked")] == [{"permanent": True}]
    result = runner.invoke(args=["customers", "unlock", "--realm", REALM,
                                 "--identifier", "600040"])
    assert result.exit_code == 0
    assert login(client, "600040", "246810").status_code == 302


def test_a_lock_is_lifted_by_a_verified_email_reset(app, client, customer):
    from idp.core import journey, links
    from idp.core.realms import find_realm

    with app.app_context():
        c = customer_of(customer)
        c.locked_permanently = True
        realm = find_realm(REALM)
        raw = links.issue(c, links.RESET_PASSWORD, c.email, realm.settings)
        db.session.commit()
        found = links.lookup(raw, realm.id)
        assert journey.reset_password(app.extensions["idp.settings"], realm, found.token, c,
                                      "Reset-2026!abc")
    assert login(client, customer, "Reset-2026!abc").status_code == 302


# --- secrets at rest ------------------------------------------------------------------------

def test_signing_keys_and_provider_secrets_are_stored_encrypted(app):
    """Before: ``private_jwk`` and ``IdentityProvider.client_secret`` were plaintext: a
    database dump signed tokens and spoke for the realm at Google."""
    from tests.support.realms import import_realm

    with app.app_context():
        import_realm({"realm": REALM, "identity_providers": [{
            "alias": "google", "client_id": "g-id", "client_secret": "g-secret-value"}]})
        for row in db.session.query(SigningKey):
            assert set(row.private_jwk) == {"enc"} and '"d"' not in json_text(row.private_jwk)
        provider = db.session.query(IdentityProvider).one()
        assert provider.client_secret.startswith("enc1:")
        assert "g-secret-value" not in provider.client_secret
        assert crypto.decrypt(provider.client_secret) == "g-secret-value"
        _kid, key = keys.signing_key(provider.realm_id, "RS256")
        assert key.as_dict(private=True)["d"]


def json_text(value) -> str:
    import json

    return json.dumps(value)


def test_plaintext_rows_are_read_then_sealed_and_rotation_reseals(app, runner):
    """Rows from before encryption are still read; ``idp keys reencrypt`` seals them;
    a new key first in IDP_DATA_KEY and another run re-seal everything with it."""
    with app.app_context():
        row = db.session.query(SigningKey).first()
        row.private_jwk = keys.private_jwk(row)  # back to plaintext, as before the fix
        db.session.commit()
        keys.clear_cache()
        assert keys.signing_key(row.realm_id, row.alg)
    result = runner.invoke(args=["keys", "reencrypt", "--json"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert all(set(r.private_jwk) == {"enc"} for r in db.session.query(SigningKey))
        old = crypto.current_key_id()
        new_key = crypto.generate_key()
        crypto.configure(f"{new_key},{crypto.generate_key()}", "unused")
        assert keys.reencrypt_all()["signing_keys"] == db.session.query(SigningKey).count()
        db.session.commit()
        sealed = {crypto.sealed_with(r.private_jwk["enc"]) for r in db.session.query(SigningKey)}
        assert sealed == {crypto.current_key_id()} and old not in sealed
        assert keys.reencrypt_all() == {"signing_keys": 0, "identity_providers": 0}


def test_production_needs_a_data_key(idp_config):
    with pytest.raises(crypto.DataKeyError):
        crypto.configure(None, "secret", production=True)
    with pytest.raises(crypto.DataKeyError):
        crypto.configure("not-a-key", "secret")


def test_link_secret_in_the_path_stays_out_of_the_logs(app, client, caplog):
    """Emailed link secrets ride in URL paths (/action/<secret>): the access log masks
    them, on a matched route and on a mangled one."""
    secret = "S3cr3t" + "x" * 30
    with caplog.at_level(logging.INFO):
        client.get(f"/realms/{REALM}/action/{secret}")
        client.get(f"/realms/{REALM}/action/{secret}/extra/bits")
    assert caplog.records and secret not in caplog.text
